"""What the release asks of the CI run it is in: the merged pull request, its labels, the pull request's
checked-model artifact, the run's link and the branch.

The CI platform answers (the stage receives it); the environment gives only this project's own
MLOPS_PR_NUMBER and MLOPS_PR_LABELS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_actions.domain.lineage import git
from mlops_actions.errors import MlopsError

if TYPE_CHECKING:
    from mlops_actions.platforms.base import Platform

MERGE_PATTERNS = (
    re.compile(r"^Merge pull request #([1-9][0-9]{0,9}) from "),  # GitHub merge commit
    re.compile(r"\(#([1-9][0-9]{0,9})\)\s*$"),  # GitHub squash merge: "Title (#12)"
)
GITLAB_MERGE_PATTERN = re.compile(r"^See merge request \S+!([1-9][0-9]{0,9})\s*$", re.MULTILINE)


def pr_number_of(repo: Path, env: Mapping[str, str]) -> int | None:
    """The pull (merge) request the HEAD commit came from: MLOPS_PR_NUMBER, else the merge commit's message."""
    given = env.get("MLOPS_PR_NUMBER", "").strip()
    if given:
        if not re.fullmatch(r"[1-9][0-9]{0,9}", given):
            raise MlopsError(f"MLOPS_PR_NUMBER: expected a positive integer, got {given[:20]!r}")
        return int(given)
    message = git(["log", "-1", "--format=%B"], repo, check=False)
    first = message.splitlines()[0] if message else ""
    for pattern in MERGE_PATTERNS:
        match = pattern.search(first)
        if match:
            return int(match.group(1))
    match = GITLAB_MERGE_PATTERN.search(message)
    return int(match.group(1)) if match else None


def pr_labels(
    pr_number: int | None, env: Mapping[str, str], platform: Platform | None = None
) -> list[str] | None:
    """The merged pull request's labels: MLOPS_PR_LABELS (comma-separated), else the platform's (default:
    detected from ``env``); None when neither can tell."""
    if "MLOPS_PR_LABELS" in env:
        return [label.strip() for label in env["MLOPS_PR_LABELS"].split(",") if label.strip()]
    if pr_number is None:
        return None
    platform = platform_of(platform, env)
    try:
        labels = platform.change_request_labels(pr_number)
    except MlopsError as error:
        raise MlopsError(f"release: cannot read the labels of pull request #{pr_number}: {error}") from None
    return None if labels is None else list(labels)


def fetch_candidate_artifact(
    model: str, tree: str, target: Path, platform: Platform
) -> tuple[Path | None, str]:
    """The model a passing check of ``model`` at git tree ``tree`` left on the platform (GitHub: the PR
    workflow's artifact), fetched into ``target``: (folder, where from) or (None, why not)."""
    return platform.fetch_candidate(model, tree, target)


def run_url(platform: Platform) -> str | None:
    """The link to the run (GitHub) or job (GitLab) doing the release; None where there is none."""
    return platform.links().as_dict().get("run_url")


def ci_branch(platform: Platform) -> str | None:
    """The branch the platform says the job runs on (for a detached checkout, where git cannot tell)."""
    return platform.branch()


def platform_of(platform: Platform | None, env: Mapping[str, str]) -> Platform:
    """The platform given, else the one detected in ``env`` (library callers and tests)."""
    if platform is not None:
        return platform
    from mlops_actions.platforms import detect_platform

    return detect_platform(env)
