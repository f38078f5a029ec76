"""What a CI platform offers the stages: the ``Platform`` protocol and the values it hands over.

A platform is detected once, in the CLI layer, from the environment (or forced with ``--platform``); the
stages receive it and read no CI environment variable themselves. Each built-in platform lives in its own
folder (``platforms/github``, ``platforms/gitlab``, ``platforms/local``) whose ``__init__`` exposes
``PLATFORM``: a class with ``name``, ``detect(env)`` and ``from_environment(env, **options)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlops_actions.platforms.comments import CommentResult


@dataclass(frozen=True)
class ChangeRequest:
    """The pull request (GitHub) or merge request (GitLab) a job runs for."""

    number: int
    title: str = ""
    labels: tuple[str, ...] = ()
    base_ref: str | None = None  # the target branch name, e.g. "main"
    head_ref: str | None = None  # the source branch name
    head_sha: str | None = None
    from_fork: bool = False
    author: str | None = None  # who opened it / triggered the run (e.g. "dependabot[bot]")
    can_write: bool = False  # whether this job's token may write a comment on it
    read_only_reason: str = ""  # why not, when can_write is False (said in the job log)


@dataclass(frozen=True)
class Links:
    """Where a reader finds the run: known before anything is rendered."""

    run_url: str | None = None  # the workflow run or pipeline
    job_url: str | None = None  # this job
    artifacts: Mapping[str, str] = field(default_factory=dict)  # kind (e.g. "html_report") -> URL

    def as_dict(self) -> dict[str, str]:
        """The links a result's ``links`` object holds (``run_url``, ``html_report``...), empty ones left out."""
        links = {"run_url": self.job_url or self.run_url or ""}  # the job holds the reports
        links.update(self.artifacts)
        return {name: url for name, url in links.items() if url}


@dataclass(frozen=True)
class Issue:
    """An issue the platform keeps, e.g. the monitor's one issue per model."""

    number: int
    url: str
    state: str  # "open" | "closed"
    title: str = ""
    body: str = field(default="", compare=False)  # as the platform holds it, marker included
    labels: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Dispatch:
    """A workflow (GitHub) or pipeline (GitLab) started on request."""

    target: str  # workflow file or pipeline ref
    ref: str
    inputs: Mapping[str, str] = field(default_factory=dict)
    location: str = ""  # URL or description


class Platform(Protocol):
    """One CI platform as the stages see it."""

    name: str  # "github", "gitlab", "local"...

    def change_request(self) -> ChangeRequest | None:
        """The pull/merge request this job runs for; None outside one (a push, a tag, a laptop)."""
        ...

    def change_request_labels(self, number: int) -> tuple[str, ...] | None:
        """The labels of change request ``number`` (e.g. the one a release's commit merged); None when the
        platform cannot tell."""
        ...

    def links(self, paths: Mapping[str, str] | None = None) -> Links:
        """The run and job links, and links to output files (``paths``: kind -> local path) among the
        job's artifacts where the platform can tell them."""
        ...

    def branch(self) -> str | None:
        """The branch this job runs on (the pushed branch, or the change request's source branch)."""
        ...

    def post_sticky_comment(self, body: str, *, key: str) -> CommentResult:
        """Create or update the one comment for ``key`` on the change request (or its local stand-in);
        action ``skipped`` when there is nowhere to post it (no change request)."""
        ...

    def publish_job_summary(
        self, result: Mapping[str, Any], markdown: str, paths: Mapping[str, str]
    ) -> dict[str, str]:
        """Show the outcome in the job: summary, annotations, job reports and step outputs; returns the
        outputs written (name -> value). A platform without a job page does nothing."""
        ...

    def write_outputs(self, outputs: Mapping[str, str], summary: str = "") -> None:
        """Named outputs of the step (e.g. the released version) and lines for the job summary; a platform
        without them does nothing."""
        ...

    def fetch_candidate(self, model: str, tree: str, target: Path) -> tuple[Path | None, str]:
        """The model folder a passing check of ``model`` at git tree ``tree`` left for the release, fetched
        into ``target``; (None, why) when there is none to promote."""
        ...

    def dispatch(self, target: str, *, ref: str, inputs: Mapping[str, str]) -> Dispatch:
        """Start the workflow or pipeline ``target`` on ``ref`` with ``inputs``."""
        ...

    def find_issue(self, key: str) -> Issue | None:
        """The open issue carrying the marker for ``key``, if any."""
        ...

    def open_issue(self, key: str, *, title: str, body: str, labels: tuple[str, ...] = ()) -> Issue:
        """Open the issue for ``key`` (its body carries the marker), or update the open one in place."""
        ...

    def close_issue(self, issue: Issue, *, comment: str = "") -> Issue:
        """Close ``issue``, after posting ``comment`` on it when given."""
        ...

    def comment_on_issue(self, issue: Issue, body: str) -> None:
        """Post ``body`` as a comment on the open ``issue``."""
        ...


@dataclass(frozen=True)
class CommentDecision:
    """Whether the job posts the sticky comment itself, and why (said in the job log)."""

    post: bool
    reason: str
