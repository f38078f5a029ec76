"""The folder forge: a CI platform whose change requests, comments, job pages, dispatches and issues are
files in one folder. It is the worked example of adding a platform: written against
``mlops_actions.platforms.base`` (and the shared sticky-comment algorithm) alone, loaded with
``--platform tests.platforms.folder_forge:FolderForge``, and no file of the package knows it.

Its environment (what a job of this CI would be given):

``FOLDERCI``              ``true`` inside a job (what ``detect`` looks at)
``FOLDERCI_HOME``         the forge's folder (default ``.folderci`` in the working directory)
``FOLDERCI_SERVER_URL``   where its web pages are served (default ``https://folderci.example.invalid``)
``FOLDERCI_RUN_ID``       this run (default ``1``); ``FOLDERCI_JOB`` this job (default ``check``)
``FOLDERCI_BRANCH``       the branch the job runs on
``FOLDERCI_PR_NUMBER``    the change request, when the job runs for one, with ``FOLDERCI_PR_TITLE``,
                          ``FOLDERCI_PR_LABELS`` (comma-separated), ``FOLDERCI_BASE_BRANCH``,
                          ``FOLDERCI_HEAD_BRANCH``, ``FOLDERCI_HEAD_SHA``, ``FOLDERCI_PR_AUTHOR``,
                          ``FOLDERCI_PR_FROM_FORK`` (``true``/``false``)
``FOLDERCI_USER``         who this job's token writes as (default ``folderci-bot``)
``FOLDERCI_READ_ONLY``    ``true`` when this job's token may not write

Its folder::

    changes/<number>/comments/<NNNN>-<author>.md   the thread of change request <number>, oldest first
    runs/<run>/<job>/summary.md                    the job page: the report, then one line per annotation
    runs/<run>/<job>/outputs.env                   the job's outputs (NAME=value)
    dispatches/<NNNN>.json                         every workflow started on request
    issues/<number>.json                           issues, with their marker, state and comments
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mlops_actions.platforms.base import ChangeRequest, Dispatch, Issue, Links
from mlops_actions.platforms.comments import (
    CommentResult,
    ThreadComment,
    post_sticky,
    sticky_marker,
    with_marker,
)

if TYPE_CHECKING:
    from mlops_actions.platforms.rest_client import ApiError

DEFAULT_SERVER = "https://folderci.example.invalid"
DEFAULT_USER = "folderci-bot"
_COMMENT_FILE = re.compile(r"^(\d{4,})-(.+)\.md$")


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)


def _next_number(folder: Path, pattern: str) -> int:
    numbers = [int(match.group(1)) for p in folder.glob("*") if (match := re.match(pattern, p.name))]
    return max(numbers, default=0) + 1


class FolderThread:
    """The comments of one change request as files: the ``CommentThread`` the shared sticky algorithm
    (``post_sticky``) drives, so the marker and ownership rules are the package's, not redone here."""

    service = "folder forge"
    max_attempts = 1

    def __init__(self, folder: Path, user: str):
        self.folder = folder
        self.user = user

    def comments(self) -> list[ThreadComment]:
        found = []
        for path in sorted(self.folder.glob("*.md")):
            match = _COMMENT_FILE.match(path.name)
            if match:
                body = path.read_text(encoding="utf-8")
                found.append(ThreadComment(int(match.group(1)), body, match.group(2), str(path)))
        return found

    def own_identity(self) -> str:
        return self.user

    def create(self, text: str) -> ThreadComment:
        number = _next_number(self.folder, r"^(\d{4,})-")
        path = self.folder / f"{number:04d}-{self.user}.md"
        _write(path, text)
        return ThreadComment(number, text, self.user, str(path))

    def update(self, comment: ThreadComment, text: str) -> ThreadComment:
        _write(Path(comment.location), text)
        return ThreadComment(comment.id, text, comment.author, comment.location)

    def delete(self, comment: ThreadComment) -> None:
        Path(comment.location).unlink(missing_ok=True)

    def is_retryable(self, error: ApiError) -> bool:
        return False

    def pause(self, attempt: int, wait: float) -> None:
        return None


class FolderForge:
    """A CI platform kept in a folder; see the module's docstring for its environment and layout."""

    name = "folderci"

    def __init__(self, env: Mapping[str, str], *, home: str | Path | None = None):
        self.env = dict(env)
        self.home = Path(home or self.env.get("FOLDERCI_HOME") or ".folderci").resolve()
        self.server = (self.env.get("FOLDERCI_SERVER_URL") or DEFAULT_SERVER).rstrip("/")
        self.run_id = self.env.get("FOLDERCI_RUN_ID") or "1"
        self.job = self.env.get("FOLDERCI_JOB") or "check"
        self.user = self.env.get("FOLDERCI_USER") or DEFAULT_USER

    # How the CLI finds and builds a platform class.

    @classmethod
    def detect(cls, env: Mapping[str, str]) -> bool:
        """Whether this environment is a job of the folder forge."""
        return env.get("FOLDERCI") == "true"

    @classmethod
    def from_environment(cls, env: Mapping[str, str], **options: Any) -> FolderForge:
        """The folder forge of this job; options meant for other platforms are ignored."""
        return cls(env)

    # The Platform protocol.

    def change_request(self) -> ChangeRequest | None:
        number = self.env.get("FOLDERCI_PR_NUMBER", "").strip()
        if not number.isdigit():
            return None
        from_fork = _flag(self.env.get("FOLDERCI_PR_FROM_FORK"))
        read_only = "a fork's job gets a read-only token" if from_fork else ""
        if _flag(self.env.get("FOLDERCI_READ_ONLY")):
            read_only = "FOLDERCI_READ_ONLY: this job's token may not write"
        labels = tuple(
            label.strip() for label in self.env.get("FOLDERCI_PR_LABELS", "").split(",") if label.strip()
        )
        return ChangeRequest(
            number=int(number),
            title=self.env.get("FOLDERCI_PR_TITLE", ""),
            labels=labels,
            base_ref=self.env.get("FOLDERCI_BASE_BRANCH") or None,
            head_ref=self.env.get("FOLDERCI_HEAD_BRANCH") or None,
            head_sha=self.env.get("FOLDERCI_HEAD_SHA") or None,
            from_fork=from_fork,
            author=self.env.get("FOLDERCI_PR_AUTHOR") or None,
            can_write=not read_only,
            read_only_reason=read_only,
        )

    def links(self, paths: Mapping[str, str] | None = None) -> Links:
        run_url = f"{self.server}/runs/{quote(self.run_id)}"
        job_url = f"{run_url}/jobs/{quote(self.job)}"
        artifacts = {}
        html = (paths or {}).get("html")
        if html:
            artifacts["html_report"] = f"{job_url}/files/{quote(Path(html).name)}"
        return Links(run_url=run_url, job_url=job_url, artifacts=artifacts)

    def branch(self) -> str | None:
        return self.env.get("FOLDERCI_BRANCH") or self.env.get("FOLDERCI_HEAD_BRANCH") or None

    def post_sticky_comment(self, body: str, *, key: str) -> CommentResult:
        change = self.change_request()
        if change is None:
            return CommentResult("skipped", str(self.home), "this job runs for no change request")
        thread = FolderThread(self.home / "changes" / str(change.number) / "comments", self.user)
        return post_sticky(thread, with_marker(body, key), key=key)

    def publish_job_summary(
        self, result: Mapping[str, Any], markdown: str, paths: Mapping[str, str]
    ) -> dict[str, str]:
        folder = self.home / "runs" / self.run_id / self.job
        annotations = [f"::{result.get('verdict', '')}:: {reason}" for reason in result.get("reasons") or []]
        _write(folder / "summary.md", "\n".join([markdown.rstrip(), "", *annotations]) + "\n")
        outputs = {"verdict": str(result.get("verdict", "")), "result": paths.get("result", "")}
        _write(folder / "outputs.env", "".join(f"{name}={value}\n" for name, value in outputs.items()))
        return outputs

    def fetch_candidate(self, model: str, tree: str, target: Path) -> tuple[Path | None, str]:
        return None, "the folder forge keeps no artifacts between runs"

    def dispatch(self, target: str, *, ref: str, inputs: Mapping[str, str]) -> Dispatch:
        folder = self.home / "dispatches"
        number = _next_number(folder, r"^(\d{4,})\.json$")
        path = folder / f"{number:04d}.json"
        _write(path, json.dumps({"target": target, "ref": ref, "inputs": dict(inputs)}, indent=2))
        return Dispatch(target=target, ref=ref, inputs=dict(inputs), location=str(path))

    def find_issue(self, key: str) -> Issue | None:
        marker = sticky_marker(key)
        for path in sorted((self.home / "issues").glob("*.json")):
            issue = json.loads(path.read_text(encoding="utf-8"))
            if issue["state"] == "open" and issue["body"].startswith(marker):
                return self._issue(path, issue)
        return None

    def open_issue(self, key: str, *, title: str, body: str, labels: tuple[str, ...] = ()) -> Issue:
        folder = self.home / "issues"
        found = self.find_issue(key)
        number = found.number if found else _next_number(folder, r"^(\d+)\.json$")
        path = folder / f"{number}.json"
        issue = json.loads(path.read_text(encoding="utf-8")) if found else {"comments": []}
        issue.update(
            {"title": title, "body": with_marker(body, key), "labels": list(labels), "state": "open"}
        )
        _write(path, json.dumps(issue, indent=2))
        return self._issue(path, issue)

    def close_issue(self, issue: Issue, *, comment: str = "") -> Issue:
        path = self.home / "issues" / f"{issue.number}.json"
        stored = json.loads(path.read_text(encoding="utf-8"))
        if comment:
            stored["comments"].append(comment)
        stored["state"] = "closed"
        _write(path, json.dumps(stored, indent=2))
        return self._issue(path, stored)

    def comment_on_issue(self, issue: Issue, body: str) -> None:
        path = self.home / "issues" / f"{issue.number}.json"
        stored = json.loads(path.read_text(encoding="utf-8"))
        stored["comments"].append(body)
        _write(path, json.dumps(stored, indent=2))

    def _issue(self, path: Path, issue: Mapping[str, Any]) -> Issue:
        number = int(path.stem)
        return Issue(number, f"{self.server}/issues/{number}", issue["state"], issue["title"])
