"""On generated logs with drift of several kinds and healthy windows of many sizes (on both sides of
small_sample, where tests judge instead of distances), the monitor flags exactly what was done to each
window; and healthy windows of any size stay quiet over many seeds, which they do not without the gate."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from mlops_actions.monitoring.reference import reference_from_file
from mlops_actions.monitoring.run import run_monitor
from tests.unit.monitoring.generate import (
    CHECKS,
    VARIED,
    expected,
    generate_rows,
    healthy,
    write_flat,
    write_jsonl,
)
from tests.unit.monitoring.test_known_truth import flagged_columns

HEALTHY_SEEDS = range(20)
UNGATED = {"drift_correction": "none", "drift_min_psi": 0, "drift_min_jensenshannon": 0}


def seen(window: Any) -> dict[str, tuple[str, frozenset[str]]]:
    """Check -> (status, flagged columns) of one window."""
    found = {}
    for check in CHECKS:
        finding = window.finding(check)
        columns = flagged_columns(finding) if finding.status in ("fail", "warn") else frozenset()
        found[check] = (finding.status, columns)
    return found


def monitor_frame(config: Any, frame: Any, path: Path, reference: Path, **monitor: Any) -> Any:
    if monitor:
        config = dataclasses.replace(
            config, raw={**config.raw, "monitor": {**config.raw.get("monitor", {}), **monitor}}
        )
    writer = write_jsonl if path.suffix == ".jsonl" else write_flat
    return run_monitor(config, str(writer(frame, path)), reference_from_file(reference), window="1h")


@pytest.fixture(scope="module")
def varied_frame() -> Any:
    return generate_rows(seed=11, scenarios=VARIED)


@pytest.fixture(scope="module", params=["jsonl", "csv", "parquet"])
def varied(request, varied_frame, truth_logs, example_config, tmp_path_factory) -> Any:
    path = tmp_path_factory.mktemp("varied") / f"predictions.{request.param}"
    return monitor_frame(example_config, varied_frame, path, truth_logs["reference"])


def test_every_varied_window_is_found_with_its_size(varied):
    assert [w.rows for w in varied.windows] == [s.rows for s in VARIED]


@pytest.mark.parametrize("index", range(len(VARIED)), ids=[f"{s.name} ({s.rows} rows)" for s in VARIED])
def test_each_varied_window_is_flagged_exactly_for_what_was_done_to_it(varied, index):
    scenario = VARIED[index]
    assert seen(varied.windows[index]) == {check: expected(scenario, check) for check in CHECKS}


def test_small_windows_are_judged_by_gated_tests_and_large_ones_by_distances(varied):
    by_rows = {w.rows: w for w in varied.windows}
    small = by_rows[100].finding("input_drift")
    large = by_rows[10_000].finding("input_drift")
    assert {c["method"] for c in small.figures["columns"].values()} == {"ks", "chi2"}
    assert all(c["correction"] == "holm" and "effect" in c for c in small.figures["columns"].values())
    assert {c["method"] for c in large.figures["columns"].values()} == {"psi", "jensenshannon"}
    assert small.thresholds["family_level"] == 0.01
    drifted = varied.windows[[s.name for s in VARIED].index("utilisation shifted to its upper half")]
    [problem] = drifted.finding("input_drift").problems
    assert problem.startswith("utilisation drifted (ks p ") and "after Holm < 0.01, psi " in problem


@pytest.mark.parametrize("seed", [3, 5, 7])
def test_the_varied_drifts_are_found_whatever_the_seed(seed, example_config, truth_logs, tmp_path):
    result = monitor_frame(
        example_config,
        generate_rows(seed=seed, scenarios=VARIED),
        tmp_path / "p.parquet",
        truth_logs["reference"],
    )
    for scenario, window in zip(VARIED, result.windows, strict=True):
        assert seen(window) == {check: expected(scenario, check) for check in CHECKS}, scenario.name


@pytest.fixture(scope="module")
def healthy_runs(example_config, truth_logs, tmp_path_factory) -> dict[str, list[Any]]:
    """Per gate (the default, and none), the monitor's results on healthy windows of 100 to 3000 rows
    for each of HEALTHY_SEEDS."""
    folder = tmp_path_factory.mktemp("healthy")
    scenarios = healthy((100, 100, 200, 200, 500, 1000, 3000))
    runs: dict[str, list[Any]] = {"gated": [], "ungated": []}
    for seed in HEALTHY_SEEDS:
        frame = generate_rows(seed=1000 + seed, scenarios=scenarios)
        path = folder / f"healthy-{seed}.parquet"
        runs["gated"].append(monitor_frame(example_config, frame, path, truth_logs["reference"]))
        runs["ungated"].append(monitor_frame(example_config, frame, path, truth_logs["reference"], **UNGATED))
    return runs


def test_healthy_windows_of_any_size_raise_no_flag_over_many_seeds(healthy_runs):
    flags = [
        (seed, w.start, w.rows, f.check, f.problems)
        for seed, result in enumerate(healthy_runs["gated"])
        for w in result.windows
        for f in w.findings
        if f.status != "ok"
    ]
    assert flags == []


def test_without_the_gate_the_same_healthy_windows_are_flagged(healthy_runs):
    flagged = [
        w.rows
        for result in healthy_runs["ungated"]
        for w in result.windows
        if w.finding("input_drift").status == "fail" or w.finding("prediction_drift").status == "fail"
    ]
    windows = sum(len(r.windows) for r in healthy_runs["ungated"])
    assert len(flagged) >= windows // 10 and max(flagged) <= 1000  # tests at 5%: noise, in small windows only
