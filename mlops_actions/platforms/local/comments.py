"""The local forge: the sticky comment is a file per model, overwritten in place, and printed."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from mlops_actions.platforms.comments import CommentResult, with_marker


class LocalForge:
    """Writes ``<directory>/<key>.md``; a second post for the same key replaces the file."""

    name = "local"

    def __init__(self, directory: str | Path, *, echo: bool = True):
        self.directory = Path(directory)
        self.echo = echo

    def post_sticky_comment(self, body: str, *, key: str) -> CommentResult:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"{key}.md"
        action = "updated" if target.exists() else "created"
        text = with_marker(body, key)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{key}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
        if self.echo:
            print(text, file=sys.stdout)
        return CommentResult(action=action, location=str(target))
