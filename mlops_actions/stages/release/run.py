"""The release stage as one sequence of named steps (see the package's docstring for what each step decides)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_actions.domain.config import load_config
from mlops_actions.domain.model_io import path_errors
from mlops_actions.errors import MlopsError
from mlops_actions.progress import Progress
from mlops_actions.registry import PRODUCTION, ModelVersion, Registry, open_registry
from mlops_actions.stages.records import record_stage, release_record, utc_timestamp
from mlops_actions.stages.release.bump import choose_release_bump
from mlops_actions.stages.release.candidate import CANDIDATE_SOURCES, release_candidate
from mlops_actions.stages.release.checkout import clean_checkout
from mlops_actions.stages.release.ci_context import platform_of, run_url
from mlops_actions.stages.release.claim import publish_next_version, version_of_commit
from mlops_actions.stages.release.completion import complete_release
from mlops_actions.stages.release.outcome import ReleaseOutcome
from mlops_actions.stages.release.publication import _stage_release, release_lineage

if TYPE_CHECKING:
    from mlops_actions.domain.config import Config
    from mlops_actions.platforms.base import Platform


def run_release(
    config_path: str | Path,
    output_dir: str | Path,
    *,
    bump: str | None = None,
    candidate_dir: str | Path | None = None,
    candidate_source: str = "folder",
    env: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    platform: Platform | None = None,
) -> ReleaseOutcome:
    """Gate HEAD's model against production, publish it as the next ``<model>@v<semver>``, move ``production``.

    The model checked for the pull request is promoted when :func:`promotable_candidate` allows. It comes
    from ``candidate_source``: ``folder`` (``candidate_dir``, default ``output_dir`` itself, where a
    previous ``check`` wrote), ``github-artifact`` (the PR workflow's artifact for HEAD's tree, see
    :mod:`mlops_actions.platforms.github.artifacts`) or ``none`` (always train). A commit released already is not
    released again: its version is verified and completed (see :func:`complete_release`). Each step runs
    under ``progress`` (silent by default); a trained candidate's steps are the check's. ``platform`` tells
    the branch, the merged pull request's labels, the candidate artifact and the run's link (default:
    detected from ``env``, which otherwise gives only MLOPS_BUMP, MLOPS_PR_NUMBER and MLOPS_PR_LABELS). The
    release, or the completion of an earlier one, is recorded in the metadata store; a release stopped by an
    error publishes nothing and records nothing.
    """
    started, started_at = time.monotonic(), utc_timestamp()
    env = os.environ if env is None else env
    platform = platform_of(platform, env)
    progress = Progress.silent() if progress is None else progress
    _refuse_unknown_candidate_source(candidate_source)
    with progress.step("loading config"):
        config = load_config(config_path)
    checkout = clean_checkout(config, platform)
    repo, commit = checkout.repo, checkout.commit
    registry = open_registry(config)
    with progress.step("resolving production"):
        released = version_of_commit(registry, commit)
        production = registry.resolve(PRODUCTION) if released is None else None
    if released is not None:
        completed = _complete_earlier_release(registry, released, repo, config.model_name, progress)
        return _recorded(config, completed, started_at, time.monotonic() - started, platform)

    output_dir = _created_output_folder(Path(output_dir))
    chosen = choose_release_bump(repo, env, bump, platform)
    candidate = release_candidate(
        config_path,
        config,
        output_dir,
        checkout,
        production,
        source=candidate_source,
        candidate_dir=candidate_dir,
        env=env,
        platform=platform,
        progress=progress,
    )
    lineage = release_lineage(config, checkout, chosen, candidate, run_url=run_url(platform))
    with progress.step("staging release"):
        staged = _stage_release(config, output_dir, candidate, lineage)
    with progress.step("publishing") as step:
        published, created, claim_notes = publish_next_version(
            registry, staged, repo=repo, commit=commit, model=config.model_name, bump=chosen.bump
        )
        step.done(f"{published.tag} {'published' if created else 'already published'}")
    with progress.step("moving production"):
        final, moved, finish_notes = complete_release(registry, published, repo, config.model_name)
    outcome = ReleaseOutcome(
        version=final,
        created=created,
        result=candidate.result,
        source=candidate.source if created else "existing",
        production_moved=moved,
        notes=(*candidate.notes, *claim_notes, *finish_notes),
        lineage=lineage,
    )
    return _recorded(config, outcome, started_at, time.monotonic() - started, platform)


def _recorded(
    config: Config, outcome: ReleaseOutcome, started_at: str, duration_s: float, platform: Platform
) -> ReleaseOutcome:
    """``outcome``, once recorded in the metadata store (a write that fails is said on stderr by the store;
    the release stands)."""
    record_stage(
        config,
        release_record(outcome, started_at=started_at, duration_s=duration_s, run_url=run_url(platform)),
    )
    return outcome


def _refuse_unknown_candidate_source(candidate_source: str) -> None:
    if candidate_source not in CANDIDATE_SOURCES:
        raise MlopsError(
            f"--candidate-source: expected one of {', '.join(CANDIDATE_SOURCES)}, got {candidate_source!r}"
        )


def _created_output_folder(output_dir: Path) -> Path:
    """``output_dir`` made absolute (against the working directory) and created."""
    if not output_dir.is_absolute():
        output_dir = Path.cwd() / output_dir
    with path_errors(output_dir, "create the output folder"):
        output_dir.mkdir(parents=True, exist_ok=True)
    return output_dir


def _complete_earlier_release(
    registry: Registry, released: ModelVersion, repo: Path, model: str, progress: Progress
) -> ReleaseOutcome:
    """A commit released already: its version verified and completed, nothing published again."""
    with progress.step("completing release"):
        final, moved, repaired = complete_release(registry, released, repo, model)
    return ReleaseOutcome(
        version=final, created=False, result=None, production_moved=moved, notes=tuple(repaired)
    )
