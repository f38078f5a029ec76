"""What every forge (local, GitHub, GitLab) offers the stages, and the one sticky-comment algorithm."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from mlops_actions.errors import ForgeError
from mlops_actions.platforms.rest_client import ApiError

MARKER_PREFIX = "<!-- mlops-actions:sticky "
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")  # a model name: the key of its sticky comment


def sticky_marker(key: str) -> str:
    """The hidden marker that identifies the one sticky comment of a model (key) on a PR/MR."""
    return f"{MARKER_PREFIX}{key} -->"


def check_sticky_key(key: str, *, what: str = "sticky comment") -> None:
    """A ForgeError unless ``key`` is a model name, the only thing a marker may carry."""
    if not KEY_PATTERN.match(key):
        raise ForgeError(f"{what} key: expected a model name like 'churn-model', got {key[:70]!r}")


def with_marker(body: str, key: str) -> str:
    """The body with the sticky marker as its first line (added once)."""
    marker = sticky_marker(key)
    return body if body.startswith(marker) else f"{marker}\n{body}"


@dataclass(frozen=True)
class CommentResult:
    """Where the sticky comment went and whether it was created or updated in place."""

    action: str  # "created" | "updated" | "skipped"
    location: str  # URL, API id or file path
    detail: str = ""


class Forge(Protocol):
    """A place to post the sticky PR/MR comment (and, later, releases, issues and dispatches)."""

    name: str

    def post_sticky_comment(self, body: str, *, key: str) -> CommentResult:
        """Create the comment carrying the marker for ``key``, or update it in place."""
        ...


@dataclass(frozen=True)
class ThreadComment:
    """A comment (GitHub) or note (GitLab) of a pull/merge request, as the sticky comment needs it."""

    id: int
    body: str
    author: str  # a login (GitHub) or a user id (GitLab): compared with the token's own identity
    location: str  # URL or description, reported to the user


class CommentThread(Protocol):
    """The comments of one pull/merge request, through one forge's API."""

    service: str  # named in messages, e.g. "GitHub API"

    @property
    def max_attempts(self) -> int:
        """How many times a create may be tried."""
        ...

    def comments(self) -> list[ThreadComment]:
        """Every user comment (system notes left out), oldest first."""
        ...

    def own_identity(self) -> str:
        """The author of what this token writes (asked once per forge)."""
        ...

    def create(self, text: str) -> ThreadComment:
        """Create a comment; an ApiError with the status when refused or when the outcome is unknown."""
        ...

    def update(self, comment: ThreadComment, text: str) -> ThreadComment:
        """Replace the body of ``comment``."""
        ...

    def delete(self, comment: ThreadComment) -> None:
        """Delete ``comment``; one already gone is fine."""
        ...

    def is_retryable(self, error: ApiError) -> bool:
        """Whether a failed create may be tried again (after checking that it did not take effect)."""
        ...

    def pause(self, attempt: int, wait: float) -> None:
        """Sleep before attempt ``attempt + 1``."""
        ...


def own_sticky_comments(thread: CommentThread, key: str) -> list[ThreadComment]:
    """The comments whose first line is the marker for ``key`` and whose author is this token's identity.

    A marker is a line anyone can type: on another author's comment it is ignored, never edited or deleted.
    """
    marker = sticky_marker(key)
    marked = [comment for comment in thread.comments() if comment.body.startswith(marker)]
    if not marked:
        return []
    me = thread.own_identity()
    return [comment for comment in marked if comment.author == me]


def post_sticky(thread: CommentThread, text: str, *, key: str) -> CommentResult:
    """Create our sticky comment for ``key`` (``text`` carries its marker), or edit ours in place.

    A create whose outcome is unknown (5xx, time-out, unreadable answer) is not blindly repeated: the
    comments are listed again first, and one that reached the forge is kept. After a create the comments
    are listed again, so that a job racing this one leaves one comment, the oldest of ours, not two.
    """
    last = ""
    create_failed = False  # a create that failed may still have reached the forge
    for attempt in range(1, thread.max_attempts + 1):
        existing = own_sticky_comments(thread, key)
        if existing:
            kept, removed = _keep_one(thread, existing, text)
            action = (
                "created" if create_failed and len(existing) == 1 and existing[0].body == text else "updated"
            )
            return _result(action, kept, removed)
        try:
            created = thread.create(text)
        except ApiError as error:
            if not thread.is_retryable(error):
                raise
            last, create_failed = str(error), True
            if attempt < thread.max_attempts:
                thread.pause(attempt, error.wait)
            continue
        existing = own_sticky_comments(thread, key)
        if all(comment.id != created.id for comment in existing):
            existing = sorted([*existing, created], key=lambda comment: comment.id)
        kept, removed = _keep_one(thread, existing, text)
        return _result("created" if kept.id == created.id else "updated", kept, removed)
    raise ForgeError(f"{thread.service}: giving up after {thread.max_attempts} attempts: {last}")


def _keep_one(thread: CommentThread, existing: list[ThreadComment], text: str) -> tuple[ThreadComment, int]:
    """Edit the oldest of our sticky comments to ``text`` and delete our others; (the kept one, deleted)."""
    keep = existing[0]
    kept = keep if keep.body == text else thread.update(keep, text)
    for duplicate in existing[1:]:
        thread.delete(duplicate)
    return kept, len(existing) - 1


def _result(action: str, kept: ThreadComment, removed: int) -> CommentResult:
    return CommentResult(
        action=action, location=kept.location, detail=f"removed {removed} duplicate(s)" if removed else ""
    )
