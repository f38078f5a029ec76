"""A laptop as a platform: the sticky comment, the dispatches and the issues are files under ``.mlops/``.

Nothing is posted anywhere: ``.mlops/comments/<model>.md`` is the comment, ``.mlops/dispatches/*.json``
records what a CI platform would have started, and ``.mlops/issues/<key>.md`` is the issue of a key.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops_actions.errors import MlopsError
from mlops_actions.platforms.base import ChangeRequest, Dispatch, Issue, Links
from mlops_actions.platforms.comments import KEY_PATTERN, CommentResult

STATE_LINE = re.compile(r"^state: (open|closed)$", re.MULTILINE)


class LocalPlatform:
    """Files under ``state_dir`` (default ``.mlops``) instead of a CI platform's API."""

    name = "local"

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        state_dir: str | Path = ".mlops",
        comment_dir: str | Path | None = None,
        echo: bool = True,
    ):
        self.env = dict(os.environ if env is None else env)
        self.state_dir = Path(state_dir)
        self.comment_dir = Path(comment_dir) if comment_dir is not None else self.state_dir / "comments"
        self.echo = echo

    def __repr__(self) -> str:
        return f"LocalPlatform(state_dir={str(self.state_dir)!r})"

    @staticmethod
    def detect(env: Mapping[str, str]) -> bool:
        """Always: the platform of last resort."""
        return True

    @classmethod
    def from_environment(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        state_dir: str | Path = ".mlops",
        comment_dir: str | Path | None = None,
        echo: bool = True,
        **_other: Any,
    ) -> LocalPlatform:
        """Files under ``state_dir``; the comments in ``comment_dir``. Options of other platforms are ignored."""
        return cls(env, state_dir=state_dir, comment_dir=comment_dir, echo=echo)

    def change_request(self) -> ChangeRequest | None:
        """None: a laptop run is no pull request (MLOPS_PR_NUMBER names one for the release's labels)."""
        return None

    def change_request_labels(self, number: int) -> tuple[str, ...] | None:
        return None

    def branch(self) -> str | None:
        return None

    def links(self, paths: Mapping[str, str] | None = None) -> Links:
        return Links()

    @property
    def forge(self) -> Any:
        """The comment files (:class:`LocalForge`)."""
        from mlops_actions.platforms.local.comments import LocalForge

        return LocalForge(self.comment_dir, echo=self.echo)

    def post_sticky_comment(self, body: str, *, key: str) -> CommentResult:
        result: CommentResult = self.forge.post_sticky_comment(body, key=key)
        return result

    def publish_job_summary(
        self, result: Mapping[str, Any], markdown: str, paths: Mapping[str, str]
    ) -> dict[str, str]:
        return {}

    def write_outputs(self, outputs: Mapping[str, str], summary: str = "") -> None:
        """Nothing: the command prints what it did."""

    def fetch_candidate(self, model: str, tree: str, target: Path) -> tuple[Path | None, str]:
        return None, "no CI platform keeps a checked model here; pass the check's folder with --candidate"

    def dispatch(self, target: str, *, ref: str, inputs: Mapping[str, str]) -> Dispatch:
        """Write ``.mlops/dispatches/<time>-<target>.json``: what a CI platform would have started."""
        from mlops_actions.domain.model_io import write_json_atomic

        folder = self.state_dir / "dispatches"
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", target)[:80] or "dispatch"
        path = (
            folder
            / f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{time.time_ns() % 10**9:09d}-{safe}.json"
        )
        folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, {"target": target, "ref": ref, "inputs": dict(inputs)})
        return Dispatch(target=target, ref=ref, inputs=dict(inputs), location=str(path))

    # -- issues: one Markdown file per key -----------------------------------------------------------------

    def _issue_path(self, key: str) -> Path:
        scope, _, name = key.rpartition(":")  # "monitor:churn" -> issues/monitor--churn.md
        if not KEY_PATTERN.match(name) or (scope and not KEY_PATTERN.match(scope)):
            raise MlopsError(f"issue key: expected a name like 'churn-model', got {key[:70]!r}")
        return self.state_dir / "issues" / f"{scope + '--' if scope else ''}{name}.md"

    def _read(self, path: Path) -> Issue | None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        state = STATE_LINE.search(text)
        title = next((line[2:] for line in text.splitlines() if line.startswith("# ")), "")
        labels = next((line[8:] for line in text.splitlines() if line.startswith("labels: ")), "")
        return Issue(
            number=1,
            url=str(path),
            state=state.group(1) if state else "open",
            title=title,
            body=text,
            labels=tuple(label.strip() for label in labels.split(",") if label.strip()),
        )

    def find_issue(self, key: str) -> Issue | None:
        found = self._read(self._issue_path(key))
        return found if found is not None and found.state == "open" else None

    def open_issue(self, key: str, *, title: str, body: str, labels: tuple[str, ...] = ()) -> Issue:
        from mlops_actions.domain.model_io import write_text_atomic
        from mlops_actions.platforms.issues import issue_marker

        path = self._issue_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        head = [issue_marker(key), f"# {title}", "", "state: open"]
        if labels:
            head.append(f"labels: {', '.join(labels)}")
        write_text_atomic(path, "\n".join([*head, "", body.rstrip("\n"), ""]))
        return Issue(number=1, url=str(path), state="open", title=title)

    def close_issue(self, issue: Issue, *, comment: str = "") -> Issue:
        from mlops_actions.domain.model_io import write_text_atomic

        path = Path(issue.url)
        text = STATE_LINE.sub("state: closed", path.read_text(encoding="utf-8"), count=1)
        if comment:
            text = text.rstrip("\n") + f"\n\n---\n\n{comment.rstrip()}\n"
        write_text_atomic(path, text)
        return Issue(number=issue.number, url=issue.url, state="closed", title=issue.title)

    def comment_on_issue(self, issue: Issue, body: str) -> None:
        """Append ``body`` to the issue's file, below a rule."""
        from mlops_actions.domain.model_io import write_text_atomic

        path = Path(issue.url)
        text = path.read_text(encoding="utf-8").rstrip("\n") + f"\n\n---\n\n{body.rstrip()}\n"
        write_text_atomic(path, text)
