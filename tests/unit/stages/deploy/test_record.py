"""The deploy record written to the registry and the result files written to the output folder."""

from __future__ import annotations

import json

from mlops_actions.domain.loadtest import LoadTestResult
from mlops_actions.stages.deploy.record import DeployReport, VersionAttempt, deploy_record, write_deploy_files
from mlops_actions.stages.deploy.smoke import SmokeCheck, SmokeResult

LOAD = LoadTestResult(
    passed=False,
    aborted=False,
    failures=["p99 612 ms > 200 ms (loadtest.thresholds.p99_ms)"],
    requests=18000,
    errors=3,
    error_rate=0.0002,
    rps=600.5,
    p50_ms=12.0,
    p95_ms=300.0,
    p99_ms=612.0,
    max_ms=900.0,
    duration_s=30.0,
    users=16,
    errors_by_kind={"503": 3},
    thresholds={"p99_ms": 200.0},
)


def report() -> DeployReport:
    smoke = SmokeResult(
        url="http://127.0.0.1:1", source="smoke.json", tolerance=1e-6, requests=3, passed_requests=3
    )
    smoke.checks = [SmokeCheck("row 0", 1), SmokeCheck("row 1", 0)]
    attempt = VersionAttempt(
        "1.3.0", "m@v1.3.0", "sha256:" + "1" * 64, smoke=smoke, load=LOAD, failure="load p99"
    )
    previous = VersionAttempt("1.2.0", "m@v1.2.0", "sha256:" + "2" * 64)
    return DeployReport(
        model="m",
        target="built-in",
        time="2026-12-01T16:00:00.123Z",
        attempt=attempt,
        outcome="rolled_back",
        reason="load " + LOAD.failures[0] + " " + "x" * 5000,
        previous=previous,
        duration_s=41.25,
        run_url="https://ci.example/run/1",
    )


def test_the_record_has_the_registrys_fields_and_stays_under_its_size_limit():
    record = deploy_record(report())
    assert set(record) == {
        "time", "version", "outcome", "previous", "reason", "target", "smoke", "load", "duration_s", "run_url"
    }  # fmt: skip
    assert (
        record["version"] == "1.3.0" and record["outcome"] == "rolled_back" and record["previous"] == "1.2.0"
    )
    assert record["smoke"] == {"rows": 2, "mismatches": 0}
    assert record["load"] == {"rps": 600.5, "p95_ms": 300.0, "p99_ms": 612.0, "error_rate": 0.0002}
    assert len(json.dumps(record)) < 4000 and record["reason"].endswith("…")


def test_the_result_and_report_are_written_and_read_back(tmp_path):
    result = report().as_dict()
    paths = write_deploy_files(tmp_path / "out", result, "# report\n")
    assert json.loads(paths["result"].read_text()) == json.loads(json.dumps(result))
    assert paths["report"].read_text() == "# report\n"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temporary file left
