"""The one issue per key (e.g. the monitor's issue of a model), kept the way the sticky comment is.

An issue carries a hidden marker naming its key as the first line of its body (:func:`issue_marker`); only
an open issue written by this token's own identity counts, so a marker anyone typed elsewhere is ignored.
A create whose outcome is unknown is not repeated blindly: the open issues are listed again first.
An update sets labels only when asked to: a wanted label ``scope:value`` replaces the issue's other labels of
that scope (e.g. ``severity:high`` replaces ``severity:low``), and labels someone else added stay.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from mlops_actions.errors import ForgeError
from mlops_actions.platforms.base import Issue
from mlops_actions.platforms.rest_client import ApiError, as_forge_errors

ISSUE_MARKER_PREFIX = "<!-- mlops-actions:issue "


def issue_marker(key: str) -> str:
    """The hidden marker that identifies the one issue of ``key``."""
    return f"{ISSUE_MARKER_PREFIX}{key} -->"


def with_issue_marker(body: str, key: str) -> str:
    """The body with the issue marker as its first line (added once)."""
    marker = issue_marker(key)
    return body if body.startswith(marker) else f"{marker}\n{body}"


@dataclass(frozen=True)
class TrackedIssue:
    """An open issue as the tracker lists it."""

    issue: Issue
    body: str
    author: str  # compared with the token's own identity


class IssueTracker(Protocol):
    """The issues of one repository or project, through one platform's API."""

    service: str  # named in messages, e.g. "GitHub API"

    @property
    def max_attempts(self) -> int: ...

    def open_issues(self, key: str) -> list[TrackedIssue]:
        """The open issues that may carry the marker of ``key`` (oldest first)."""
        ...

    def own_identity(self) -> str: ...

    def create(self, *, title: str, body: str, labels: tuple[str, ...]) -> Issue:
        """Create an issue (not retried: an ApiError when refused or when the outcome is unknown)."""
        ...

    def update(self, issue: Issue, *, title: str, body: str, labels: tuple[str, ...] | None = None) -> Issue:
        """Replace the title and body (and the labels, when given)."""
        ...

    def comment(self, issue: Issue, body: str) -> None: ...

    def close(self, issue: Issue) -> Issue: ...

    def is_retryable(self, error: ApiError) -> bool: ...

    def pause(self, attempt: int, wait: float) -> None: ...


def find_own_issue(tracker: IssueTracker, key: str) -> Issue | None:
    """The oldest open issue whose body starts with the marker of ``key`` and that this token wrote."""
    marker = issue_marker(key)
    marked = [item for item in tracker.open_issues(key) if item.body.startswith(marker)]
    if not marked:
        return None
    me = tracker.own_identity()
    own = [item for item in marked if item.author == me]
    return replace(own[0].issue, body=own[0].body) if own else None


def merged_labels(current: tuple[str, ...], wanted: tuple[str, ...]) -> tuple[str, ...] | None:
    """The labels an issue should carry: ``current`` with ``wanted`` added, a wanted ``scope:value``
    replacing the current labels of its scope; None when nothing changes (or nothing is wanted)."""
    scopes = {label.split(":", 1)[0] + ":" for label in wanted if ":" in label}
    kept = [label for label in current if not any(label.startswith(scope) for scope in scopes)]
    merged = tuple(dict.fromkeys([*kept, *wanted]))
    return None if not wanted or set(merged) == set(current) else merged


def upsert_issue(
    tracker: IssueTracker, key: str, *, title: str, body: str, labels: tuple[str, ...] = ()
) -> Issue:
    """Update our open issue of ``key`` in place, or open it; a failed create is re-checked before a retry."""
    text = with_issue_marker(body, key)
    last = ""
    for attempt in range(1, tracker.max_attempts + 1):
        existing = find_own_issue(tracker, key)
        if existing is not None:
            return tracker.update(
                existing, title=title, body=text, labels=merged_labels(existing.labels, labels)
            )
        try:
            return tracker.create(title=title, body=text, labels=labels)
        except ApiError as error:
            if not tracker.is_retryable(error):
                raise
            last = str(error)
            if attempt < tracker.max_attempts:
                tracker.pause(attempt, error.wait)
    raise ForgeError(f"{tracker.service}: giving up after {tracker.max_attempts} attempts: {last}")


def close_tracked_issue(tracker: IssueTracker, issue: Issue, *, comment: str = "") -> Issue:
    """Post ``comment`` on ``issue`` (when given), then close it."""
    if comment:
        tracker.comment(issue, comment)
    return tracker.close(issue)


class TrackedIssues:
    """``find_issue``, ``open_issue`` and ``close_issue`` of a platform, through its :meth:`issue_tracker`."""

    def issue_tracker(self) -> IssueTracker:
        """The issues of the platform's repository or project."""
        raise NotImplementedError

    def find_issue(self, key: str) -> Issue | None:
        """The open issue of ``key`` that this token wrote, if any."""
        with as_forge_errors("issue"):
            return find_own_issue(self.issue_tracker(), key)

    def open_issue(self, key: str, *, title: str, body: str, labels: tuple[str, ...] = ()) -> Issue:
        """Open the issue of ``key``, or update ours in place."""
        with as_forge_errors("issue"):
            return upsert_issue(self.issue_tracker(), key, title=title, body=body, labels=labels)

    def close_issue(self, issue: Issue, *, comment: str = "") -> Issue:
        """Close ``issue``, after posting ``comment`` on it when given."""
        with as_forge_errors("issue"):
            return close_tracked_issue(self.issue_tracker(), issue, comment=comment)

    def comment_on_issue(self, issue: Issue, body: str) -> None:
        """Post ``body`` as a comment on ``issue``."""
        with as_forge_errors("issue comment"):
            self.issue_tracker().comment(issue, body)
