"""What a release publishes with the model: the release lineage, the model card, the result, the data profile,
the smoke rows with the model's answers (for the deploy's smoke test) and the eval set's outputs (for the
monitor), written to the output folder before a version is claimed."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_actions.domain.config import Config
from mlops_actions.domain.model_io import METADATA_FILE, path_errors, write_json_atomic, write_text_atomic
from mlops_actions.monitoring.performance import EVAL_OUTPUTS_FILE
from mlops_actions.stages.deploy.smoke import SMOKE_FILE
from mlops_actions.stages.release.bump import BumpChoice
from mlops_actions.stages.release.candidate import RESULT_FILE, Candidate
from mlops_actions.stages.release.checkout import Checkout, tree_of

CARD_FILE = "model-card.md"
PROFILE_FILE = "data-profile.json"


@dataclass(frozen=True)
class StagedRelease:
    """The files a release publishes, written to the output folder before a version is claimed."""

    model_dir: Path
    card: Path
    extra_files: dict[str, Path]
    result: dict[str, Any]
    lineage: dict[str, Any]


def _config_digest(config: Config) -> str:
    return "sha256:" + hashlib.sha256(config.path.read_bytes()).hexdigest()


def release_lineage(
    config: Config, checkout: Checkout, bump: BumpChoice, candidate: Candidate, *, run_url: str | None
) -> dict[str, Any]:
    """Where the release comes from: commit, branch, pull request, bump (and why), model source, baseline, config."""
    repo, commit = checkout.repo, checkout.commit
    baseline = candidate.result.get("baseline") or {}
    return {
        "commit": commit,
        "tree": tree_of(repo, commit),
        "branch": checkout.branch,
        "pull_request": bump.pull_request,
        "pull_request_labels": bump.labels,
        "bump": bump.bump,
        "bump_from": bump.origin,
        "model_source": candidate.source,
        "model_source_reason": candidate.reason,
        "baseline": {
            "source": baseline.get("source"),
            "version": (baseline.get("model") or {}).get("version"),
        },
        "config": {
            "path": config.path.relative_to(repo).as_posix()
            if config.path.is_relative_to(repo)
            else config.path.name,
            "sha256": _config_digest(config),
            "content": config.raw,
        },
        "run_url": run_url,
    }


def _write_profile(config: Config, target: Path) -> None:
    from mlops_actions.domain.data.profile import build_profile, profile_to_dict

    profile = build_profile(config.train_data)
    document = profile_to_dict(profile)
    write_text_atomic(target, json.dumps(document, allow_nan=False) + "\n")


def _smoke_files(config: Config, model_dir: Path, output_dir: Path) -> dict[str, Path]:
    """The released model's answers on eval rows: ``smoke.json`` (eval rows and the answers, for the
    deploy's smoke test) and ``eval-outputs.json`` (for the monitor). Both run the project's code."""
    from mlops_actions.stages.deploy.smoke import record_smoke

    target = output_dir / SMOKE_FILE
    write_text_atomic(target, json.dumps(record_smoke(config, model_dir), allow_nan=False) + "\n")
    return {SMOKE_FILE: target, **_eval_output_files(config, model_dir, output_dir)}


def _eval_output_files(config: Config, model_dir: Path, output_dir: Path) -> dict[str, Path]:
    """``eval-outputs.json``: the released model's outputs on the eval rows (their profile, score histograms,
    metrics and calibration), the monitor's release-time reference for predictions and performance."""
    from mlops_actions.domain.data.io import read_table
    from mlops_actions.domain.evaluation import score_model
    from mlops_actions.monitoring.performance import build_eval_outputs

    if config.eval_data is not None:
        frame, source = read_table(config.eval_data), str(config.eval_data)
    else:
        from mlops_actions.domain.datasets import load_datasets

        frame, source = load_datasets(config).eval, f"{config.train_data} (eval split)"
    scored = score_model(model_dir, frame, config, source=source)
    outputs = build_eval_outputs(
        scored.task,
        scored.classes,
        scored.y_true,
        scored.predictions,
        config.metrics,
        resamples=config.resamples,
        seed=config.seed,
    )
    target = output_dir / EVAL_OUTPUTS_FILE
    write_text_atomic(target, json.dumps(outputs.to_dict(), allow_nan=False) + "\n")
    return {EVAL_OUTPUTS_FILE: target}


def _stage_model(source: Path, target: Path, release: dict[str, Any]) -> None:
    """Copy the model folder to ``target`` (unless it is already there) with the release lineage in its metadata."""
    from mlops_actions.domain.model_io import read_model_metadata

    if source.resolve() != target.resolve():
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target)
    metadata = read_model_metadata(target)
    git_info = dict(metadata.get("git") or {})
    if git_info.get("commit") != release["commit"]:  # promoted: built at another commit with the same tree
        release = {**release, "built_at_commit": git_info.get("commit")}
        git_info.update(commit=release["commit"], branch=release.get("branch"))
    metadata["git"] = git_info
    metadata["release"] = release
    write_json_atomic(target / METADATA_FILE, metadata)


def _stage_release(
    config: Config, output_dir: Path, candidate: Candidate, lineage: dict[str, Any]
) -> StagedRelease:
    """Write the candidate's model (with the release lineage), result and data profile to the output folder."""
    from mlops_actions.domain.model_io import read_model_metadata

    model_source, result_source = candidate.model_dir, candidate.result_file

    with path_errors(output_dir, "write the release files"):
        lineage["libraries"] = read_model_metadata(model_source).get("libraries") or {}
        staged_model = output_dir / "release-model"
        _stage_model(model_source, staged_model, lineage)
        staged_result = output_dir / RESULT_FILE
        if result_source.resolve() != staged_result.resolve():
            shutil.copyfile(result_source, staged_result)
        profile = output_dir / PROFILE_FILE
        _write_profile(config, profile)
    # Every release records its smoke case: a later deploy (of this or a rolled-back-to version) checks the
    # served answers against it, whatever target the deploy config names then.
    extra_files = {RESULT_FILE: staged_result, PROFILE_FILE: profile}
    extra_files.update(_smoke_files(config, staged_model, output_dir))
    card = output_dir / CARD_FILE
    return StagedRelease(
        model_dir=staged_model,
        card=card,
        extra_files={CARD_FILE: card, **extra_files},
        result=candidate.result,
        lineage=lineage,
    )
