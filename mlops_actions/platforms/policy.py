"""Who posts the sticky comment: the one decision behind ``--forge auto``.

A pull request from this repository gets a token that may write, so its job posts the comment. A pull
request from a fork, or a run started by Dependabot, gets a read-only token: the job uploads the result and
the ``workflow_run`` workflow (mlops-pr-comment.yml) posts it from the artifact. On GitLab a note needs a
token of its own (MLOPS_GITLAB_TOKEN): without one the job says so and posts nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_actions.platforms.base import CommentDecision

if TYPE_CHECKING:
    from mlops_actions.platforms.base import Platform


def comment_decision(platform: Platform, requested: str = "auto", *, named: bool = False) -> CommentDecision:
    """Whether this job posts the sticky comment itself, and why.

    ``requested`` is the ``--forge`` choice: ``none`` never posts, a platform's name always does (the
    caller asked for it), and ``auto`` asks the platform: on a change request the job posts only when its
    token may write there; outside one the platform's own comment decides (a file locally, else skipped). ``named``: the change request was named
    explicitly (``--pr``, the comment workflow's artifact), so its job has the token to post.
    """
    if requested == "none":
        return CommentDecision(False, "--forge none: the comment is not posted")
    if requested != "auto":
        return CommentDecision(True, f"--forge {requested}")
    if named:
        return CommentDecision(True, "the change request was named explicitly")
    change = platform.change_request()
    if change is None:  # the platform says where a comment goes without one (a file, or nowhere)
        return CommentDecision(True, f"no change request: the {platform.name} platform's own comment")
    if change.can_write:
        return CommentDecision(True, f"this job's token may write on #{change.number}")
    why = change.read_only_reason or "this job's token may not write on it"
    return CommentDecision(False, f"#{change.number}: {why}")
