"""Which part of the version a release bumps: ``--bump``/MLOPS_BUMP, the commit's trailer, a pull request label."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_actions.domain.lineage import git
from mlops_actions.domain.semver import BUMPS
from mlops_actions.errors import MlopsError
from mlops_actions.stages.release.ci_context import pr_labels, pr_number_of

if TYPE_CHECKING:
    from mlops_actions.platforms.base import Platform

BUMP_TRAILER = "Release-Bump"
AS_THE_COMMIT_SAYS = "commit"  # --bump commit: what the commit (trailer, merged pull request) says
LABEL_PREFIX = "release:"


@dataclass(frozen=True)
class BumpChoice:
    """The bump of a release and where it came from, with the merged pull request it was read from."""

    bump: str
    origin: str
    pull_request: int | None
    labels: list[str] | None


def choose_release_bump(
    repo: Path, env: Mapping[str, str], explicit: str | None, platform: Platform | None = None
) -> BumpChoice:
    """The bump for HEAD (see :func:`choose_bump`), with the merged pull request and its labels it considered."""
    pr_number = pr_number_of(repo, env)
    labels = pr_labels(pr_number, env, platform)
    return BumpChoice(*choose_bump(repo, env, explicit, labels), pull_request=pr_number, labels=labels)


def bump_from_commit(repo: Path, env: Mapping[str, str]) -> str:
    """major/minor/patch from MLOPS_BUMP or the HEAD commit's ``Release-Bump:`` trailer; minor by default."""
    return choose_bump(repo, env, None, None)[0]


def choose_bump(
    repo: Path, env: Mapping[str, str], explicit: str | None, labels: list[str] | None
) -> tuple[str, str]:
    """(bump, where it came from): --bump/MLOPS_BUMP, the ``Release-Bump:`` trailer, a PR label, else minor."""
    chosen = (explicit or env.get("MLOPS_BUMP", "")).strip().lower()
    if chosen == AS_THE_COMMIT_SAYS:  # --bump commit: the trailer, then the label, then minor
        chosen = ""
    origin = "--bump / MLOPS_BUMP"
    if not chosen:
        message = git(["log", "-1", "--format=%B"], repo, check=False)
        match = re.search(rf"^{BUMP_TRAILER}:\s*(\S+)\s*$", message, flags=re.MULTILINE | re.IGNORECASE)
        if match:
            chosen, origin = match.group(1).lower(), f"the commit's {BUMP_TRAILER} trailer"
    if chosen and chosen not in BUMPS:
        raise MlopsError(f"release bump {chosen!r} ({origin}) is not one of {', '.join(BUMPS)}")
    if not chosen and labels:
        picked = sorted(
            {label[len(LABEL_PREFIX) :].lower() for label in labels if label.lower().startswith(LABEL_PREFIX)}
        )
        picked = [p for p in picked if p in BUMPS]
        if len(picked) > 1:
            raise MlopsError(
                f"release: the pull request has several bump labels ({', '.join(LABEL_PREFIX + p for p in picked)}); "
                "keep one"
            )
        if picked:
            chosen, origin = picked[0], f"the pull request label {LABEL_PREFIX}{picked[0]}"
    if not chosen:
        chosen, origin = "minor", "the default"
    return chosen, origin
