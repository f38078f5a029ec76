"""What each stage leaves in the metadata store: its outcome as one :class:`RunRecord` (check, release, deploy,
monitor), built from what the stage already has, with small ``details`` (lists and texts cut)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mlops_actions import __version__
from mlops_actions.metadata.records import MAX_RECORD_CHARS, RunRecord, new_record_id, record_line
from mlops_actions.metadata.trends import compared_at_release

if TYPE_CHECKING:
    from mlops_actions.domain.config import Config
    from mlops_actions.monitoring.result import MonitorResult
    from mlops_actions.registry import ModelVersion
    from mlops_actions.stages.deploy.record import DeployReport
    from mlops_actions.stages.release.outcome import ReleaseOutcome

MAX_ITEMS = 20  # items of a list kept in details (the rest counted)
MAX_TEXT = 300  # characters of a text kept in details
DETAILS_CHARS = 16_000  # details longer than this as JSON are replaced by what is left out
FINGERPRINT_KEYS = ("path", "sha256", "bytes", "rows", "columns", "schema_hash")
LINK_NAMES = {"run_url": "run", "html_report": "report"}  # result link names -> record link names
DEPLOY_VERDICTS = {"deployed": "promoted", "rolled_back": "rolled_back", "failed": "failed"}
MONITOR_VERDICTS = {"ok": "ok", "insufficient": "ok", "warn": "warning", "fail": "alert"}


def utc_timestamp(moment: dt.datetime | None = None) -> str:
    """``moment`` (default now) as the records' ISO 8601 UTC form, e.g. ``2026-12-02T10:00:00.123Z``."""
    moment = dt.datetime.now(dt.timezone.utc) if moment is None else moment.astimezone(dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _started_before(ended: Any, duration_s: float | None) -> str:
    """When a run that ended at ``ended`` (ISO 8601 UTC, default now) and lasted ``duration_s`` started."""
    moment = dt.datetime.now(dt.timezone.utc)
    if isinstance(ended, str):
        with contextlib.suppress(ValueError):
            moment = dt.datetime.fromisoformat(ended.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return utc_timestamp(moment - dt.timedelta(seconds=duration_s or 0))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _number(value: Any) -> float | int | None:
    """A finite number, else None (records are strict JSON: no NaN, no infinity)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def _text(value: Any, limit: int = MAX_TEXT) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _texts(values: Iterable[Any], limit: int = MAX_ITEMS) -> list[str]:
    """At most ``limit`` texts, each cut; a last item says how many were left out."""
    items = [t for t in (_text(v) for v in values) if t]
    if len(items) <= limit:
        return items
    return [*items[:limit], f"… and {len(items) - limit} more"]


def _pr(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _fingerprints(data: Any) -> dict[str, dict[str, Any]]:
    """Data fingerprints by role, small: columns as their count."""
    found: dict[str, dict[str, Any]] = {}
    for role, fp in (data or {}).items() if isinstance(data, Mapping) else ():
        if not isinstance(fp, Mapping):
            continue
        kept = {key: fp[key] for key in FINGERPRINT_KEYS if fp.get(key) is not None}
        if isinstance(kept.get("columns"), list):
            kept["columns"] = len(kept["columns"])
        if isinstance(kept.get("path"), str):
            kept["path"] = _text(kept["path"])
        found[str(role)] = kept
    return found


def _links(links: Any) -> dict[str, str]:
    if not isinstance(links, Mapping):
        return {}
    return {LINK_NAMES.get(str(k), str(k)): str(v) for k, v in links.items() if isinstance(v, str) and v}


def _metric(**values: Any) -> dict[str, Any]:
    return {key: value if key == "passed" else _number(value) for key, value in values.items()}


def _small(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` unless their JSON is too long; then only their keys, said to be left out."""
    text = json.dumps(details, default=str)
    if len(text) <= DETAILS_CHARS:
        return details
    return {"left_out": f"details of {len(text):,} characters left out", "keys": sorted(details)[:MAX_ITEMS]}


def _record(**fields: Any) -> RunRecord:
    fields["details"] = _small({k: v for k, v in fields.get("details", {}).items() if v is not None})
    record = RunRecord(
        id=new_record_id(), tool_version=fields.pop("tool_version", None) or __version__, **fields
    )
    try:
        size = len(record_line(record))
    except ValueError:  # a number that is not finite slipped through: drop the details, keep the record
        size = MAX_RECORD_CHARS + 1
    if size > MAX_RECORD_CHARS:
        record = replace(record, details={"left_out": "the record was too long; its details were left out"})
    return record


# ---------------------------------------------------------------- check


def _rule_passed(rules: list[Mapping[str, Any]]) -> bool | None:
    judged = [rule.get("status") for rule in rules if rule.get("status") in ("pass", "fail")]
    if not judged:
        return None
    return "fail" not in judged


def _check_metrics(result: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A check's metric rows as record metrics: with a baseline the interval is the delta's, else the value's."""
    rules = [r for r in result.get("rules") or [] if isinstance(r, Mapping) and not r.get("slice")]
    metrics: dict[str, dict[str, Any]] = {}
    for row in result.get("metrics") or []:
        if not isinstance(row, Mapping) or not isinstance(row.get("name"), str):
            continue
        compared = row.get("delta") is not None
        metrics[row["name"]] = _metric(
            value=row.get("candidate"),
            low=None if compared else row.get("ci_low"),
            high=None if compared else row.get("ci_high"),
            baseline=row.get("baseline"),
            delta=row.get("delta"),
            delta_low=row.get("ci_low") if compared else None,
            delta_high=row.get("ci_high") if compared else None,
            passed=_rule_passed([rule for rule in rules if rule.get("metric") == row["name"]]),
        )
    return metrics


def _check_baseline(result: Mapping[str, Any]) -> dict[str, Any] | None:
    baseline = result.get("baseline")
    if not isinstance(baseline, Mapping):
        return None
    model = _mapping(baseline.get("model"))
    return {"source": baseline.get("source"), "version": model.get("version"), "commit": model.get("commit")}


def _drifted(data_checks: Any) -> list[str]:
    """The columns whose drift the data checks flagged, in the order they name them."""
    files = _mapping(_mapping(data_checks).get("changes")).get("files")
    drifted: list[str] = []
    for file in files if isinstance(files, list) else ():
        drift = _mapping(_mapping(file).get("drift"))
        named = drift.get("drifted_columns")
        if not isinstance(named, list):
            columns = drift.get("columns")
            named = [
                _mapping(c).get("column")
                for c in (columns if isinstance(columns, list) else ())
                if _mapping(c).get("drifted") is True
            ]
        drifted.extend(str(name) for name in named)
    return list(dict.fromkeys(drifted))


def check_record(
    result: Mapping[str, Any],
    *,
    pr: int | None = None,
    commit: str | None = None,
    started_at: str | None = None,
    duration_s: float | None = None,
) -> RunRecord:
    """The record of a check from its result (``mlops-result.json``, an ``error`` verdict's too): verdict,
    metrics with their intervals and deltas, the baseline, data fingerprints, links; ``pr`` is the change
    request's number, ``commit`` the one checked when the result names none (an error result)."""
    model = _mapping(result.get("model"))
    candidate = _mapping(result.get("candidate"))
    timings = _mapping(result.get("timings"))
    if duration_s is None and timings:
        duration_s = round(sum(v for v in timings.values() if _number(v) is not None), 3)
    error = result.get("error") if isinstance(result.get("error"), Mapping) else None
    gate = _mapping(result.get("gate"))
    tests = _mapping(result.get("tests"))
    data_checks = result.get("data_checks")
    evaluation = _mapping(result.get("evaluation"))
    data = _fingerprints(candidate.get("data"))
    if evaluation.get("data") and "eval" not in data:
        data.update(_fingerprints({"eval": evaluation["data"]}))
    rules = [r for r in result.get("rules") or [] if isinstance(r, Mapping)]
    slices_flagged = sum(1 for r in rules if r.get("slice") and r.get("status") == "fail")
    details: dict[str, Any] = {
        "task": model.get("task"),
        "primary_metric": model.get("primary_metric"),
        "reasons": _texts(result.get("reasons") or []),
        "decision": gate.get("decision"),
        "confidence": gate.get("confidence"),
        "evaluation_rows": evaluation.get("rows"),
        "data_changed": result.get("data_changed"),
        "tests": tests.get("status"),
        "data_checks": data_checks.get("status") if isinstance(data_checks, Mapping) else None,
        "drifted_columns": _texts(_drifted(data_checks)) or None,
        "rules_failed": sum(1 for r in rules if r.get("status") == "fail") if rules else None,
        "slices_flagged": slices_flagged or None,
        "model_digest": candidate.get("model_digest"),
        "dirty": candidate.get("dirty") or None,
        "branch": candidate.get("branch"),
        "skipped_models": _texts(
            str(s.get("model")) for s in result.get("skipped_models") or [] if isinstance(s, Mapping)
        )
        or None,
    }
    if error is not None:
        details["error"] = {key: _text(error.get(key)) for key in ("message", "stage", "kind", "reproduce")}
    tool = _mapping(result.get("tool"))
    return _record(
        stage="check",
        model=str(model.get("name") or "model"),
        verdict=str(result.get("verdict") or "error"),
        started_at=started_at or _started_before(result.get("created"), duration_s),
        duration_s=_number(duration_s),
        commit=candidate.get("commit") or commit,
        pr=_pr(pr),
        baseline=_check_baseline(result) if error is None else None,
        metrics=_check_metrics(result),
        data=data,
        links=_links(result.get("links")),
        details=details,
        tool_version=tool.get("version"),
    )


# ---------------------------------------------------------------- release


def version_metrics(metrics: Any, *, change_intervals: bool = False) -> dict[str, dict[str, Any]]:
    """A released version's metrics (``{name: {value, ci_low, ci_high}}`` or ``{name: value}``) as record
    metrics ``{value, low, high}``, or ``{value, delta_low, delta_high}`` when the intervals are the change's
    (``change_intervals``: the version was gated against a baseline)."""
    found: dict[str, dict[str, Any]] = {}
    for name, entry in (metrics or {}).items() if isinstance(metrics, Mapping) else ():
        if isinstance(entry, Mapping):
            low = entry.get("ci_low", entry.get("low"))
            high = entry.get("ci_high", entry.get("high"))
            found[str(name)] = _metric(
                value=entry.get("value"),
                low=None if change_intervals else low,
                high=None if change_intervals else high,
                **({"delta_low": low, "delta_high": high} if change_intervals else {}),
            )
        elif _number(entry) is not None:
            found[str(name)] = _metric(value=entry, low=None, high=None)
    return found


def release_record(
    outcome: ReleaseOutcome,
    *,
    started_at: str,
    duration_s: float | None = None,
    run_url: str | None = None,
) -> RunRecord:
    """The record of a release: the version, its tag and metrics with intervals, its lineage (commit, pull
    request, baseline), the candidate's data fingerprints and whether ``production`` moved."""
    version = outcome.version
    lineage = outcome.lineage or dict(version.lineage or {})
    result = outcome.result or {}
    baseline = lineage.get("baseline") if isinstance(lineage.get("baseline"), Mapping) else None
    candidate = _mapping(result.get("candidate"))
    links = {"run": run_url or lineage.get("run_url")}
    details = {
        "tag": version.tag,
        "digest": version.digest,
        "created": outcome.created,
        "model_source": outcome.source,
        "model_source_reason": _text(lineage.get("model_source_reason")),
        "production_moved": outcome.production_moved,
        "aliases": list(version.aliases),
        "bump": lineage.get("bump"),
        "bump_from": _text(lineage.get("bump_from")),
        "branch": lineage.get("branch"),
        "check_verdict": result.get("verdict"),
        "notes": _texts(outcome.notes) or None,
    }
    return _record(
        stage="release",
        model=version.model,
        verdict="released",
        started_at=started_at,
        duration_s=_number(duration_s),
        commit=version.commit or lineage.get("commit"),
        version=version.version,
        pr=_pr(lineage.get("pull_request")),
        baseline=(
            {"source": baseline.get("source"), "version": baseline.get("version"), "commit": None}
            if baseline
            else None
        ),
        # the check's rows tell a value's interval from a change's; the registry's copy alone does not
        metrics=(
            _check_metrics(result)
            if result.get("metrics")
            else version_metrics(version.metrics, change_intervals=compared_at_release(version))
        ),
        data=_fingerprints(candidate.get("data")),
        links={name: url for name, url in links.items() if isinstance(url, str) and url},
        details=details,
    )


# ---------------------------------------------------------------- deploy


def _load_figures(load: Any) -> dict[str, Any] | None:
    if load is None:
        return None
    return {
        "passed": load.passed,
        "requests": load.requests,
        "errors": load.errors,
        "error_rate": _number(load.error_rate),
        "rps": _number(load.rps),
        "p50_ms": _number(load.p50_ms),
        "p95_ms": _number(load.p95_ms),
        "p99_ms": _number(load.p99_ms),
        "duration_s": _number(load.duration_s),
        "failures": _texts(load.failures, 5),
    }


def _smoke_figures(smoke: Any) -> dict[str, Any] | None:
    if smoke is None:
        return None
    return {
        "passed": smoke.passed,
        "requests": smoke.requests,
        "rows": smoke.rows,
        "mismatches": smoke.mismatches,
    }


def deploy_record(report: DeployReport, version: ModelVersion | None = None) -> RunRecord:
    """The record of a deploy from its report: promoted, rolled back or failed, the smoke and load figures
    (p50/p99, errors), the previous version; ``version`` (the one deployed) gives the commit and metrics."""
    attempt = report.attempt
    previous = report.previous
    production = report.production or {}
    details = {
        "tag": attempt.tag,
        "digest": attempt.digest,
        "target": report.target,
        "outcome": report.outcome,
        "reason": _text(report.reason),
        "untested": _text(report.untested),
        "ready_s": _number(attempt.ready_s),
        "smoke": _smoke_figures(attempt.smoke),
        "load": _load_figures(attempt.load),
        "previous_version": previous.version if previous is not None else report.previous_serving,
        "rollback": (
            {"version": previous.version, "passed": previous.passed, "failure": _text(previous.failure)}
            if previous is not None
            else None
        ),
        "production": {key: production.get(key) for key in ("before", "after", "moved")} or None,
        "notes": _texts(report.notes) or None,
    }
    links = {"run": report.run_url} if report.run_url else {}
    return _record(
        stage="deploy",
        model=report.model,
        verdict=DEPLOY_VERDICTS.get(report.outcome, report.outcome or "error"),
        started_at=report.time,
        duration_s=_number(round(report.duration_s, 3)),
        commit=version.commit if version is not None else None,
        version=attempt.version,
        metrics=(
            version_metrics(version.metrics, change_intervals=compared_at_release(version))
            if version is not None
            else {}
        ),
        links=links,
        details=details,
    )


# ---------------------------------------------------------------- monitor


def _window_metrics(result: MonitorResult) -> dict[str, dict[str, Any]]:
    """The newest window's measured performance (labelled rows): value and interval, the release's value
    as the baseline and the change as the delta."""
    for window in reversed(result.windows):
        for finding in window.findings:
            metrics = finding.figures.get("metrics") if finding.check == "performance" else None
            if isinstance(metrics, Mapping) and metrics:
                return {
                    str(name): _metric(
                        value=entry.get("value"),
                        low=entry.get("low"),
                        high=entry.get("high"),
                        baseline=entry.get("release"),
                        delta=entry.get("change"),
                        delta_low=entry.get("change_low"),
                        delta_high=entry.get("change_high"),
                    )
                    for name, entry in metrics.items()
                    if isinstance(entry, Mapping)
                }
    return {}


def monitor_record(
    result: MonitorResult,
    *,
    started_at: str,
    duration_s: float | None = None,
    commit: str | None = None,
    links: Mapping[str, str] | None = None,
    warnings: Iterable[str] = (),
) -> RunRecord:
    """The record of a monitor run: its verdict (ok, warning, alert: the worst window), how many windows were
    in each state, the largest share of non-finite outputs, the columns that drifted, the newest windows."""
    from mlops_actions.monitoring.state import result_states

    states = result_states(result)
    counts = {"ok": 0, "warning": 0, "alert": 0, "insufficient": 0}
    for state in states:
        counts[
            "insufficient" if state.status == "insufficient" else MONITOR_VERDICTS.get(state.status, "ok")
        ] += 1
    drifted = list(dict.fromkeys(column for state in states for column in state.drifted))
    nonfinite = [_number(state.counters.get("nonfinite_share")) for state in states]
    shares = [share for share in nonfinite if share is not None]
    details = {
        "windows": counts,
        "worst": result.status,
        "window": result.window,
        "since": result.since,
        "reference": _text(result.reference),
        "performance_basis": result.performance_basis,
        "rows_read": result.rows_read,
        "nonfinite_share": max(shares) if shares else None,
        "drifted_columns": _texts(drifted) or None,
        "newest_windows": [
            {"start": state.start, "end": state.end, "rows": state.rows, "status": state.status}
            for state in states[-10:]
        ],
        "warnings": _texts(warnings, 5) or None,
    }
    return _record(
        stage="monitor",
        model=result.model,
        verdict=MONITOR_VERDICTS.get(result.status, "ok"),
        started_at=started_at,
        duration_s=_number(duration_s),
        commit=commit,
        version=result.version,
        metrics=_window_metrics(result),
        data={"logs": {"rows": result.rows_read, "files": len(result.files)}},
        links=_links(links),
        details=details,
    )


# ---------------------------------------------------------------- writing


NOT_RECORDED = "not recorded in the metadata store"
NOT_RECORDED_IN = "was not recorded in "  # how the store's warning names the store


def record_stage(config: Config, record: RunRecord) -> str | None:
    """Append a stage's record to the config's metadata store (nothing for ``metadata.backend: off``): None
    when it was recorded, else the note to show the user, ``not recorded in the metadata store: <why>``.
    The store prints its warning to stderr; it never raises, so a failed write never fails the stage."""
    from mlops_actions.metadata import record_run

    warning = record_run(config, record)
    if warning is None:
        return None
    reason = warning.strip().removeprefix("warning:").strip()
    if NOT_RECORDED_IN in reason:  # "this check run was not recorded in <store>: <why>" -> "<store>: <why>"
        reason = reason.split(NOT_RECORDED_IN, 1)[1]
    return f"{NOT_RECORDED}: {reason}"


# ---------------------------------------------------------------- a stage stopped by an error


def error_record(
    stage: str,
    model: str,
    error: BaseException,
    *,
    started_at: str,
    duration_s: float | None = None,
    commit: str | None = None,
    version: str | None = None,
    links: Mapping[str, str] | None = None,
) -> RunRecord:
    """The record of a deploy or monitor run stopped by ``error`` (verdict ``error``, its one line)."""
    message = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return _record(
        stage=stage,
        model=model,
        verdict="error",
        started_at=started_at,
        duration_s=_number(duration_s),
        commit=commit,
        version=version,
        links=_links(links),
        details={"error": {"message": _text(message or type(error).__name__), "kind": type(error).__name__}},
    )
