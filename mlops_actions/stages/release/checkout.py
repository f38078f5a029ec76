"""The git checkout a release is made from: a clean tree at a commit, on a branch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_actions.domain.config import Config
from mlops_actions.domain.lineage import git, git_state
from mlops_actions.errors import MlopsError
from mlops_actions.stages.release.ci_context import ci_branch

if TYPE_CHECKING:
    from mlops_actions.platforms.base import Platform


@dataclass(frozen=True)
class Checkout:
    """The repository root, its HEAD commit and the branch it is on (None when neither git nor the CI can tell)."""

    repo: Path
    commit: str
    branch: str | None


def clean_checkout(config: Config, platform: Platform) -> Checkout:
    """The project's git checkout; MlopsError outside a repository with a commit, or with a modified tree."""
    state = git_state(config.root)
    if state.root is None or state.commit is None:
        raise MlopsError(f"{config.root}: release needs a git repository with at least one commit")
    if state.dirty:
        raise MlopsError(f"{state.root}: release needs a clean working tree (commit or stash the changes)")
    return Checkout(Path(state.root), state.commit, state.branch or ci_branch(platform))


def tree_of(repo: Path, commit: str) -> str | None:
    """The git tree of ``commit``; None when the clone does not hold it."""
    return git(["rev-parse", "--verify", "--quiet", f"{commit}^{{tree}}"], repo, check=False) or None
