"""The PR stage: project tests, train, baseline, data checks, compare, gate, result file, reports, comment."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions import __version__
from mlops_actions.domain.changes import skipped_entries
from mlops_actions.domain.comparison import check_same_rows, compare
from mlops_actions.domain.config import Config, load_config
from mlops_actions.domain.cross_fit import (
    candidate_out_of_fold,
    evaluation_block,
    folds_text,
    plan_folds,
    pool_out_of_fold,
)
from mlops_actions.domain.evaluation import Scored, align_classes, evaluate, load_scored
from mlops_actions.domain.inference import cross_fit_inflation
from mlops_actions.domain.lineage import git_state, utc_now
from mlops_actions.domain.model_io import path_errors, write_json_atomic
from mlops_actions.domain.project_tests import run_project_tests
from mlops_actions.domain.secrets import current_scrubber
from mlops_actions.domain.training import train
from mlops_actions.domain.trust import Trust
from mlops_actions.errors import MlopsError
from mlops_actions.progress import Progress
from mlops_actions.render.result import RESULT_FILE
from mlops_actions.stages.baseline import (
    BaselineChoice,
    base_branch_trust,
    base_data_files,
    base_ref_candidates,
    fetch_target_branch,
    merge_base,
    resolve_baseline,
    retrain_and_score,
    retrain_folds_and_score,
    score_at_commit,
)
from mlops_actions.stages.preflight import preflight
from mlops_actions.stages.records import check_record, record_stage, utc_timestamp

if TYPE_CHECKING:
    from mlops_actions.platforms.base import Platform

MARKDOWN_FILE = "report.md"
HTML_FILE = "report.html"
MODEL_DIR = "model"


@dataclass(frozen=True)
class CheckOutcome:
    result: dict[str, Any]
    markdown: str
    paths: dict[str, str]
    error: MlopsError | None = None  # the error an ``error`` verdict reports

    @property
    def passed(self) -> bool:
        return self.result["verdict"] == "pass"


def _model_side(
    metadata: dict[str, Any], *, version: str | None = None, commit: str | None = None
) -> dict[str, Any]:
    git = metadata.get("git") or {}
    return {
        "commit": commit or git.get("commit"),
        "branch": git.get("branch"),
        "dirty": git.get("dirty"),
        "version": version,
        "model_digest": metadata.get("model_digest"),
        "data": {
            role: {k: fp[k] for k in ("path", "sha256", "bytes", "rows", "columns", "schema_hash") if k in fp}
            for role, fp in (metadata.get("data") or {}).items()
        },
        "train_seconds": metadata.get("train_seconds"),
    }


def _relative_paths(side: dict[str, Any], root: Path) -> None:
    """Data paths in the result are relative to the project, so the report leaks no runner paths."""
    for fp in side["data"].values():
        try:
            fp["path"] = Path(fp["path"]).resolve().relative_to(root).as_posix()
        except ValueError:
            fp["path"] = Path(fp["path"]).name


def _data_changed(candidate: dict[str, Any], baseline: dict[str, Any] | None) -> bool | None:
    if baseline is None or not baseline.get("data"):
        return None
    ours = {role: fp["sha256"] for role, fp in candidate["data"].items()}
    theirs = {role: fp["sha256"] for role, fp in baseline["data"].items()}
    return ours != theirs


def _run_data_checks(config: Config, base_commit: str | None, workdir: Path) -> dict[str, Any] | None:
    from mlops_actions.domain.data.checks import run_data_checks

    files = {"train": config.train_data}
    if config.eval_data is not None:
        files["eval"] = config.eval_data
    base_files = base_data_files(config, base_commit, workdir) if base_commit else None
    return run_data_checks(
        files=files,
        base_files=base_files,
        schema_path=config.schema_path,
        target=config.target,
        id_column=config.id_column,
        drift_thresholds=config.drift_thresholds or None,
        leakage_threshold=config.leakage_threshold,
        root=config.root,
    )


def _score_baseline(
    choice: BaselineChoice,
    config: Config,
    candidate: Scored,
    eval_frame: Any,
    eval_file: Path,
    workdir: Path,
    *,
    base_ref: str | None = None,
    target_branch: str | None = None,
) -> tuple[BaselineChoice, Scored | None]:
    """Score the baseline on the candidate's evaluation rows, in the candidate's class order.

    A registry version is loaded with the trust of the config that released it (the commit's own, else the
    target branch's), never with this pull request's, and checked against the digest of its manifest.
    """
    if choice.source == "registry" and choice.model_dir is not None:
        scored_dir = (
            score_at_commit(choice.commit, config, choice.model_dir, eval_file, workdir, choice.digest)
            if choice.commit
            else None
        )
        if isinstance(scored_dir, Path):
            return choice, align_classes(load_scored(scored_dir), candidate.classes)
        note = f"scored with the candidate's project code because {scored_dir or 'its commit is unknown'}"
        trust, where = base_branch_trust(config, base_ref, target_branch)
        if trust is None:
            trust = Trust.from_config(config)
            note += (
                f"; the target branch's config could not be read ({where}), so only the types both "
                f"{config.path.name} and the model's metadata list are trusted"
            )
        else:
            note += f", trusting the types of {where}"
        evaluation = evaluate(
            choice.model_dir,
            eval_frame,
            config,
            classes=candidate.classes,
            source="baseline scoring",
            trust=trust,
            expected_digest=choice.digest,
            digest_source=f"version {choice.version}'s manifest",
        )
        return replace(choice, reason=f"{choice.reason}; {note}"), evaluation.scored
    if choice.source == "retrain" and choice.commit:
        outcome = retrain_and_score(choice.commit, config, eval_file, workdir)
        if isinstance(outcome, str):
            return BaselineChoice(
                "none", f"{choice.reason}; but {outcome}; only absolute bounds are judged"
            ), None
        _model_dir, scored_dir = outcome
        return choice, align_classes(load_scored(scored_dir), candidate.classes)
    return choice, None


def _cross_fit_fallback(choice: BaselineChoice) -> str | None:
    """Why the baseline cannot be cross-fitted (only code retrained from the merge-base can), else None."""
    if choice.source == "registry":
        return (
            f"the baseline is the registry's version {choice.version}, a trained model whose code cannot be "
            f"retrained on the folds; compared on the eval rows (baseline.source retrain cross-fits it)"
        )
    if choice.source == "none":
        return "there is no baseline to cross-fit; judged on the eval rows"
    if not choice.commit:
        return "the baseline has no commit to retrain; compared on the eval rows"
    return None


def _cross_fitted(
    choice: BaselineChoice,
    config: Config,
    datasets: Any,
    candidate: Scored,
    workdir: Path,
    progress: Progress,
) -> tuple[BaselineChoice, tuple[Scored, Scored] | None, str | None]:
    """Out-of-fold predictions of the candidate's and the merge-base's code over every train + eval row, in
    each of ``config.repeats`` repetitions stacked, same folds for both: (choice, (candidate, baseline) or
    None, why not cross-fitted or None)."""
    fallback = _cross_fit_fallback(choice)
    if fallback is not None:
        return choice, None, fallback
    assert choice.commit is not None
    plan = plan_folds(datasets, config, workdir / "folds")
    if isinstance(plan, str):
        return choice, None, f"{plan}; compared on the eval rows"
    with progress.step("cross-fitting candidate") as step:
        oof_candidate = candidate_out_of_fold(config, plan, candidate.classes, workdir / "cross-fit")
        step.done(f"{folds_text(config)}, {oof_candidate.rows} paired rows")
    with progress.step("cross-fitting merge-base") as step:
        outcome = retrain_folds_and_score(choice.commit, config, plan, workdir / "cross-fit-base")
        if isinstance(outcome, str):
            return (
                BaselineChoice("none", f"{choice.reason}; but {outcome}; only absolute bounds are judged"),
                None,
                "there is no baseline to cross-fit; judged on the eval rows",
            )
        parts = [align_classes(load_scored(folder), candidate.classes) for folder in outcome]
        oof_baseline = pool_out_of_fold(plan, parts, config)
        step.done(folds_text(config))
    check_same_rows(oof_candidate, oof_baseline)
    metadata = dict(oof_baseline.metadata)
    seconds = [part.metadata.get("train_seconds") for part in parts]
    timed = [float(v) for v in seconds if isinstance(v, int | float)]
    metadata.update(  # k r models trained on folds of the candidate's rows: no one digest or data file
        model_digest=None, data={}, train_seconds=round(sum(timed), 3) if len(timed) == len(parts) else None
    )
    oof_baseline.metadata = metadata
    reason = f"{choice.reason}; cross-fitted on {folds_text(config)} of the candidate's train + eval rows"
    return replace(choice, reason=reason), (oof_candidate, oof_baseline), None


def run_check(
    config_path: str | Path,
    output_dir: str | Path,
    *,
    baseline_source: str | None = None,
    base_ref: str | None = None,
    env: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    platform: Platform | None = None,
    skipped_models: Sequence[Mapping[str, str]] = (),
    record: bool = True,
) -> CheckOutcome:
    """Everything the PR stage does short of posting: returns the result, its Markdown and the written paths.

    ``platform`` tells the change request's target branch and the links (default: detected from ``env``).
    Each step runs under ``progress`` (its lines and ``timings``; silent by default). ``skipped_models``
    (the other models a plan left unchecked, see ``domain/changes.py``) go into the result and its reports. The run is recorded in
    the metadata store unless ``record`` is False (a release's own check: the release records itself); a
    record that cannot be written is a note of the result, never a failure.
    """
    from mlops_actions.render import validate_result

    started, started_at = time.monotonic(), utc_timestamp()
    platform = _platform_of(platform, env)
    change = platform.change_request()
    target_branch = change.base_ref if change is not None else None
    progress = Progress.silent() if progress is None else progress
    with progress.step("loading config"):
        config = load_config(config_path)
    output_dir = Path(output_dir)
    if not output_dir.is_absolute():
        output_dir = Path.cwd() / output_dir
    with progress.step("preflight"):
        preflight(config).raise_for_problems()  # what would fail after training is said before it
        with path_errors(output_dir, "create the output folder"):
            output_dir.mkdir(parents=True, exist_ok=True)
    with progress.step("tests") as step:
        tests = run_project_tests(config)
        step.done(_tests_detail(tests))
    with progress.step("training candidate"):
        trained = train(config, output_dir / MODEL_DIR)
    datasets = trained.datasets  # read once, for training and scoring
    with progress.step("scoring"):
        candidate = evaluate(trained.directory, datasets.eval, config, source="candidate scoring").scored

    with tempfile.TemporaryDirectory(prefix="mlops-check-") as tmp:
        workdir = Path(tmp)
        if config.eval_data is not None:
            eval_file = config.eval_data
        else:
            eval_file = workdir / "eval-rows.csv"
            datasets.eval.to_csv(eval_file, index=False)
        with progress.step("resolving baseline") as step:
            unfetched = fetch_target_branch(config.root, target_branch)
            if unfetched:
                progress.line(unfetched)
            choice = resolve_baseline(
                config,
                baseline_source or config.baseline_source,
                base_ref=base_ref,
                workdir=workdir,
                target_branch=target_branch,
            )
            step.done(choice.source)
        baseline: Scored | None = None
        compared, inflation, repeats, fallback = candidate, 1.0, 1, None
        if config.evaluation == "cross_fit":
            choice, pair, fallback = _cross_fitted(choice, config, datasets, candidate, workdir, progress)
            if pair is not None:
                (compared, baseline), repeats = pair, config.repeats
                inflation = cross_fit_inflation(config.folds, config.repeats)
        if baseline is None and choice.source != "none":
            with progress.step("retraining merge-base" if choice.source == "retrain" else "scoring baseline"):
                choice, baseline = _score_baseline(
                    choice,
                    config,
                    candidate,
                    datasets.eval,
                    eval_file,
                    workdir,
                    base_ref=base_ref,
                    target_branch=target_branch,
                )
                if baseline is not None:
                    check_same_rows(candidate, baseline)
        with progress.step("data checks"):
            base_commit = None
            if git_state(config.root).root:
                found = merge_base(config.root, base_ref_candidates(config, base_ref, target_branch))
                base_commit = found[1] if found else None
            data_checks = _run_data_checks(config, base_commit, workdir)
        with progress.step("bootstrap"):
            comparison = compare(compared, baseline, config, inflation=inflation, repeats=repeats)
        baseline_metadata = baseline.metadata if baseline is not None else None

    reasons = list(comparison.gate.reasons)
    if tests["status"] == "fail" and tests.get("required"):
        counts = f" ({tests['failed']} failed)" if tests.get("failed") is not None else ""
        reasons.append(f"project tests failed{counts}: {tests['command']} exited with {tests['exit_code']}")
    if data_checks is not None and data_checks.get("schema", {}).get("status") == "fail":
        count = sum(len(f["violations"]) for f in data_checks["schema"]["files"])
        reasons.append(f"data schema: {count} violation kind(s) against {data_checks['schema']['path']}")

    candidate_side = _model_side(trained.metadata)
    baseline_side = (
        _model_side(baseline_metadata, version=choice.version, commit=choice.commit)
        if baseline_metadata is not None
        else None
    )
    for side in (candidate_side, baseline_side):
        if side is not None:
            _relative_paths(side, config.root)
    eval_fp = dict((trained.metadata.get("data") or {}).get("eval") or trained.metadata["data"]["train"])
    eval_fp = {
        k: eval_fp[k] for k in ("path", "sha256", "bytes", "rows", "columns", "schema_hash") if k in eval_fp
    }
    _relative_paths({"data": {"eval": eval_fp}}, config.root)
    result: dict[str, Any] = {
        "schema_version": 1,
        "tool": {"name": "mlops-actions", "version": __version__},
        "created": utc_now(),
        "model": {"name": config.model_name, "task": config.task, "primary_metric": config.primary_metric},
        "verdict": "fail" if reasons else "pass",
        "reasons": reasons,
        "warnings": comparison.warnings,
        "gate": {
            "decision": config.decision,
            "confidence": config.confidence,
            "resamples": config.resamples,
            "seed": config.seed,
            "absolute_only": comparison.absolute_only,
            "correction": config.correction,
            "evaluation": (
                evaluation_block(
                    "cross_fit",
                    folds=config.folds,
                    repeats=repeats,
                    rows=compared.rows // repeats,
                    inflation=inflation,
                )
                if compared is not candidate
                else evaluation_block("holdout", rows=candidate.rows, fallback=fallback)
            ),
        },
        "baseline": {"source": choice.source, "reason": choice.reason, "model": baseline_side},
        "candidate": candidate_side,
        "evaluation": {
            "rows": compared.rows // repeats,
            "data": eval_fp,
            "split": datasets.split,
            "same_rows": baseline is not None,
        },
        "data_changed": _data_changed(candidate_side, baseline_side),
        "metrics": comparison.metrics,
        "advisory_metrics": comparison.advisory_metrics,
        "rules": comparison.gate.rules,
        "slices": comparison.slices,
        "tests": tests,
        "data_checks": data_checks,
        "links": {},
        "timings": _timings(progress),
    }
    result.update(skipped_entries(skipped_models, config.model_name))
    paths = output_paths(output_dir, model=str(trained.directory))
    result["links"] = platform.links(paths).as_dict()
    result = current_scrubber().scrub_data(result)  # user output and error text hold no secret from here on
    validate_result(result)
    if record:
        run = check_record(
            result,
            pr=change.number if change is not None else None,
            started_at=started_at,
            duration_s=time.monotonic() - started,
        )
        _note_unrecorded(result, record_stage(config, run))
    with progress.step("rendering"):
        return _write_outcome(result, paths)


def _note_unrecorded(result: dict[str, Any], note: str | None) -> None:
    """Say in the result (and so in the comment) that the run is not in the metadata store, and why."""
    if note is not None:
        result.setdefault("notes", []).append(current_scrubber().scrub(note))


def _platform_of(platform: Platform | None, env: Mapping[str, str] | None) -> Platform:
    """The platform given, else the one detected in ``env`` (library callers)."""
    if platform is not None:
        return platform
    from mlops_actions.platforms import detect_platform

    return detect_platform(os.environ if env is None else env)


def output_paths(output_dir: Path, *, model: str | None) -> dict[str, str]:
    """Where the check writes its result, reports and (``model``) candidate, by kind."""
    paths = {
        "result": str(output_dir / RESULT_FILE),
        "markdown": str(output_dir / MARKDOWN_FILE),
        "html": str(output_dir / HTML_FILE),
    }
    if model is not None:
        paths["model"] = model
    return paths


def _write_outcome(result: dict[str, Any], paths: dict[str, str]) -> CheckOutcome:
    """Render ``result`` once, with its links, and write the reports and the result file (last), each
    atomically; all or nothing."""
    from mlops_actions.render.report import report, write_report

    output_dir = Path(paths["result"]).parent
    reports = report(result)
    try:
        write_report(paths["html"], reports.html)
        write_report(paths["markdown"], reports.markdown)
        write_json_atomic(paths["result"], result)  # last: a result file means a complete output folder
    except BaseException:
        clear_output(output_dir)
        raise
    return CheckOutcome(result=result, markdown=reports.markdown, paths=paths)


def _tests_detail(tests: Mapping[str, Any]) -> str:
    """The closing words of the tests step, e.g. ``3 passed`` or ``fail (1 failed, 2 passed)``."""
    if tests.get("status") == "not-configured":
        return "not configured"
    counts = [f"{tests[key]} {key}" for key in ("passed", "failed", "errors", "skipped") if tests.get(key)]
    if tests.get("status") == "pass":
        return ", ".join(counts) or "passed"
    return f"{tests.get('status')}" + (f" ({', '.join(counts)})" if counts else "")


def _timings(progress: Progress) -> dict[str, float]:
    return {name: round(seconds, 3) for name, seconds in progress.timings.items()}


def reproduce_command(config_path: str | Path, stage: str) -> str:
    """The command that repeats a failed check on a developer's machine, run in the project folder."""
    name = Path(config_path).name
    if stage in ("loading config", "preflight"):
        return f"mlops-actions doctor --config {name}"
    return f"mlops-actions check --config {name}"


def _loaded_config(config_path: str | Path) -> Config | None:
    """The config, or None when it cannot be loaded (the error being reported may be that)."""
    try:
        return load_config(config_path)
    except (MlopsError, OSError):
        return None


def _error_model(config_path: str | Path) -> dict[str, Any]:
    """The ``model`` of an error result: name and task of the config, its ``model.name`` alone when the
    config is invalid, the project folder's name when even that is unreadable."""
    from mlops_actions.domain.yaml_loader import read_yaml

    path = Path(config_path)
    try:
        config = load_config(path)
        return {"name": config.model_name, "task": config.task}
    except (MlopsError, OSError):
        pass
    try:
        doc = read_yaml(path, what="config") if path.is_file() else None
    except (MlopsError, OSError, ValueError):
        doc = None
    model = doc.get("model") if isinstance(doc, dict) else None
    name = model.get("name") if isinstance(model, dict) else None
    if isinstance(name, str) and name.strip():
        return {"name": name}
    return {"name": path.resolve().parent.name or "model"}


def error_outcome(
    config_path: str | Path,
    output_dir: str | Path,
    error: MlopsError,
    *,
    progress: Progress,
    env: Mapping[str, str] | None = None,
    platform: Platform | None = None,
    skipped_models: Sequence[Mapping[str, str]] = (),
) -> CheckOutcome:
    """Write the result of a check stopped by ``error``: verdict ``error``, its line, the failed step, and
    the command that reproduces it; the reports say the same. The previous output is removed first."""
    from mlops_actions.render import validate_result

    platform = _platform_of(platform, env)
    output_dir = Path(output_dir)
    if not output_dir.is_absolute():
        output_dir = Path.cwd() / output_dir
    clear_output(output_dir)
    stage = progress.failed_step or "check"
    message = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
    message = message or type(error).__name__
    model = _error_model(config_path)
    result: dict[str, Any] = {
        "schema_version": 1,
        "tool": {"name": "mlops-actions", "version": __version__},
        "created": utc_now(),
        "model": model,
        "verdict": "error",
        "reasons": [message],
        "error": {
            "message": message,
            "stage": stage,
            "kind": type(error).__name__,
            "reproduce": reproduce_command(config_path, stage),
        },
        "links": {},
        "timings": _timings(progress),
    }
    result.update(skipped_entries(skipped_models, str(model["name"])))
    paths = output_paths(output_dir, model=None)
    result["links"] = platform.links(paths).as_dict()
    result = validate_result(current_scrubber().scrub_data(result))
    config = _loaded_config(config_path)
    if config is not None:  # a config that cannot be read names no store to record in
        try:
            change = platform.change_request()
        except MlopsError:  # the error being reported may be this one: the record goes without its number
            change = None
        record = check_record(
            result, pr=change.number if change is not None else None, commit=git_state(config.root).commit
        )
        _note_unrecorded(result, record_stage(config, record))
    with path_errors(output_dir, "create the output folder"):
        output_dir.mkdir(parents=True, exist_ok=True)
    outcome = _write_outcome(result, paths)
    return replace(outcome, error=error)


def clear_output(output_dir: Path) -> None:
    """Remove a previous run's result so a failed run never leaves a stale verdict behind."""
    with path_errors(output_dir, "clear the output folder"):
        for name in (RESULT_FILE, MARKDOWN_FILE, HTML_FILE):
            (output_dir / name).unlink(missing_ok=True)
    shutil.rmtree(output_dir / MODEL_DIR, ignore_errors=True)
