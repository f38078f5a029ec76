"""What every forge (local, GitHub, GitLab) offers the stages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

MARKER_PREFIX = "<!-- mlops-actions:sticky "


def sticky_marker(key: str) -> str:
    """The hidden marker that identifies the one sticky comment of a model (key) on a PR/MR."""
    return f"{MARKER_PREFIX}{key} -->"


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
