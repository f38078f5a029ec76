"""The verdict's consequences in the registry: which version a failed deploy rolls back to, and where the
``production`` alias points afterwards.

A passing version gets ``production`` by the release's own rule (under the registry's release lock, never
over a version released from a newer commit). A failed one hands ``production`` back to the version it rolls
back to, but only when ``production`` still names the failed version (a newer release that took it since keeps
it).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mlops_actions.registry import PRODUCTION, ModelVersion, Registry

DEPLOYED, ROLLED_BACK, FAILED = "deployed", "rolled_back", "failed"


def serving_version_of(record: Mapping[str, Any]) -> str | None:
    """The version a deploy record left serving: the deployed one, or the one a rollback went back to."""
    if record.get("outcome") == DEPLOYED:
        return str(record.get("version") or "") or None
    if record.get("outcome") == ROLLED_BACK:
        return str(record.get("previous") or "") or None
    return None


def previous_version(
    registry: Registry, failed: str, records: Iterable[Mapping[str, Any]]
) -> tuple[ModelVersion | None, str]:
    """The version to roll back to from ``failed``, and how it was chosen: the version the newest deploy
    record left serving (deployed, or rolled back to) other than ``failed``; else the one ``production``
    names when it is another; else none."""
    for record in sorted(records, key=lambda r: str(r.get("time", "")), reverse=True):
        serving = serving_version_of(record)
        if serving and serving != failed:
            found = registry.resolve(serving)
            if found is not None:
                return found, f"the last version deployed ({record.get('time')}, {record.get('outcome')})"
    current = registry.resolve(PRODUCTION)
    if current is not None and current.version != failed:
        return current, f"'{PRODUCTION}' names it (no deploy record of another version)"
    return None, "no deploy record of another version, and 'production' names no other version"


def repository_of(root: Path) -> Path:
    """The git work tree holding ``root`` (the release's rule compares commits there), else ``root``."""
    done = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, text=True, check=False
    )
    return Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else root


def promote(registry: Registry, version: ModelVersion, root: Path) -> tuple[bool, str | None]:
    """Point ``production`` at a version that passed, by the release's rule (see ``move_production``)."""
    from mlops_actions.stages.release.completion import move_production

    return move_production(registry, version, repository_of(root))


def hand_back_production(registry: Registry, failed: str, previous: str | None) -> tuple[bool, str]:
    """``production`` moved from ``failed`` back to ``previous`` when it still names ``failed`` (decided and
    set under the release lock); (moved, what happened)."""
    with registry.release_lock():
        current = registry.resolve(PRODUCTION)
        if current is None or current.version != failed:
            where = current.version if current is not None else "no version"
            return False, f"'{PRODUCTION}' stays at {where}"
        if previous is None:
            return (
                False,
                f"'{PRODUCTION}' still names {failed}: there is no previous version to hand it back to",
            )
        registry.set_alias(PRODUCTION, previous)
    return True, f"'{PRODUCTION}' moved back from {failed} to {previous}"
