"""Performance in production: metrics with bootstrap intervals on labelled rows and their change against
release, the confidence-based estimate (CBPE) on calibrated and miscalibrated scores, and the eval outputs a
release stores (binned as the monitor bins outputs, so prediction drift is measured against them)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlops_actions.domain.config import PerformanceSettings
from mlops_actions.domain.data.chunks.columns import CategoricalColumn
from mlops_actions.domain.metrics import Predictions, compute_metrics
from mlops_actions.monitoring.columns import Columns
from mlops_actions.monitoring.labels import Labels
from mlops_actions.monitoring.performance import (
    EVAL_OUTPUTS_FILE,
    PerformanceCollector,
    build_eval_outputs,
    calibration,
    eval_outputs_from_dict,
)
from mlops_actions.monitoring.reference import Reference, reference_from_file
from mlops_actions.monitoring.run import run_monitor
from tests.unit.monitoring.generate import SCENARIOS

HOUR = 3600 * 10**9


def calibrated(n: int, seed: int, *, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Scores p ~ Beta(2, 2) and labels drawn from them (y ~ Bernoulli(p)): calibrated by construction;
    ``shift`` moves the labels' rate away from the scores (a miscalibration)."""
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 2, size=n)
    y = (rng.random(n) < np.clip(p + shift, 0, 1)).astype(int)
    return p, y


def eval_outputs(p: np.ndarray, y: np.ndarray):
    predictions = Predictions(labels=(p >= 0.5).astype(int), scores=p)
    return build_eval_outputs("binary", [0, 1], y, predictions, ["roc_auc", "accuracy"], resamples=50)


def columns(p: np.ndarray, start_ns: int = 0) -> Columns:
    n = len(p)
    return Columns(
        rows=n,
        times=np.full(n, start_ns, dtype=np.int64),
        features={},
        wrong_type={},
        prediction=CategoricalColumn((p >= 0.5).astype(np.int64), ["0", "1"], "string"),
        probabilities={"proba_0": 1 - p, "proba_1": p},
    )


def collector(outputs, labels=None, **settings) -> PerformanceCollector:
    return PerformanceCollector(
        task="binary",
        length=HOUR,
        settings=PerformanceSettings(**settings),
        metric_names=("roc_auc", "accuracy"),
        judged=("roc_auc",),
        labels=labels,
        outputs=outputs,
    )


def truth(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return compute_metrics(
        ["roc_auc", "accuracy"], "binary", y, Predictions(labels=(p >= 0.5).astype(int), scores=p)
    )


def test_the_calibration_error_is_small_for_calibrated_scores_and_large_for_shifted_labels():
    assert calibration(*reversed(calibrated(20000, 1))).ece < 0.02
    shifted = calibration(*reversed(calibrated(20000, 1, shift=0.15)))
    assert shifted.ece > 0.1 and sum(b["rows"] for b in shifted.bins) == 20000


def test_the_estimate_on_calibrated_scores_is_within_tolerance_of_the_true_metrics():
    outputs = eval_outputs(*calibrated(5000, 2))
    p, y = calibrated(20000, 3)
    found = collector(outputs)
    found.add(None, columns(p), None)
    finding = found.finding(0)
    assert finding is not None and finding.status == "ok" and finding.figures["mode"] == "estimated"
    estimated = finding.figures["metrics"]
    actual = truth(p, y)
    assert abs(estimated["accuracy"]["value"] - actual["accuracy"]) < 0.015
    assert abs(estimated["roc_auc"]["value"] - actual["roc_auc"]) < 0.015
    assert estimated["accuracy"]["low"] < actual["accuracy"] < estimated["accuracy"]["high"]
    assert finding.figures["calibration"]["trusted"] and finding.figures["assumptions"]


def test_the_estimate_is_not_trusted_when_the_eval_scores_are_miscalibrated():
    outputs = eval_outputs(*calibrated(5000, 2, shift=0.15))
    found = collector(outputs)
    found.add(None, columns(calibrated(5000, 3)[0]), None)
    finding = found.finding(0)
    assert finding is not None and finding.status == "warn" and not finding.figures["calibration"]["trusted"]
    assert finding.problems[0].startswith("estimate not trusted: the eval set's calibration error")
    assert "monitor.performance.max_calibration_error 0.05" in finding.problems[0]


def test_an_estimated_drop_beyond_the_allowed_one_fails():
    outputs = eval_outputs(*calibrated(5000, 2))
    rng = np.random.default_rng(4)
    found = collector(outputs)
    found.add(None, columns(rng.beta(1, 1, size=5000) * 0.2 + 0.4), None)  # scores near 0.5: no separation
    finding = found.finding(0)
    assert finding is not None and finding.status == "fail"
    assert finding.problems[0].startswith("estimated roc_auc")


def test_too_few_eval_rows_to_check_calibration_leave_the_check_out_and_say_why():
    found = collector(eval_outputs(*calibrated(300, 2)))
    found.add(None, columns(calibrated(500, 3)[0]), None)
    assert found.finding(0) is None
    assert (
        "calibration checked on 300 eval rows, fewer than monitor.performance.min_eval_rows" in found.basis()
    )


def labelled(p: np.ndarray, y: np.ndarray) -> tuple[Labels, object]:
    import pyarrow as pa

    ids = [f"r{i}" for i in range(len(p))]
    labels = Labels("request_id", False, {k: str(v) for k, v in zip(ids, y, strict=True)}, ("l.csv",), len(y))
    return labels, pa.table({"request_id": ids})


def test_measured_metrics_have_bootstrap_intervals_and_their_change_against_release():
    outputs = eval_outputs(*calibrated(5000, 2))
    p, y = calibrated(3000, 5)
    labels, table = labelled(p, y)
    found = collector(outputs, labels)
    found.add(table, columns(p), None)
    finding = found.finding(0)
    assert finding is not None and finding.status == "ok" and finding.figures["mode"] == "measured"
    auc = finding.figures["metrics"]["roc_auc"]
    assert auc["value"] == pytest.approx(truth(p, y)["roc_auc"])
    assert auc["low"] < auc["value"] < auc["high"]
    assert auc["release"] == outputs.metrics["roc_auc"]["value"]
    assert auc["change"] == pytest.approx(auc["value"] - auc["release"])
    assert auc["change_low"] == pytest.approx(auc["low"] - auc["release"])


def test_labelled_metrics_confidently_worse_than_release_fail_and_too_few_rows_are_insufficient():
    outputs = eval_outputs(*calibrated(5000, 2))
    p, y = calibrated(3000, 5)
    labels, table = labelled(p, 1 - y)  # the labels say the model is now mostly wrong
    found = collector(outputs, labels)
    found.add(table, columns(p), None)
    finding = found.finding(0)
    assert finding is not None and finding.status == "fail"
    assert finding.problems[0].startswith("roc_auc ") and "worse than at release" in finding.problems[0]
    labels, table = labelled(p[:20], y[:20])
    few = collector(None, labels)
    few.add(table, columns(p[:20]), None)
    short = few.finding(0)
    assert short is not None and short.status == "insufficient"
    assert "20 labelled rows, fewer than monitor.performance.min_labelled_rows (100)" in short.problems[0]


def test_rows_without_labels_fall_back_to_the_estimate_when_it_applies():
    outputs = eval_outputs(*calibrated(5000, 2))
    p, y = calibrated(3000, 5)
    labels, table = labelled(p[:10], y[:10])
    found = collector(outputs, labels)
    found.add(table, columns(p[:10]), None)
    import pyarrow as pa

    found.add(pa.table({"other": np.arange(len(p) - 10)}), columns(p[10:], HOUR), None)  # no ids: no labels
    assert found.finding(0).figures["note"].startswith("10 labelled rows")
    assert found.finding(HOUR).figures["mode"] == "estimated"


def test_the_eval_outputs_are_small_json_and_read_back_the_same():
    outputs = eval_outputs(*calibrated(4000, 6))
    text = json.dumps(outputs.to_dict(), allow_nan=False)
    assert len(text) < 20_000
    again = eval_outputs_from_dict(json.loads(text))
    assert again.metrics == outputs.metrics and again.calibration == outputs.calibration
    assert set(again.dtypes) == {"prediction", "proba_0", "proba_1"}
    histograms = again.score_histograms["classes"]
    assert (
        set(histograms) == {"0", "1"} and sum(histograms["1"]["true"]) + sum(histograms["1"]["other"]) == 4000
    )


def test_prediction_drift_is_measured_against_the_release_time_eval_outputs(truth_logs, example_config):
    """Eval outputs like the clean windows' (P(default) ~ Beta(2, 5)): every window is compared with them,
    the first one too, and only the windows whose outputs changed drift."""
    rng = np.random.default_rng(8)
    p = rng.beta(2, 5, size=4000)
    y = (rng.random(4000) < p).astype(int)
    outputs = build_eval_outputs(
        "binary", [0, 1], y, Predictions(labels=(p >= 0.5).astype(int), scores=p), ["roc_auc"], resamples=20
    )
    profile = reference_from_file(truth_logs["reference"])
    reference = Reference(profile.profile, profile.source, outputs=outputs)
    result = run_monitor(example_config, str(truth_logs["parquet"]), reference, window="1h")
    assert (
        result.prediction_drift_reference == f"the release-time eval outputs ({EVAL_OUTPUTS_FILE}, 4000 rows)"
    )
    first = result.windows[0].finding("prediction_drift")
    assert first.status == "ok" and "baseline" not in first.figures
    drifted = [
        s.name
        for s, w in zip(SCENARIOS, result.windows, strict=True)
        if w.finding("prediction_drift").status == "fail"
    ]
    assert drifted == ["outputs ~ Beta(5, 2)", "constant output"]
    assert result.windows[0].finding("performance").figures["mode"] == "estimated"
