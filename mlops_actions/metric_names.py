"""The catalogue of metrics: names, the tasks they apply to, and which direction is better.

Light on purpose (no numpy): the config validator and ``--help`` use it.
"""

from __future__ import annotations

from dataclasses import dataclass

BINARY = "binary"
MULTICLASS = "multiclass"
REGRESSION = "regression"
TASKS = (BINARY, MULTICLASS, REGRESSION)


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str
    tasks: tuple[str, ...]
    higher_is_better: bool
    needs: str  # "labels" (predicted classes), "scores" (probabilities) or "values" (regression)


_CLASSIFICATION = (BINARY, MULTICLASS)

METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("accuracy", "Accuracy", _CLASSIFICATION, True, "labels"),
        MetricInfo("balanced_accuracy", "Balanced accuracy", _CLASSIFICATION, True, "labels"),
        MetricInfo("precision", "Precision (positive class)", (BINARY,), True, "labels"),
        MetricInfo("recall", "Recall (positive class)", (BINARY,), True, "labels"),
        MetricInfo("f1", "F1 (positive class)", (BINARY,), True, "labels"),
        MetricInfo("precision_macro", "Precision (macro)", _CLASSIFICATION, True, "labels"),
        MetricInfo("recall_macro", "Recall (macro)", _CLASSIFICATION, True, "labels"),
        MetricInfo("f1_macro", "F1 (macro)", _CLASSIFICATION, True, "labels"),
        MetricInfo("roc_auc", "ROC AUC", _CLASSIFICATION, True, "scores"),
        MetricInfo("pr_auc", "PR AUC (average precision)", _CLASSIFICATION, True, "scores"),
        MetricInfo("log_loss", "Log loss", _CLASSIFICATION, False, "scores"),
        MetricInfo("brier", "Brier score", _CLASSIFICATION, False, "scores"),
        MetricInfo("rmse", "RMSE", (REGRESSION,), False, "values"),
        MetricInfo("mae", "MAE", (REGRESSION,), False, "values"),
        MetricInfo("r2", "R²", (REGRESSION,), True, "values"),
        MetricInfo("mape", "MAPE", (REGRESSION,), False, "values"),
    )
}

DEFAULT_PRIMARY = {BINARY: "roc_auc", MULTICLASS: "f1_macro", REGRESSION: "rmse"}


def metrics_for_task(task: str) -> list[str]:
    """Every metric name that applies to the task, in catalogue order."""
    return [name for name, info in METRICS.items() if task in info.tasks]
