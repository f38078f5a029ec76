"""Claiming the next version: the one release that wins it publishes, a loser takes the next number, and a re-run
resumes the version an interrupted run of the same commit had claimed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops_actions.domain.lineage import git
from mlops_actions.domain.model_io import write_text_atomic
from mlops_actions.domain.semver import next_version, parse_version
from mlops_actions.errors import MlopsError, RegistryError
from mlops_actions.metadata.trends import release_trend
from mlops_actions.registry import ModelVersion, Registry
from mlops_actions.registry.base import ConcurrentRelease, VersionTaken
from mlops_actions.stages.release.publication import StagedRelease

MAX_CLAIM_ATTEMPTS = 5
CONCURRENT_WAIT_SECONDS = 120  # how long the loser of a race of one commit waits for the winner to publish
CONCURRENT_POLL_SECONDS = 2.0


def version_of_commit(registry: Registry, commit: str) -> ModelVersion | None:
    """The version the registry lists for ``commit``, if it was released."""
    return next((v for v in registry.list_versions() if v.commit == commit), None)


def _claimed_tag_at_head(repo: Path, model: str) -> str | None:
    """A version tag of this model already pointing at HEAD (left by an interrupted release)."""
    prefix = f"{model}@v"
    for tag in git(["tag", "--points-at", "HEAD"], repo, check=False).splitlines():
        if tag.startswith(prefix):
            try:
                parse_version(tag[len(prefix) :])
            except MlopsError:
                continue
            return tag[len(prefix) :]
    return None


def _is_taken(error: RegistryError, registry: Registry, version: str, commit: str) -> bool:
    if isinstance(error, VersionTaken):
        return True
    other = registry.resolve(version)
    return other is not None and other.commit != commit


def _wait_for_version_of(registry: Registry, commit: str, seconds: float) -> ModelVersion | None:
    """The version of ``commit`` a concurrent release is publishing, once it is listed (None after ``seconds``)."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        found = version_of_commit(registry, commit)
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(CONCURRENT_POLL_SECONDS)


def _metrics_of(result: Mapping[str, Any]) -> dict[str, Any]:
    return {
        row["name"]: {"value": row["candidate"], "ci_low": row["ci_low"], "ci_high": row["ci_high"]}
        for row in result["metrics"]
    }


def publish_next_version(
    registry: Registry, staged: StagedRelease, *, repo: Path, commit: str, model: str, bump: str
) -> tuple[ModelVersion, bool, list[str]]:
    """Claim the next free version and publish the staged files as it: (version, published by this run, notes).

    A version taken by another commit meanwhile makes this run take the next one; a version of this very
    commit published meanwhile by a concurrent run is returned instead of publishing a second one.
    """
    from mlops_actions.render.model_card import render_model_card

    notes: list[str] = []
    metrics = _metrics_of(staged.result)
    with registry.release_lock():
        listed = registry.list_versions()
        taken = [v.version for v in listed]
        # A version claimed by an interrupted run of this commit: the registry knows it, or its tag is at
        # HEAD in this clone (fetched from the forge, or left by the run); the claim step re-checks it.
        resume = registry.claimed_version(commit) or _claimed_tag_at_head(repo, model)
        for _attempt in range(MAX_CLAIM_ATTEMPTS):
            same = version_of_commit(registry, commit)
            if same is not None:
                return same, False, [*notes, f"a concurrent release of this commit published {same.tag}"]
            version = resume if resume and resume not in taken else next_version(taken, bump)
            resume = None
            trend = release_trend(
                listed,
                staged.result["model"].get("primary_metric") or "",
                version=version,
                result=staged.result,
            )
            write_text_atomic(
                staged.card,
                render_model_card(staged.result, version=version, lineage=staged.lineage, trend=trend),
            )
            try:
                published = registry.publish(
                    staged.model_dir, version=version, metrics=metrics, extra_files=staged.extra_files
                )
            except RegistryError as error:
                if _is_taken(error, registry, version, commit):
                    notes.append(
                        f"version {version} was claimed by a concurrent release; taking the next one"
                    )
                    taken.append(version)
                    continue
                waited = CONCURRENT_WAIT_SECONDS if isinstance(error, ConcurrentRelease) else 0
                same = _wait_for_version_of(registry, commit, waited)
                if same is None:
                    raise
                return same, False, [*notes, f"a concurrent release of this commit published {same.tag}"]
            if published.commit != commit:
                raise RegistryError(f"release: the registry returned {published.tag} of another commit")
            return published, True, notes
    raise RegistryError(
        f"release: no free version after {MAX_CLAIM_ATTEMPTS} attempts (claimed meanwhile: {', '.join(taken[-3:])})"
    )
