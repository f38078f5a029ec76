"""Forges: where comments, releases and issues go. Chosen from the environment or explicitly."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from mlops_actions.errors import MlopsError
from mlops_actions.platforms.comments import CommentResult, Forge, sticky_marker, with_marker

FORGES = ("auto", "local", "github", "gitlab", "none")

__all__ = [
    "FORGES",
    "CommentResult",
    "Forge",
    "detect_forge_name",
    "get_forge",
    "sticky_marker",
    "with_marker",
]


def detect_forge_name(env: Mapping[str, str] | None = None) -> str:
    """github when GITHUB_ACTIONS=true, gitlab when GITLAB_CI=true, else local."""
    env = os.environ if env is None else env
    if env.get("GITHUB_ACTIONS") == "true":
        return "github"
    if env.get("GITLAB_CI") == "true":
        return "gitlab"
    return "local"


def get_forge(name: str = "auto", *, local_dir: str | Path = ".mlops/comments", echo: bool = True) -> Forge:
    """The forge called ``name`` (``auto`` detects it from the environment)."""
    if name == "auto":
        name = detect_forge_name()
    if name == "local":
        from mlops_actions.platforms.local.comments import LocalForge

        return LocalForge(local_dir, echo=echo)
    if name == "github":
        from mlops_actions.platforms.github.comments import GitHubForge

        return GitHubForge.from_environment()
    if name == "gitlab":
        from mlops_actions.platforms.gitlab.comments import GitLabForge

        return GitLabForge.from_environment()
    raise MlopsError(f"forge: unknown forge {name!r}, expected one of {', '.join(FORGES)}")
