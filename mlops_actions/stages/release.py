"""The release stage: gate the production branch's model against production, claim a version, publish it."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_actions.config import load_config
from mlops_actions.errors import GateFailed, MlopsError, RegistryError
from mlops_actions.lineage import git, git_state
from mlops_actions.model_io import write_text_atomic
from mlops_actions.registry import PRODUCTION, ModelVersion, open_registry
from mlops_actions.semver import BUMPS, next_version, parse_version, version_tag

BUMP_TRAILER = "Release-Bump"


@dataclass(frozen=True)
class ReleaseOutcome:
    version: ModelVersion
    created: bool  # False when this commit was already released (a re-run)
    result: dict[str, Any] | None


def bump_from_commit(repo: Path, env: Mapping[str, str]) -> str:
    """major/minor/patch from MLOPS_BUMP or the HEAD commit's ``Release-Bump:`` trailer; minor by default."""
    chosen = env.get("MLOPS_BUMP", "").strip().lower()
    if not chosen:
        message = git(["log", "-1", "--format=%B"], repo, check=False)
        match = re.search(rf"^{BUMP_TRAILER}:\s*(\w+)\s*$", message, flags=re.MULTILINE | re.IGNORECASE)
        chosen = match.group(1).lower() if match else "minor"
    if chosen not in BUMPS:
        raise MlopsError(
            f"release bump {chosen!r} (MLOPS_BUMP or the {BUMP_TRAILER} trailer) is not one of {', '.join(BUMPS)}"
        )
    return chosen


def _claimed_tag_at_head(repo: Path, model: str) -> str | None:
    """A version tag of this model already pointing at HEAD (a re-run after a failure past the claim)."""
    prefix = f"{model}@v"
    for tag in git(["tag", "--points-at", "HEAD"], repo, check=False).splitlines():
        if tag.startswith(prefix):
            return tag[len(prefix) :]
    return None


def _claim_tag(repo: Path, tag: str) -> None:
    """Create the annotated tag: the one step that claims a version. Refused when the tag exists."""
    existing = git(["rev-parse", "--verify", "--quiet", f"refs/tags/{tag}"], repo, check=False)
    if existing:
        raise RegistryError(
            f"release: tag {tag} already exists on another commit; another release claimed it, re-run"
        )
    git(["tag", "-a", tag, "-m", f"Release {tag}", "HEAD"], repo)


def run_release(
    config_path: str | Path,
    output_dir: str | Path,
    *,
    bump: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ReleaseOutcome:
    """Train and gate HEAD against production, then tag ``<model>@v<semver>``, publish and move ``production``."""
    from mlops_actions.render.model_card import render_model_card
    from mlops_actions.stages.check import run_check

    env = os.environ if env is None else env
    config = load_config(config_path)
    state = git_state(config.root)
    if state.root is None or state.commit is None:
        raise MlopsError(f"{config.root}: release needs a git repository with at least one commit")
    if state.dirty:
        raise MlopsError(f"{state.root}: release needs a clean working tree (commit or stash the changes)")
    registry = open_registry(config)
    released = [v for v in registry.list_versions() if v.commit == state.commit]
    if released:
        return ReleaseOutcome(version=released[-1], created=False, result=None)

    output_dir = Path(output_dir)
    has_production = registry.resolve(PRODUCTION) is not None
    check = run_check(
        config_path, output_dir, baseline_source="registry" if has_production else "none", env=env
    )
    if not check.passed:
        raise GateFailed("release gate failed: " + "; ".join(check.result["reasons"]))

    repo = Path(state.root)
    version = _claimed_tag_at_head(repo, config.model_name)
    if version is None:
        chosen = bump or bump_from_commit(repo, env)
        version = next_version([v.version for v in registry.list_versions()], chosen)
        _claim_tag(repo, version_tag(config.model_name, version))
    parse_version(version)
    card = output_dir / "model-card.md"
    write_text_atomic(card, render_model_card(check.result, version=version))
    metrics = {
        row["name"]: {"value": row["candidate"], "ci_low": row["ci_low"], "ci_high": row["ci_high"]}
        for row in check.result["metrics"]
    }
    extra = {"model-card.md": card, "mlops-result.json": Path(check.paths["result"])}
    published = registry.publish(
        Path(check.paths["model"]), version=version, metrics=metrics, extra_files=extra
    )
    registry.set_alias(PRODUCTION, published.version)
    final = registry.resolve(published.version) or published
    return ReleaseOutcome(version=final, created=True, result=check.result)
