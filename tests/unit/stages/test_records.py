"""Each stage's run record, built from what the stage already has (canned results, reports and outcomes)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mlops_actions.domain.loadtest import LoadTestResult
from mlops_actions.metadata.records import MAX_RECORD_CHARS, parse_record, record_line
from mlops_actions.monitoring.result import Finding, MonitorResult, WindowResult
from mlops_actions.registry import ModelVersion
from mlops_actions.stages.deploy.record import DeployReport, VersionAttempt
from mlops_actions.stages.deploy.smoke import SmokeCheck, SmokeResult
from mlops_actions.stages.records import (
    check_record,
    deploy_record,
    error_record,
    monitor_record,
    release_record,
    version_metrics,
)
from mlops_actions.stages.release.outcome import ReleaseOutcome

RESULTS = Path(__file__).resolve().parents[2] / "fixtures" / "results"
STARTED = "2026-12-02T10:00:00.000Z"


def canned(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())  # type: ignore[no-any-return]


def round_trip(record):
    """The record as a store reads it back from its JSON line."""
    line = record_line(record)
    assert len(line) < MAX_RECORD_CHARS
    return parse_record(json.loads(line), where="test")


def test_a_check_with_a_baseline_records_the_deltas_and_their_intervals_and_the_baseline():
    result = canned("pass_with_baseline")
    record = round_trip(check_record(result, pr=42, started_at=STARTED, duration_s=12.5))
    assert (record.stage, record.model, record.verdict, record.pr) == ("check", "churn", "pass", 42)
    assert record.commit == result["candidate"]["commit"]
    assert record.started_at == STARTED and record.duration_s == 12.5
    assert record.baseline == {
        "source": "registry",
        "version": "1.4.0",
        "commit": "4f1c2a9be07d3c5e8a1b2c3d4e5f60718293a4b5",
    }
    roc = record.metrics["roc_auc"]
    row = next(row for row in result["metrics"] if row["name"] == "roc_auc")
    assert roc == {
        "value": row["candidate"],
        "low": None,
        "high": None,
        "baseline": row["baseline"],
        "delta": row["delta"],
        "delta_low": row["ci_low"],
        "delta_high": row["ci_high"],
        "passed": True,
    }
    assert record.metrics["f1"]["passed"] is None  # no rule judges f1
    assert record.data["train"]["sha256"] == result["candidate"]["data"]["train"]["sha256"]
    assert record.data["train"]["columns"] == len(result["candidate"]["data"]["train"]["columns"])
    assert record.links == {"report": "https://example.github.io/churn/report.html"}
    assert record.tool_version == result["tool"]["version"]


def test_a_check_without_a_baseline_records_the_candidates_own_interval():
    result = canned("no_baseline")
    record = round_trip(check_record(result, started_at=STARTED))
    roc = record.metrics["roc_auc"]
    assert (roc["value"], roc["low"], roc["high"]) == (
        0.863,
        result["metrics"][0]["ci_low"],
        result["metrics"][0]["ci_high"],
    )
    assert roc["delta"] is None and roc["delta_low"] is None
    assert record.baseline == {"source": "none", "version": None, "commit": None}
    assert record.pr is None


def test_a_failed_rule_marks_its_metric_not_passed_and_counts_the_flagged_slices():
    record = round_trip(check_record(canned("fail_change_and_slice"), started_at=STARTED))
    assert record.verdict == "fail"
    assert record.metrics["roc_auc"]["passed"] is False
    assert record.metrics["accuracy"]["passed"] is True
    assert record.details["slices_flagged"] == 1
    assert record.details["rules_failed"] == 2
    assert record.details["reasons"]


def test_an_error_result_records_the_error_the_commit_given_and_when_it_started():
    result = canned("error")
    record = round_trip(check_record(result, pr=7, commit="a" * 40))
    assert (record.verdict, record.commit, record.pr, record.baseline) == ("error", "a" * 40, 7, None)
    assert record.details["error"]["stage"] == "training candidate"
    assert record.details["error"]["kind"] == "TrainingError"
    assert record.metrics == {}
    assert record.duration_s == pytest.approx(sum(result["timings"].values()))
    assert record.started_at < result["created"]  # started the duration before the result was written
    assert record.links == {"run": "https://github.com/acme/churn/actions/runs/4242"}


def test_details_are_cut_so_a_check_with_thousands_of_reasons_stays_a_small_record():
    result = canned("fail_change_and_slice")
    result["reasons"] = [f"reason {i}: " + "x" * 2000 for i in range(5000)]
    record = check_record(result, started_at=STARTED)
    assert len(record_line(record)) < 16_000
    assert len(record.details["reasons"]) == 21
    assert record.details["reasons"][-1] == "… and 4980 more"
    assert all(len(reason) <= 300 for reason in record.details["reasons"])


def test_a_metric_that_is_not_a_finite_number_is_recorded_as_missing():
    result = canned("no_baseline")
    result["metrics"][0]["candidate"] = math.nan
    result["metrics"][0]["ci_high"] = math.inf
    record = round_trip(check_record(result, started_at=STARTED))
    assert record.metrics["roc_auc"]["value"] is None
    assert record.metrics["roc_auc"]["high"] is None


def released_version(**changes) -> ModelVersion:
    fields = {
        "model": "tiny",
        "version": "1.2.0",
        "tag": "tiny@v1.2.0",
        "digest": "sha256:" + "d" * 64,
        "created": "2026-12-02T10:01:00Z",
        "commit": "c" * 40,
        "metrics": {"roc_auc": {"value": 0.81, "ci_low": 0.78, "ci_high": 0.84}},
        "aliases": ("production",),
    }
    return ModelVersion(**{**fields, **changes})


def test_a_release_records_the_version_its_metrics_with_intervals_and_its_lineage():
    """The metrics come from the release's check, whose rows say whether an interval is the change's."""
    result = canned("pass_with_baseline")
    lineage = {
        "commit": "c" * 40,
        "pull_request": 12,
        "bump": "minor",
        "bump_from": "label release:minor",
        "baseline": {"source": "registry", "version": "1.1.0"},
        "model_source_reason": "the check's candidate has HEAD's tree",
        "run_url": "https://ci.example/run/1",
    }
    outcome = ReleaseOutcome(
        version=released_version(),
        created=True,
        result=result,
        source="promoted",
        production_moved=True,
        notes=("a note",),
        lineage=lineage,
    )
    record = round_trip(release_record(outcome, started_at=STARTED, duration_s=3.0))
    assert (record.stage, record.model, record.verdict, record.version) == (
        "release",
        "tiny",
        "released",
        "1.2.0",
    )
    assert (record.commit, record.pr) == ("c" * 40, 12)
    row = next(r for r in result["metrics"] if r["name"] == "roc_auc")
    # gated against a baseline: the interval is the change's, never the value's
    assert record.metrics["roc_auc"]["value"] == row["candidate"]
    assert (record.metrics["roc_auc"]["delta_low"], record.metrics["roc_auc"]["delta_high"]) == (
        row["ci_low"],
        row["ci_high"],
    )
    assert record.metrics["roc_auc"].get("low") is None
    assert record.baseline == {"source": "registry", "version": "1.1.0", "commit": None}
    assert record.links == {"run": "https://ci.example/run/1"}
    assert record.details["tag"] == "tiny@v1.2.0"
    assert record.details["production_moved"] is True
    assert record.details["notes"] == ["a note"]
    assert record.data["train"]["sha256"] == result["candidate"]["data"]["train"]["sha256"]


def test_a_release_completed_again_records_the_existing_version_from_its_own_lineage():
    version = released_version(lineage={"pull_request": 3, "commit": "c" * 40})
    outcome = ReleaseOutcome(version=version, created=False, result=None)
    record = round_trip(release_record(outcome, started_at=STARTED, run_url="https://ci.example/run/2"))
    assert (record.version, record.pr, record.details["created"]) == ("1.2.0", 3, False)
    assert record.links == {"run": "https://ci.example/run/2"}


def test_version_metrics_read_plain_values_and_intervals():
    assert version_metrics({"a": 0.5, "b": {"value": 1, "low": 0, "high": 2}, "c": "x"}) == {
        "a": {"value": 0.5, "low": None, "high": None},
        "b": {"value": 1, "low": 0, "high": 2},
    }


def load_result(**changes) -> LoadTestResult:
    fields = {
        "passed": True,
        "aborted": False,
        "failures": [],
        "requests": 400,
        "errors": 2,
        "error_rate": 0.005,
        "rps": 200.0,
        "p50_ms": 4.0,
        "p95_ms": 9.0,
        "p99_ms": 15.0,
        "max_ms": 30.0,
        "duration_s": 2.0,
        "users": 4,
    }
    return LoadTestResult(**{**fields, **changes})


def smoke_result(mismatches: int = 0) -> SmokeResult:
    checks = [
        SmokeCheck(row=str(i), expected=1, problem="differs" if i < mismatches else None) for i in range(5)
    ]
    return SmokeResult(
        url="http://127.0.0.1:1",
        source="smoke.json",
        tolerance=1e-6,
        requests=6,
        passed_requests=6,
        checks=checks,
    )


def test_a_promoted_deploy_records_the_smoke_and_load_figures():
    attempt = VersionAttempt(
        "1.2.0", "tiny@v1.2.0", "sha256:" + "d" * 64, smoke=smoke_result(), load=load_result()
    )
    attempt.ready_s = 0.4
    report = DeployReport(
        model="tiny",
        target="built-in",
        time=STARTED,
        attempt=attempt,
        previous_serving="1.1.0",
        production={"before": "1.1.0", "after": "1.2.0", "moved": True, "note": None},
        duration_s=8.25,
        run_url="https://ci.example/run/3",
    )
    record = round_trip(deploy_record(report, released_version()))
    assert (record.stage, record.verdict, record.version, record.commit) == (
        "deploy",
        "promoted",
        "1.2.0",
        "c" * 40,
    )
    assert record.duration_s == 8.25
    assert record.details["load"]["p50_ms"] == 4.0
    assert record.details["load"]["p99_ms"] == 15.0
    assert record.details["load"]["errors"] == 2
    assert record.details["smoke"] == {"passed": True, "requests": 6, "rows": 5, "mismatches": 0}
    assert record.details["previous_version"] == "1.1.0"
    assert record.details["production"] == {"before": "1.1.0", "after": "1.2.0", "moved": True}
    assert record.metrics["roc_auc"]["value"] == 0.81
    assert record.links == {"run": "https://ci.example/run/3"}


def test_a_rolled_back_deploy_records_why_and_the_version_it_went_back_to():
    attempt = VersionAttempt(
        "1.2.0",
        "tiny@v1.2.0",
        "sha256:" + "d" * 64,
        smoke=smoke_result(),
        load=load_result(passed=False, p99_ms=math.nan, failures=["p99 900 ms > 400 ms"]),
    )
    attempt.failure = "load p99 900 ms > 400 ms"
    previous = VersionAttempt("1.1.0", "tiny@v1.1.0", "sha256:" + "e" * 64)
    report = DeployReport(
        model="tiny",
        target="built-in",
        time=STARTED,
        attempt=attempt,
        outcome="rolled_back",
        reason=attempt.failure,
        previous=previous,
    )
    record = round_trip(deploy_record(report))
    assert record.verdict == "rolled_back"
    assert record.details["reason"] == "load p99 900 ms > 400 ms"
    assert record.details["rollback"] == {"version": "1.1.0", "passed": True, "failure": None}
    assert record.details["previous_version"] == "1.1.0"
    assert record.details["load"]["p99_ms"] is None  # not a finite number
    assert record.commit is None and record.metrics == {}


def window(
    start: str, status: str, *, drifted: tuple[str, ...] = (), nonfinite: float = 0.0, metrics=None
) -> WindowResult:
    findings = [
        Finding("stability", "ok", figures={"nonfinite_share": nonfinite}),
        Finding(
            "input_drift",
            status,
            figures={"columns": {name: {"score": 0.4, "drifted": name in drifted} for name in ("x1", "x2")}},
        ),
    ]
    if metrics is not None:
        findings.append(Finding("performance", "ok", figures={"mode": "measured", "metrics": metrics}))
    return WindowResult(start=start, end=start.replace("T00", "T23"), rows=50, findings=tuple(findings))


def test_a_monitor_run_records_its_worst_state_the_counts_per_state_and_what_drifted():
    performance = {
        "roc_auc": {
            "value": 0.7,
            "low": 0.6,
            "high": 0.8,
            "release": 0.8,
            "change": -0.1,
            "change_low": -0.2,
            "change_high": 0.0,
        }
    }
    result = MonitorResult(
        model="tiny",
        version="1.2.0",
        reference="version 1.2.0",
        window="1d",
        since=None,
        files=("log/a.jsonl",),
        rows_read=150,
        rows_before_since=0,
        partial_lines=0,
        prediction_drift_reference="eval outputs",
        windows=(
            window("2026-12-01T00:00:00Z", "ok"),
            window("2026-12-02T00:00:00Z", "warn", drifted=("x1",), nonfinite=0.02),
            window("2026-12-03T00:00:00Z", "fail", drifted=("x1", "x2"), metrics=performance),
        ),
    )
    record = round_trip(
        monitor_record(result, started_at=STARTED, duration_s=1.5, warnings=["stored states unread"])
    )
    assert (record.stage, record.model, record.version, record.verdict) == (
        "monitor",
        "tiny",
        "1.2.0",
        "alert",
    )
    assert record.details["windows"] == {"ok": 1, "warning": 1, "alert": 1, "insufficient": 0}
    assert record.details["worst"] == "fail"
    assert record.details["nonfinite_share"] == 0.02
    assert record.details["drifted_columns"] == ["x1", "x2"]
    assert [w["status"] for w in record.details["newest_windows"]] == ["ok", "warn", "fail"]
    assert record.details["warnings"] == ["stored states unread"]
    assert record.metrics["roc_auc"] == {
        "value": 0.7,
        "low": 0.6,
        "high": 0.8,
        "baseline": 0.8,
        "delta": -0.1,
        "delta_low": -0.2,
        "delta_high": 0.0,
    }
    assert record.data == {"logs": {"rows": 150, "files": 1}}


def test_a_healthy_monitor_run_is_ok():
    result = MonitorResult(
        "tiny", "1.0.0", "file", "7d", None, (), 10, 0, 0, "none", (window("2026-12-01T00:00:00Z", "ok"),)
    )
    record = monitor_record(result, started_at=STARTED)
    assert record.verdict == "ok"
    assert "drifted_columns" not in record.details
    assert record.metrics == {}


def test_the_columns_the_data_checks_found_drifted_are_recorded():
    record = check_record(canned("data_checks_violations"), started_at=STARTED)
    assert record.details["drifted_columns"] == ["income", "tenure"]
    assert record.details["data_checks"] == "fail"


def test_a_stage_stopped_by_an_error_records_its_one_line_and_kind():
    from mlops_actions.errors import RegistryError

    error = RegistryError("registry .registry: tiny has no version '9.9.9'\n  known: 1.0.0")
    record = round_trip(
        error_record("deploy", "tiny", error, started_at=STARTED, duration_s=0.2, version="9.9.9")
    )
    assert (record.stage, record.verdict, record.version) == ("deploy", "error", "9.9.9")
    assert record.details == {
        "error": {
            "message": "registry .registry: tiny has no version '9.9.9'; known: 1.0.0",
            "kind": "RegistryError",
        }
    }


def test_the_stores_warning_becomes_the_note_naming_the_store_and_why(monkeypatch):
    import mlops_actions.metadata as metadata
    from mlops_actions.stages.records import record_stage

    warnings = iter(
        ["warning: this check run was not recorded in sqlite store x.sqlite: disk I/O error", None]
    )
    monkeypatch.setattr(metadata, "record_run", lambda config, record: next(warnings))
    record = check_record(canned("error"))
    assert (
        record_stage(object(), record)
        == "not recorded in the metadata store: sqlite store x.sqlite: disk I/O error"
    )  # type: ignore[arg-type]
    assert record_stage(object(), record) is None  # type: ignore[arg-type]


def test_a_deploy_of_a_gated_version_records_its_registry_interval_as_the_changes():
    attempt = VersionAttempt("1.2.0", "tiny@v1.2.0", "sha256:" + "d" * 64, smoke=smoke_result(), load=None)
    report = DeployReport(model="tiny", target="built-in", time=STARTED, attempt=attempt)
    gated = released_version(
        metrics={"roc_auc": {"value": 0.81, "ci_low": 0.01, "ci_high": 0.03}},
        lineage={"release": {"baseline": {"source": "registry", "version": "1.1.0"}}},
    )
    metric = round_trip(deploy_record(report, gated)).metrics["roc_auc"]
    assert (metric["value"], metric["delta_low"], metric["delta_high"]) == (0.81, 0.01, 0.03)
    assert metric.get("low") is None and metric.get("high") is None
    ungated = round_trip(deploy_record(report, released_version())).metrics["roc_auc"]
    assert (ungated["low"], ungated["high"]) == (0.78, 0.84)
