"""Making a published version whole: verified, tagged in the clone where the registry does not tag, and
``production`` moved unless a newer commit holds it. Each step checks before it acts, so a re-run repairs."""

from __future__ import annotations

from pathlib import Path

from mlops_actions.domain.lineage import git
from mlops_actions.domain.semver import parse_version, version_tag
from mlops_actions.errors import GitError
from mlops_actions.registry import PRODUCTION, ModelVersion, Registry


def _is_ancestor(repo: Path, older: str, newer: str) -> bool | None:
    """True/False when both commits are in the clone, None when ``older`` is unknown here."""
    if not git(["cat-file", "-t", f"{older}^{{commit}}"], repo, check=False):
        return None
    import subprocess

    done = subprocess.run(
        ["git", "merge-base", "--is-ancestor", older, newer], cwd=repo, capture_output=True, check=False
    )
    return done.returncode == 0


def _is_newer(repo: Path, other: ModelVersion, version: ModelVersion) -> bool:
    """Whether ``other`` was released from a newer commit than ``version``: a descendant of it in this clone,
    else (a commit this clone does not hold) one released later, the higher version breaking a tie."""
    if not other.commit or not version.commit or other.commit == version.commit:
        return False
    if git(["cat-file", "-t", f"{other.commit}^{{commit}}"], repo, check=False):
        return _is_ancestor(repo, version.commit, other.commit) is True
    return (other.created, parse_version(other.version)) > (version.created, parse_version(version.version))


def move_production(registry: Registry, version: ModelVersion, repo: Path) -> tuple[bool, str | None]:
    """Point ``production`` at ``version`` unless a newer commit was released, or ``production`` holds a version
    of a commit that is not an ancestor (decided and set under the registry's release lock).

    A commit this clone does not hold counts as newer: a run that was checked out before it was pushed
    (and overtaken by its release) must not take ``production`` back.
    """
    with registry.release_lock():
        current = registry.resolve(PRODUCTION)
        if current is not None and current.version == version.version:
            return False, None
        newer = [v for v in registry.list_versions() if _is_newer(repo, v, version)]
        if newer:
            latest = max(newer, key=lambda v: (v.created, parse_version(v.version)))
            return False, (
                f"'{PRODUCTION}' is not moved to {version.version}: {latest.version} was released from a newer commit "
                f"{str(latest.commit)[:12]}"
            )
        if current is not None and current.commit and version.commit and current.commit != version.commit:
            ancestor = _is_ancestor(repo, current.commit, version.commit)
            if ancestor is False:
                return False, (
                    f"'{PRODUCTION}' stays at {current.version}: its commit {current.commit[:12]} is not an "
                    f"ancestor of {version.commit[:12]} (a newer commit was released first)"
                )
            if ancestor is None:
                return False, (
                    f"'{PRODUCTION}' stays at {current.version}: its commit {current.commit[:12]} is not in this "
                    f"clone (a newer commit released by a run that overtook this one?); fetch it and re-run to decide"
                )
        registry.set_alias(PRODUCTION, version.version)
    return True, None


def _local_tag_commit(repo: Path, tag: str) -> str:
    return git(["rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}"], repo, check=False)


def _tag_locally(repo: Path, tag: str, commit: str) -> str | None:
    """Create the annotated tag in the local clone unless it is there; a note when a tag of that name is elsewhere."""
    existing = _local_tag_commit(repo, tag)
    if existing == commit:
        return None
    if existing:
        return f"local tag {tag} points at {existing[:12]}, not {commit[:12]}; left as it is"
    try:
        git(["tag", "-a", tag, "-m", f"Release {tag}", commit], repo)
    except GitError:
        if _local_tag_commit(repo, tag) != commit:  # not a concurrent run that tagged it first
            raise
    return None


def complete_release(
    registry: Registry, version: ModelVersion, repo: Path, model: str
) -> tuple[ModelVersion, bool, list[str]]:
    """Make a published version whole: verified in the registry (leftovers of an interrupted publish cleared),
    tagged in the clone where the registry does not tag, ``production`` moved when it should be.

    Each step checks before it acts, so running this again after a kill at any point repairs only what is
    missing. Returns (the version as the registry lists it now, whether ``production`` moved, notes).
    """
    notes = list(registry.verify_version(version))
    if not registry.creates_tags and version.commit:
        note = _tag_locally(repo, version_tag(model, version.version), version.commit)
        if note:
            notes.append(note)
    moved, note = move_production(registry, version, repo)
    if note:
        notes.append(note)
    return registry.resolve(version.version) or version, moved, notes
