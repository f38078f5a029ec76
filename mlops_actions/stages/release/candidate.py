"""The model a release publishes: the pull request's checked model when it may be promoted, else one trained now."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.domain.config import Config
from mlops_actions.domain.lineage import library_versions
from mlops_actions.domain.model_io import METADATA_FILE, MODEL_FILE
from mlops_actions.errors import GateFailed, MlopsError
from mlops_actions.progress import Progress
from mlops_actions.registry import ModelVersion
from mlops_actions.stages.release.checkout import Checkout, tree_of
from mlops_actions.stages.release.ci_context import fetch_candidate_artifact

if TYPE_CHECKING:
    from mlops_actions.platforms.base import Platform

from mlops_actions.render.result import RESULT_FILE

MODEL_DIR = "model"
PR_CANDIDATE_DIR = "pr-candidate"
CANDIDATE_SOURCES = ("folder", "github-artifact", "none")
# Libraries whose versions must match for a model built elsewhere to be promoted as it is.
PROMOTION_LIBRARIES = ("scikit-learn", "skops", "numpy", "python")


@dataclass(frozen=True)
class Candidate:
    """The model chosen for the release, with its check result and why it was chosen."""

    result: dict[str, Any]
    model_dir: Path
    result_file: Path
    source: str  # promoted | trained
    reason: str  # why the checked model was promoted, or why it was not
    notes: tuple[str, ...] = ()


def _current_fingerprints(config: Config) -> dict[str, str]:
    from mlops_actions.domain.data.io import file_sha256

    files = {"train": config.train_data}
    if config.eval_data is not None:
        files["eval"] = config.eval_data
    return {role: file_sha256(path) for role, path in files.items() if Path(path).is_file()}


def promotable_candidate(
    candidate: Path, config: Config, repo: Path, head: str, production: ModelVersion | None
) -> tuple[Path | None, str]:
    """The check output folder's model when it may be released as it is: (output folder, why) or (None, why not).

    It must be provably what training now would judge: a passing result, trained on a clean tree equal to
    HEAD's (same code and config), on data files with the same sha256, with the same library versions,
    and gated against the production version the registry holds now (or none, when there is none).
    Before any of that, the model is loaded with this (the release's) config's trust, narrowed by its
    metadata: a model that does not load so is refused with a ModelError, never promoted nor retrained.
    """
    from mlops_actions.domain.model_io import load_model, read_model_metadata, verify_digest
    from mlops_actions.domain.trust import Trust

    result_path = candidate / RESULT_FILE
    model_dir = candidate / MODEL_DIR
    if not result_path.is_file() or not (model_dir / METADATA_FILE).is_file():
        return None, f"{candidate} holds no checked model"
    try:
        result = json.loads(result_path.read_text(encoding="utf-8"))
        metadata = read_model_metadata(model_dir)
        verify_digest(model_dir / MODEL_FILE, metadata.get("model_digest"))
    except (MlopsError, ValueError, OSError) as error:
        return None, f"the checked model in {candidate} is unusable ({str(error).splitlines()[0][:160]})"
    load_model(
        model_dir / MODEL_FILE,
        expected_digest=metadata["model_digest"],
        trust=Trust.from_config(config).narrowed(metadata.get("trusted_types"), model_dir / METADATA_FILE),
        import_root=config.root,
    )
    if result.get("verdict") != "pass":
        return None, "the pull request's check did not pass"
    if metadata.get("model_name") != config.model_name:
        return None, f"the checked model is {metadata.get('model_name')!r}, not {config.model_name!r}"
    git_info = metadata.get("git") or {}
    if git_info.get("dirty") is not False:
        return None, "the checked model was trained on a modified working tree"
    built = str(git_info.get("commit") or "")
    head_tree = tree_of(repo, head)
    tree = git_info.get("tree") or (tree_of(repo, built) if built else None)
    if built != head and (tree is None or tree != head_tree):
        return (
            None,
            f"the checked commit {built[:12] or '?'} is not HEAD and its tree differs (or is not in this clone)",
        )
    built_data = {role: fp.get("sha256") for role, fp in (metadata.get("data") or {}).items()}
    if built_data != _current_fingerprints(config):
        return None, "the data files changed since the check (sha256 differs)"
    libraries, now = metadata.get("libraries") or {}, library_versions()
    changed = [name for name in PROMOTION_LIBRARIES if libraries.get(name) != now.get(name)]
    if changed:
        return None, f"library versions differ from the check's ({', '.join(changed)})"
    baseline = result.get("baseline") or {}
    gated_against = (
        (baseline.get("model") or {}).get("version") if baseline.get("source") == "registry" else None
    )
    if production is not None and gated_against != production.version:
        return None, f"the check was not gated against the current production version {production.version}"
    return candidate, f"the checked model of commit {built[:12]} has HEAD's tree, the same data and libraries"


def fetch_github_candidate(
    config: Config, repo: Path, commit: str, target: Path, platform: Platform
) -> tuple[Path | None, str]:
    """The platform's copy of the model checked on HEAD's tree (GitHub: the PR workflow's artifact): (folder,
    where from) or (None, why not)."""
    tree = tree_of(repo, commit)
    if tree is None:
        return None, f"no tree for {commit[:12]}"
    shutil.rmtree(target, ignore_errors=True)
    try:
        return fetch_candidate_artifact(config.model_name, tree, target, platform)
    except MlopsError as error:
        return None, f"the pull request's checked model could not be fetched: {str(error).splitlines()[0]}"


def artifact_platform(source: str, platform: Platform, env: Mapping[str, str]) -> Platform:
    """The platform whose artifact ``--candidate-source <name>-artifact`` names: the one the job runs on
    when it is that one, else that platform built from ``env`` (an explicit choice, like ``--forge``)."""
    wanted = source.removesuffix("-artifact")
    if source == wanted or wanted == platform.name:
        return platform
    from mlops_actions.platforms import detect_platform

    return detect_platform(env, wanted)


def candidate_to_promote(
    source: str,
    candidate_dir: str | Path | None,
    output_dir: Path,
    config: Config,
    repo: Path,
    commit: str,
    production: ModelVersion | None,
    platform: Platform,
) -> tuple[Path | None, str, list[str]]:
    """(the check folder to promote or None, why, notes for the log) for ``--candidate-source``; ``platform``
    holds the artifact (see :func:`artifact_platform`)."""
    if source == "none":
        return None, "promotion is off (--candidate-source none)", []
    if source == "folder":
        candidate = Path(candidate_dir) if candidate_dir is not None else output_dir
        return (*promotable_candidate(candidate, config, repo, commit, production), [])
    fetched, origin = fetch_github_candidate(config, repo, commit, output_dir / PR_CANDIDATE_DIR, platform)
    if fetched is None:
        return None, origin, [f"trained anew: {origin}"]
    try:
        promoted, why = promotable_candidate(fetched, config, repo, commit, production)
    except MlopsError:  # refused: keep nothing of the artifact
        shutil.rmtree(fetched, ignore_errors=True)
        raise
    if promoted is None:
        return None, why, [f"trained anew: the model of {origin} is not promoted: {why}"]
    return promoted, f"{why} ({origin})", []


def release_candidate(
    config_path: str | Path,
    config: Config,
    output_dir: Path,
    checkout: Checkout,
    production: ModelVersion | None,
    *,
    source: str,
    candidate_dir: str | Path | None,
    env: Mapping[str, str],
    platform: Platform,
    progress: Progress,
) -> Candidate:
    """The checked model of ``source`` when :func:`promotable_candidate` allows, else a model trained and gated
    now in ``output_dir`` (GateFailed when it does not pass)."""
    repo, commit = checkout.repo, checkout.commit
    with progress.step("choosing candidate"):
        holder = artifact_platform(source, platform, env)
        promoted, why, notes = candidate_to_promote(
            source, candidate_dir, output_dir, config, repo, commit, production, holder
        )
    if promoted is not None:
        result = json.loads((promoted / RESULT_FILE).read_text(encoding="utf-8"))
        return Candidate(result, promoted / MODEL_DIR, promoted / RESULT_FILE, "promoted", why, tuple(notes))
    from mlops_actions.stages.check import run_check

    check = run_check(
        config_path,
        output_dir,
        baseline_source="registry",  # with no production version yet, the check says so
        env=env,
        progress=progress,
        platform=platform,
        record=False,  # the release records itself
    )
    if not check.passed:
        raise GateFailed("release gate failed: " + "; ".join(check.result["reasons"]))
    return Candidate(
        check.result, Path(check.paths["model"]), Path(check.paths["result"]), "trained", why, tuple(notes)
    )
