"""Metrics against scikit-learn on known inputs, weighted evaluation against repeated rows, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sklearn.metrics as skm
from sklearn.preprocessing import label_binarize

pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install 'mlops-actions[dev]')")

from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_actions.domain.metric_names import metrics_for_task
from mlops_actions.domain.metrics import MetricEvaluator, Predictions, compute_metrics
from mlops_actions.errors import DataError


def binary_case(seed: int, n: int = 400, decimals: int = 2):
    """Labels, rounded probabilities (so scores tie) and thresholded predictions."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    scores = np.round(np.clip(0.35 * y + 0.65 * rng.random(n), 0.0, 1.0), decimals)
    labels = (scores > 0.5).astype(int)
    return y, labels, scores


def multiclass_case(seed: int, n_classes: int, n: int = 400):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    scores = rng.dirichlet(np.ones(n_classes), n)
    scores[np.arange(n), y] += 0.4
    scores = np.round(scores / scores.sum(axis=1, keepdims=True), 2)
    scores /= scores.sum(axis=1, keepdims=True)
    labels = scores.argmax(axis=1)
    return y, labels, scores


def sklearn_binary(y, labels, scores) -> dict[str, float]:
    return {
        "accuracy": skm.accuracy_score(y, labels),
        "balanced_accuracy": skm.balanced_accuracy_score(y, labels),
        "precision": skm.precision_score(y, labels, zero_division=0),
        "recall": skm.recall_score(y, labels, zero_division=0),
        "f1": skm.f1_score(y, labels, zero_division=0),
        "precision_macro": skm.precision_score(y, labels, average="macro", zero_division=0),
        "recall_macro": skm.recall_score(y, labels, average="macro", zero_division=0),
        "f1_macro": skm.f1_score(y, labels, average="macro", zero_division=0),
        "roc_auc": skm.roc_auc_score(y, scores),
        "pr_auc": skm.average_precision_score(y, scores),
        "log_loss": skm.log_loss(y, scores),
        "brier": skm.brier_score_loss(y, scores),
    }


def sklearn_multiclass(y, labels, scores, n_classes) -> dict[str, float]:
    classes = list(range(n_classes))
    return {
        "accuracy": skm.accuracy_score(y, labels),
        "balanced_accuracy": skm.balanced_accuracy_score(y, labels),
        "precision_macro": skm.precision_score(y, labels, average="macro", zero_division=0),
        "recall_macro": skm.recall_score(y, labels, average="macro", zero_division=0),
        "f1_macro": skm.f1_score(y, labels, average="macro", zero_division=0),
        "roc_auc": skm.roc_auc_score(y, scores, multi_class="ovr", average="macro", labels=classes),
        "pr_auc": skm.average_precision_score(label_binarize(y, classes=classes), scores, average="macro"),
        "log_loss": skm.log_loss(y, scores, labels=classes),
        "brier": skm.brier_score_loss(y, scores, labels=classes),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("decimals", [1, 2, 6])
def test_binary_metrics_match_sklearn(seed, decimals):
    y, labels, scores = binary_case(seed, decimals=decimals)
    ours = compute_metrics(metrics_for_task("binary"), "binary", y, Predictions(labels=labels, scores=scores))
    expected = sklearn_binary(y, labels, scores)
    assert set(ours) == set(expected)
    for name, value in expected.items():
        assert ours[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


@pytest.mark.parametrize("n_classes", [3, 4, 6])  # 3 and 4 count labels by matrix product, 6 by segments
def test_multiclass_metrics_match_sklearn(n_classes):
    y, labels, scores = multiclass_case(n_classes, n_classes)
    ours = compute_metrics(
        metrics_for_task("multiclass"), "multiclass", y, Predictions(labels=labels, scores=scores), n_classes
    )
    expected = sklearn_multiclass(y, labels, scores, n_classes)
    assert set(ours) == set(expected)
    for name, value in expected.items():
        assert ours[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(3)
    y = rng.normal(5.0, 2.0, 300)
    values = y + rng.normal(0.0, 0.7, 300)
    ours = compute_metrics(metrics_for_task("regression"), "regression", y, Predictions(values=values))
    assert ours["rmse"] == pytest.approx(skm.root_mean_squared_error(y, values), rel=1e-12)
    assert ours["mae"] == pytest.approx(skm.mean_absolute_error(y, values), rel=1e-12)
    assert ours["r2"] == pytest.approx(skm.r2_score(y, values), rel=1e-12)
    assert ours["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, values), rel=1e-12)


def test_mape_leaves_out_rows_with_a_zero_target():
    y = np.array([0.0, 2.0, 4.0, 0.0, -5.0])
    values = np.array([1.0, 1.0, 5.0, -3.0, -4.0])
    ours = compute_metrics(["mape"], "regression", y, Predictions(values=values))["mape"]
    nonzero = y != 0
    assert ours == pytest.approx(skm.mean_absolute_percentage_error(y[nonzero], values[nonzero]))
    assert ours == pytest.approx((0.5 + 0.25 + 0.2) / 3)


def test_mape_is_nan_when_every_target_is_zero():
    result = compute_metrics(["mape", "mae"], "regression", np.zeros(4), Predictions(values=np.ones(4)))
    assert math.isnan(result["mape"])
    assert result["mae"] == 1.0


def test_r2_is_nan_for_a_constant_target():
    y = np.full(5, 3.0)
    assert math.isnan(compute_metrics(["r2"], "regression", y, Predictions(values=y + 1))["r2"])
    assert math.isnan(compute_metrics(["r2"], "regression", y, Predictions(values=y))["r2"])


def test_no_predicted_positives_gives_zero_precision_and_f1():
    y = np.array([0, 1, 1, 0, 1])
    labels = np.zeros(5, dtype=int)
    ours = compute_metrics(["precision", "recall", "f1"], "binary", y, Predictions(labels=labels))
    assert ours == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert skm.precision_score(y, labels, zero_division=0) == 0.0


def test_macro_averages_cover_only_classes_present_like_sklearn():
    y = np.array([0, 0, 1, 1, 1, 0])
    labels = np.array([0, 1, 1, 1, 0, 0])  # class 2 of 3 never appears
    ours = compute_metrics(
        ["precision_macro", "recall_macro", "f1_macro", "balanced_accuracy"],
        "multiclass",
        y,
        Predictions(labels=labels),
        n_classes=3,
    )
    assert ours["precision_macro"] == pytest.approx(skm.precision_score(y, labels, average="macro"))
    assert ours["recall_macro"] == pytest.approx(skm.recall_score(y, labels, average="macro"))
    assert ours["f1_macro"] == pytest.approx(skm.f1_score(y, labels, average="macro"))
    assert ours["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, labels))


def test_balanced_accuracy_ignores_classes_only_predicted():
    y = np.array([0, 0, 0, 1])
    labels = np.array([0, 2, 0, 1])
    ours = compute_metrics(["balanced_accuracy"], "multiclass", y, Predictions(labels=labels), n_classes=3)
    with pytest.warns(UserWarning):
        expected = skm.balanced_accuracy_score(y, labels)
    assert ours["balanced_accuracy"] == pytest.approx(expected)


def test_ranking_metrics_are_nan_with_one_class_present():
    y = np.zeros(4, dtype=int)
    scores = np.array([0.1, 0.4, 0.3, 0.9])
    ours = compute_metrics(["roc_auc", "pr_auc", "log_loss"], "binary", y, Predictions(scores=scores))
    assert math.isnan(ours["roc_auc"])
    assert math.isnan(ours["pr_auc"])
    assert ours["log_loss"] == pytest.approx(skm.log_loss(y, scores, labels=[0, 1]))
    all_positive = compute_metrics(["roc_auc", "pr_auc"], "binary", 1 - y, Predictions(scores=scores))
    assert math.isnan(all_positive["roc_auc"])
    assert all_positive["pr_auc"] == 1.0


def test_multiclass_auc_is_nan_when_a_class_is_missing_from_y_true():
    y = np.array([0, 1, 0, 1])
    scores = np.full((4, 3), 1 / 3)
    ours = compute_metrics(["roc_auc", "pr_auc"], "multiclass", y, Predictions(scores=scores), n_classes=3)
    assert math.isnan(ours["roc_auc"])
    assert math.isnan(ours["pr_auc"])


def test_log_loss_clips_certain_wrong_predictions_like_sklearn():
    y = np.array([1, 0, 1, 0])
    scores = np.array([0.0, 1.0, 1.0, 0.0])
    ours = compute_metrics(["log_loss"], "binary", y, Predictions(scores=scores))["log_loss"]
    assert math.isfinite(ours)
    assert ours == pytest.approx(skm.log_loss(y, scores), rel=1e-12)


def test_binary_scores_may_be_predict_proba_output():
    y, _, scores = binary_case(5)
    two_columns = np.column_stack([1 - scores, scores])
    ours = compute_metrics(["roc_auc", "brier"], "binary", y, Predictions(scores=two_columns))
    assert ours == compute_metrics(["roc_auc", "brier"], "binary", y, Predictions(scores=scores))


def test_results_follow_the_requested_order_without_duplicates():
    y, labels, _ = binary_case(6)
    ours = compute_metrics(["f1", "accuracy", "f1"], "binary", y, Predictions(labels=labels))
    assert list(ours) == ["f1", "accuracy"]


# -- weighted evaluation ------------------------------------------------------------------------------


def repeated_rows(weights: np.ndarray, y: np.ndarray, predictions: Predictions):
    rows = np.repeat(np.arange(len(y)), weights)

    def take(array):
        return None if array is None else array[rows]

    return y[rows], Predictions(take(predictions.labels), take(predictions.scores), take(predictions.values))


@pytest.mark.parametrize(
    ("task", "n_classes"), [("binary", 2), ("multiclass", 3), ("multiclass", 5), ("regression", None)]
)
def test_weights_mean_repeated_rows(task, n_classes):
    rng = np.random.default_rng(11)
    if task == "binary":
        y, labels, scores = binary_case(7, n=80, decimals=1)
        predictions = Predictions(labels=labels, scores=scores)
    elif task == "multiclass":
        y, labels, scores = multiclass_case(8, n_classes, n=80)
        predictions = Predictions(labels=labels, scores=scores)
    else:
        y = np.round(rng.normal(0, 1, 80), 1)
        predictions = Predictions(values=y + rng.normal(0, 0.5, 80))
    names = metrics_for_task(task)
    weights = rng.integers(0, 4, (6, len(y)))
    weights[0] = 1
    evaluated = MetricEvaluator(names, task, y, predictions, n_classes).evaluate(weights)
    for row, row_weights in enumerate(weights):
        repeated_y, repeated_predictions = repeated_rows(row_weights, y, predictions)
        expected = compute_metrics(names, task, repeated_y, repeated_predictions, n_classes)
        for name in names:
            assert evaluated[name][row] == pytest.approx(expected[name], rel=1e-10, abs=1e-12, nan_ok=True), (
                name
            )


@settings(max_examples=60, deadline=None)
@given(
    y=st.lists(st.integers(0, 1), min_size=1, max_size=12),
    data=st.data(),
)
def test_weighted_ranking_metrics_equal_repeated_rows(y, data):
    n = len(y)
    scores = np.array(data.draw(st.lists(st.sampled_from([0.0, 0.2, 0.5, 0.7, 1.0]), min_size=n, max_size=n)))
    weights = np.array([data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))])
    y_true = np.array(y)
    names = ["roc_auc", "pr_auc", "accuracy", "f1"]
    predictions = Predictions(labels=(scores > 0.5).astype(int), scores=scores)
    evaluated = MetricEvaluator(names, "binary", y_true, predictions).evaluate(weights)
    if weights.sum() == 0:
        return
    repeated_y, repeated_predictions = repeated_rows(weights[0], y_true, predictions)
    expected = compute_metrics(names, "binary", repeated_y, repeated_predictions)
    for name in names:
        assert evaluated[name][0] == pytest.approx(expected[name], nan_ok=True), name


# -- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "task", "predictions", "message"),
    [
        (["accuracy", "auc"], "binary", Predictions(labels=np.array([0, 1])), "unknown metric 'auc'"),
        (["rmse"], "binary", Predictions(labels=np.array([0, 1])), "'rmse' does not apply to a binary task"),
        (["precision"], "multiclass", Predictions(labels=np.array([0, 1])), "does not apply to a multiclass"),
        (
            ["roc_auc"],
            "binary",
            Predictions(labels=np.array([0, 1])),
            "'roc_auc' needs predicted probabilities",
        ),
        (["f1"], "binary", Predictions(scores=np.array([0.2, 0.8])), "'f1' needs predicted labels"),
        (["accuracy"], "ranking", Predictions(labels=np.array([0, 1])), "unknown task 'ranking'"),
        ([], "binary", Predictions(labels=np.array([0, 1])), "no metrics requested"),
        (["accuracy"], "binary", Predictions(labels=np.array([0, 1, 1])), "have 3 rows but y_true has 2"),
        (["accuracy"], "binary", Predictions(labels=np.array([0, 2])), "must be 0 or 1"),
        (["roc_auc"], "binary", Predictions(scores=np.array([0.2, 1.5])), "must lie in [0, 1]"),
        (["roc_auc"], "binary", Predictions(scores=np.array([0.2, np.nan])), "NaN"),
        (["roc_auc"], "binary", Predictions(scores=np.array([0.2, 0.3, 0.4])), "must have shape (2,)"),
        (["accuracy"], "binary", Predictions(labels=np.array([0.5, 1])), "class indices"),
    ],
)
def test_bad_input_raises_a_data_error(names, task, predictions, message):
    with pytest.raises(DataError) as raised:
        compute_metrics(names, task, np.array([0, 1]), predictions)
    assert message in str(raised.value)


def test_regression_needs_values_and_finite_targets():
    with pytest.raises(DataError, match="'rmse' needs predicted values"):
        compute_metrics(["rmse"], "regression", np.array([1.0, 2.0]), Predictions())
    with pytest.raises(DataError, match="y_true contain NaN"):
        compute_metrics(["rmse"], "regression", np.array([1.0, np.nan]), Predictions(values=np.ones(2)))
    with pytest.raises(DataError, match="no evaluation rows"):
        compute_metrics(["rmse"], "regression", np.array([]), Predictions(values=np.array([])))


def test_class_index_beyond_n_classes_is_rejected():
    with pytest.raises(DataError, match="out of range for n_classes=3"):
        compute_metrics(["accuracy"], "multiclass", np.array([0, 3]), Predictions(labels=np.array([0, 1])), 3)


@pytest.mark.parametrize("largest", [255, 256, 70_000])
def test_permuted_counts_equal_a_plain_take_through_narrow_copies_or_not(monkeypatch, largest):
    import mlops_actions.domain.metrics as metrics

    monkeypatch.setattr(metrics, "_NARROW_GATHER_ROWS", 1)
    rng = np.random.default_rng(3)
    weights = rng.integers(0, 4, (3, 50)).astype(np.int32)
    weights[1, 7] = largest
    order = rng.permutation(50)
    assert np.array_equal(metrics.permuted_counts(weights, order), weights.take(order, axis=1))
    out = np.empty(50, dtype=np.int32)
    assert metrics.permuted_counts(weights[1], order, out=out) is out
    assert np.array_equal(out, weights[1].take(order))
