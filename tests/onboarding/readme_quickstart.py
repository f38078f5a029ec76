"""The README's quick start as data: the fenced blocks whose info string carries the word ``quickstart``.

A block is either a command block (```` ```bash quickstart ````), run with ``bash -e`` in the project folder, or
a file block (```` ```python quickstart file=train.py ````), whose text is the whole content of that file,
relative to the project folder. The first word of the info string stays the language, so GitHub highlights the
blocks as usual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MARKER = "quickstart"
FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


class QuickstartError(ValueError):
    """The README's quick-start markers are malformed (the message names the line)."""


@dataclass(frozen=True)
class Block:
    """One quick-start block: a command block (``path is None``) or the content of the file at ``path``."""

    line: int  # 1-based line of the opening fence
    language: str
    text: str
    path: str | None = None

    @property
    def is_file(self) -> bool:
        return self.path is not None


def _checked_path(value: str, line: int) -> str:
    path = PurePosixPath(value)
    if not value or path.is_absolute() or ".." in path.parts:
        raise QuickstartError(f"README.md:{line}: file={value!r} must be a relative path inside the project")
    return value


def _block(info: str, text: str, line: int) -> Block | None:
    """The quick-start block a fence's info string describes, or None when it is not marked."""
    words = info.split()
    if MARKER not in words[1:]:
        return None
    language = words[0]
    path: str | None = None
    for word in words[1:]:
        if word == MARKER:
            continue
        key, sep, value = word.partition("=")
        if key != "file" or not sep:
            raise QuickstartError(
                f"README.md:{line}: unknown quick-start attribute {word!r}; expected file=PATH"
            )
        if path is not None:
            raise QuickstartError(
                f"README.md:{line}: a quick-start block names one file, got a second {word!r}"
            )
        path = _checked_path(value, line)
    if path is None and language != "bash":
        raise QuickstartError(
            f"README.md:{line}: a quick-start {language!r} block needs file=PATH (only bash blocks are run)"
        )
    return Block(line=line, language=language, text=text, path=path)


def quickstart_blocks(markdown: str) -> list[Block]:
    """Every quick-start block of a Markdown text, in document order."""
    blocks: list[Block] = []
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, info, start = opening["fence"], opening["info"].strip(), index
        index += 1
        body: list[str] = []
        while index < len(lines) and not (
            lines[index].startswith(fence[0] * len(fence)) and not lines[index].strip(fence[0]).strip()
        ):
            body.append(lines[index])
            index += 1
        if index == len(lines):
            if MARKER in info.split()[1:]:
                raise QuickstartError(f"README.md:{start + 1}: quick-start block is never closed")
            break
        index += 1
        block = _block(info, "\n".join(body) + "\n", start + 1) if info else None
        if block is not None:
            blocks.append(block)
    return blocks


def readme_quickstart(readme: Path) -> list[Block]:
    """The quick-start blocks of a README file."""
    return quickstart_blocks(readme.read_text(encoding="utf-8"))
