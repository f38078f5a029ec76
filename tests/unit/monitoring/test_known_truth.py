"""On generated logs with known truth, the monitor flags exactly what was done to each window: nothing
missed, nothing else flagged, in every log format."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_actions.monitoring.reference import reference_from_file
from mlops_actions.monitoring.result import FAIL, Finding
from mlops_actions.monitoring.run import run_monitor
from tests.unit.monitoring.generate import CHECKS, SCENARIOS, expected


def flagged_columns(finding: Finding) -> frozenset[str]:
    """The columns a finding flags (beyond its thresholds)."""
    figures, limits = finding.figures, finding.thresholds
    if finding.check in ("input_drift", "prediction_drift"):
        return frozenset(figures.get("drifted", []))
    if finding.check == "range":
        return frozenset(
            n for n, c in figures["columns"].items() if c["share"] > limits["out_of_range_share"]
        )
    if finding.check == "schema":
        unseen = figures["unseen_categories"]
        nulls = figures["null_shares"]
        return frozenset(
            [*figures["missing_columns"], *figures["new_columns"], *figures["wrong_types"]]
            + [n for n, u in unseen.items() if u["share"] > limits["unseen_category_share"]]
            + [n for n, s in nulls.items() if s["share"] - s["trained_share"] > limits["null_share_increase"]]
        )
    return frozenset()


@pytest.fixture(scope="module", params=["jsonl", "csv", "parquet"])
def monitored(request, truth_logs, example_config) -> Any:
    return run_monitor(
        example_config,
        str(truth_logs[request.param]),
        reference_from_file(truth_logs["reference"]),
        window="1h",
    )


def test_every_window_of_the_generated_logs_is_found(monitored):
    assert [w.rows for w in monitored.windows] == [s.rows for s in SCENARIOS]
    assert monitored.windows[0].start == "2026-11-30T00:00:00Z"
    assert monitored.windows[-1].end == "2026-11-30T12:00:00Z"


@pytest.mark.parametrize("index", range(len(SCENARIOS)), ids=[s.name for s in SCENARIOS])
def test_each_window_is_flagged_exactly_for_what_was_done_to_it(monitored, index):
    scenario = SCENARIOS[index]
    window = monitored.windows[index]
    seen = {}
    for check in CHECKS:
        finding = window.finding(check)
        columns = flagged_columns(finding) if finding.status in ("fail", "warn") else frozenset()
        seen[check] = (finding.status, columns)
    assert seen == {check: expected(scenario, check) for check in CHECKS}


def test_the_figures_state_the_injected_amounts_and_the_trained_range(monitored):
    nan_window, range_window, unseen_window = (monitored.windows[i] for i in (3, 4, 5))
    stability = nan_window.finding("stability").figures
    assert (stability["nonfinite_rows"], stability["nonfinite_share"]) == (36, 0.03)
    income = range_window.finding("range").figures["columns"]["income"]
    assert (income["count"], income["share"], income["trained_min"]) == (48, 0.04, 8000.0)
    assert income["trained_max"] == 372500.0
    region = unseen_window.finding("schema").figures["unseen_categories"]["region"]
    assert region == {"count": 60, "share": 0.05, "examples": ["atlantis"]}


def test_the_run_fails_and_says_against_what_outputs_were_compared(monitored):
    assert monitored.status == FAIL and monitored.failed
    assert monitored.prediction_drift_reference.endswith("(2026-11-30T00:00:00Z)")
    assert monitored.version in (None, "1.0.0")
    assert monitored.rows_read == sum(s.rows for s in SCENARIOS)
