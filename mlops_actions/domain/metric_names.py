"""The catalogue of metrics: names, the tasks they apply to, which direction is better, and their range.

Light on purpose (no numpy): the config validator and ``--help`` use it.
"""

from __future__ import annotations

import math
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
    low: float = 0.0  # the smallest value the metric can take
    high: float = 1.0  # the largest value it can take (math.inf: unbounded)
    multiclass_high: float | None = None  # the largest value for task multiclass, when it differs
    # A change smaller than ``margin`` is negligible ("equivalent"); ``notable`` is the smallest change that
    # matters (advisory warnings, power). Both are in metric units, or fractions of the baseline value when
    # ``relative_sizes`` (the unbounded error metrics). Defaults measured in docs/gate.md.
    margin: float = 0.001
    notable: float = 0.005
    relative_sizes: bool = False

    def value_range(self, task: str) -> tuple[float, float]:
        """The [low, high] a value of this metric lies in for ``task`` (bounds may be infinite)."""
        if task == MULTICLASS and self.multiclass_high is not None:
            return self.low, self.multiclass_high
        return self.low, self.high


def format_range(low: float, high: float) -> str:
    """A range as text: [0, 1], [0, inf), (-inf, 1]."""

    def bound(value: float) -> str:
        return "inf" if value == math.inf else "-inf" if value == -math.inf else f"{value:g}"

    return f"{'(' if math.isinf(low) else '['}{bound(low)}, {bound(high)}{')' if math.isinf(high) else ']'}"


_CLASSIFICATION = (BINARY, MULTICLASS)

METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("accuracy", "Accuracy", _CLASSIFICATION, True, "labels", margin=0.002, notable=0.01),
        MetricInfo(
            "balanced_accuracy",
            "Balanced accuracy",
            _CLASSIFICATION,
            True,
            "labels",
            margin=0.005,
            notable=0.02,
        ),
        MetricInfo(
            "precision", "Precision (positive class)", (BINARY,), True, "labels", margin=0.01, notable=0.02
        ),
        MetricInfo("recall", "Recall (positive class)", (BINARY,), True, "labels", margin=0.01, notable=0.02),
        MetricInfo("f1", "F1 (positive class)", (BINARY,), True, "labels", margin=0.01, notable=0.02),
        MetricInfo(
            "precision_macro",
            "Precision (macro)",
            _CLASSIFICATION,
            True,
            "labels",
            margin=0.005,
            notable=0.02,
        ),
        MetricInfo(
            "recall_macro", "Recall (macro)", _CLASSIFICATION, True, "labels", margin=0.005, notable=0.02
        ),
        MetricInfo("f1_macro", "F1 (macro)", _CLASSIFICATION, True, "labels", margin=0.005, notable=0.02),
        MetricInfo("roc_auc", "ROC AUC", _CLASSIFICATION, True, "scores", margin=0.001, notable=0.005),
        MetricInfo(
            "pr_auc",
            "PR AUC (average precision)",
            _CLASSIFICATION,
            True,
            "scores",
            margin=0.002,
            notable=0.01,
        ),
        MetricInfo(
            "log_loss",
            "Log loss",
            _CLASSIFICATION,
            False,
            "scores",
            high=math.inf,
            margin=0.002,
            notable=0.01,
        ),
        # multiclass Brier sums the squared one-hot differences over the classes: at most 2
        MetricInfo(
            "brier",
            "Brier score",
            _CLASSIFICATION,
            False,
            "scores",
            multiclass_high=2.0,
            margin=0.001,
            notable=0.005,
        ),
        MetricInfo(
            "rmse",
            "RMSE",
            (REGRESSION,),
            False,
            "values",
            high=math.inf,
            margin=0.001,
            notable=0.005,
            relative_sizes=True,
        ),
        MetricInfo(
            "mae",
            "MAE",
            (REGRESSION,),
            False,
            "values",
            high=math.inf,
            margin=0.001,
            notable=0.005,
            relative_sizes=True,
        ),
        MetricInfo("r2", "R²", (REGRESSION,), True, "values", low=-math.inf, margin=0.002, notable=0.01),
        MetricInfo(
            "mape",
            "MAPE",
            (REGRESSION,),
            False,
            "values",
            high=math.inf,
            margin=0.001,
            notable=0.005,
            relative_sizes=True,
        ),
    )
}

DEFAULT_PRIMARY = {BINARY: "roc_auc", MULTICLASS: "f1_macro", REGRESSION: "rmse"}


def metrics_for_task(task: str) -> list[str]:
    """Every metric name that applies to the task, in catalogue order."""
    return [name for name, info in METRICS.items() if task in info.tasks]
