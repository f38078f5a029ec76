"""The catalogue's metric ranges hold for the values the metrics actually take, best and worst cases included."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlops_actions.domain.metric_names import METRICS, format_range, metrics_for_task
from mlops_actions.domain.metrics import Predictions, compute_metrics


def _in_range(values: dict[str, float], task: str) -> None:
    for name, value in values.items():
        low, high = METRICS[name].value_range(task)
        assert math.isnan(value) or low <= value <= high, (name, value, format_range(low, high))


@pytest.mark.parametrize("case", ["random", "perfect", "all-wrong"])
def test_classification_metrics_stay_in_their_declared_range(case: str) -> None:
    rng = np.random.default_rng(5)
    for task, k in (("binary", 2), ("multiclass", 4)):
        y = rng.integers(0, k, 200)
        wrong = (y + 1) % k
        if case == "random":
            probabilities = rng.dirichlet(np.ones(k), 200)
        else:
            probabilities = np.eye(k)[y if case == "perfect" else wrong] * 0.998 + 0.002 / k
        labels = probabilities.argmax(axis=1)
        scores = probabilities[:, 1] if task == "binary" else probabilities
        values = compute_metrics(
            metrics_for_task(task), task, y, Predictions(labels=labels, scores=scores), k
        )
        _in_range(values, task)
        if case == "all-wrong" and task == "multiclass":
            assert values["brier"] > 1.9  # why multiclass Brier is bounded by 2, not 1


def test_regression_metrics_stay_in_their_declared_range() -> None:
    rng = np.random.default_rng(6)
    y = rng.normal(5.0, 2.0, 300)
    for values in (y, y + rng.normal(0, 1, 300), -10 * y):
        _in_range(
            compute_metrics(metrics_for_task("regression"), "regression", y, Predictions(values=values)),
            "regression",
        )


def test_ranges_read_as_intervals() -> None:
    assert format_range(*METRICS["roc_auc"].value_range("binary")) == "[0, 1]"
    assert format_range(*METRICS["log_loss"].value_range("binary")) == "[0, inf)"
    assert format_range(*METRICS["r2"].value_range("regression")) == "(-inf, 1]"
    assert format_range(*METRICS["brier"].value_range("multiclass")) == "[0, 2]"
