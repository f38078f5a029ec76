"""Leakage guard: features whose association with the target is suspiciously high.

Association, in [0, 1], per feature (rows where the feature or the target is missing are left out):
- numeric feature, numeric target: |Pearson r|;
- numeric feature, two-class target: |point-biserial r| (Pearson with the classes coded 0/1);
- numeric feature, target with more classes: correlation ratio (eta) of the feature by class,
  adjusted for the number of classes;
- categorical feature, numeric target: correlation ratio of the target by category, adjusted for the
  number of categories (so an id-like column with one row per value scores 0, not 1);
- categorical feature, class target: Cramer's V with Bergsma's bias correction.
A numeric target with at most two distinct values is a two-class target; an integer target with at most
``MAX_CLASSES`` distinct values has classes. The id and target columns are never features.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_actions.domain.data.chunks import CategoricalColumn, Chunk, NumericColumn, TableInfo

if TYPE_CHECKING:
    import numpy as np

MAX_CLASSES = 20
MAX_FEATURE_CATEGORIES = 1000
DEFAULT_LEAKAGE_THRESHOLD = 0.95


@dataclass
class Association:
    column: str
    association: float
    method: str


@dataclass
class _Collected:
    kind: str  # numeric | categorical
    parts: list[np.ndarray] = field(default_factory=list)
    names: dict[str, int] = field(default_factory=dict)
    overflow: bool = False


class LeakageCollector:
    """Chunk consumer that keeps the target and feature columns needed to measure associations."""

    def __init__(self, target: str, exclude: tuple[str, ...] = ()):
        self.target = target
        self.exclude = set(exclude) | {target}

    def start(self, info: TableInfo) -> None:
        self.present = self.target in info.dtypes
        self.collected: dict[str, _Collected] = {}
        for name, dtype in info.dtypes.items():
            if name in self.exclude and name != self.target:
                continue
            if dtype in ("int", "float"):
                self.collected[name] = _Collected("numeric")
            elif dtype in ("string", "bool"):
                self.collected[name] = _Collected("categorical")
        self.target_dtype = info.dtypes.get(self.target, "null")

    def update(self, chunk: Chunk) -> None:
        import numpy as np

        for name, collected in self.collected.items():
            if collected.overflow:
                continue
            column = chunk.columns[name]
            if isinstance(column, NumericColumn):
                collected.parts.append(np.array(column.values, dtype=float))
            elif isinstance(column, CategoricalColumn):
                names = column.names() if len(column.dictionary) <= MAX_FEATURE_CATEGORIES else None
                if names is None:
                    collected.overflow, collected.parts = True, []
                    continue
                mapping = np.array(
                    [collected.names.setdefault(n, len(collected.names)) for n in names] + [-1]
                )
                collected.parts.append(mapping[np.where(column.codes >= 0, column.codes, len(names))])
                if len(collected.names) > MAX_FEATURE_CATEGORIES:
                    collected.overflow, collected.parts = True, []

    def finish(self) -> list[Association]:
        """Associations of every usable feature with the target, largest first."""
        import numpy as np

        if not self.present or self.target not in self.collected or self.collected[self.target].overflow:
            return []
        target = self.collected[self.target]
        y = np.concatenate(target.parts) if target.parts else np.empty(0)
        if target.kind == "numeric":
            finite = np.isfinite(y)
            distinct = np.unique(y[finite])
            if len(distinct) <= 2 or (self.target_dtype == "int" and len(distinct) <= MAX_CLASSES):
                classes = np.full(len(y), -1, dtype=np.int64)
                classes[finite] = np.searchsorted(distinct, y[finite])
                target_kind, y_classes, y_numeric = "classes", classes, None
            else:
                target_kind, y_classes, y_numeric = "numeric", None, y
        else:
            target_kind, y_classes, y_numeric = "classes", y.astype(np.int64), None
        results: list[Association] = []
        for name, collected in self.collected.items():
            if name == self.target or collected.overflow or not collected.parts:
                continue
            x = np.concatenate(collected.parts)
            if collected.kind == "numeric":
                if target_kind == "numeric":
                    assert y_numeric is not None
                    value, method = _pearson(x, y_numeric), "pearson"
                else:
                    assert y_classes is not None
                    present = np.isfinite(x) & (y_classes >= 0)
                    k = len(np.unique(y_classes[present]))
                    if k <= 2:
                        value, method = (
                            _pearson(x[present], y_classes[present].astype(float)),
                            "point_biserial",
                        )
                    else:
                        value, method = (
                            _correlation_ratio(y_classes[present], x[present]),
                            "correlation_ratio",
                        )
            else:
                codes = x.astype(np.int64)
                if target_kind == "numeric":
                    assert y_numeric is not None
                    present = (codes >= 0) & np.isfinite(y_numeric)
                    value = _correlation_ratio(codes[present], y_numeric[present])
                    method = "correlation_ratio"
                else:
                    assert y_classes is not None
                    present = (codes >= 0) & (y_classes >= 0)
                    value, method = _cramers_v(codes[present], y_classes[present]), "cramers_v"
            if math.isfinite(value):
                results.append(Association(name, float(value), method))
        results.sort(key=lambda a: -a.association)
        return results


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    import numpy as np

    present = np.isfinite(x) & np.isfinite(y)
    x, y = x[present], y[present]
    if len(x) < 3:
        return float("nan")
    x = x - x.mean()
    y = y - y.mean()
    denominator = math.sqrt(float(x @ x) * float(y @ y))
    return abs(float(x @ y)) / denominator if denominator > 0 else float("nan")


def _correlation_ratio(groups: np.ndarray, values: np.ndarray) -> float:
    """Eta of values by group, adjusted like R^2 for the number of groups."""
    import numpy as np

    n = len(values)
    if n < 3:
        return float("nan")
    _, inverse = np.unique(groups, return_inverse=True)
    k = int(inverse.max()) + 1 if n else 0
    counts = np.bincount(inverse, minlength=k)
    means = np.bincount(inverse, weights=values, minlength=k) / np.maximum(counts, 1)
    total = float(np.sum((values - values.mean()) ** 2))
    if total <= 0 or n - k <= 0:
        return 0.0
    within = float(np.sum((values - means[inverse]) ** 2))
    eta_squared = 1 - within / total
    adjusted = 1 - (1 - eta_squared) * (n - 1) / (n - k)
    return math.sqrt(max(0.0, min(1.0, adjusted)))


def _cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    """Bias-corrected Cramer's V of two code arrays (Bergsma 2013)."""
    import numpy as np

    n = len(a)
    if n < 3:
        return float("nan")
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    r, k = int(ia.max()) + 1, int(ib.max()) + 1
    if r < 2 or k < 2:
        return 0.0
    table = np.bincount(ia * k + ib, minlength=r * k).reshape(r, k).astype(float)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
    chi2 = float(np.sum((table - expected) ** 2 / np.where(expected > 0, expected, 1)))
    phi2 = max(0.0, chi2 / n - (k - 1) * (r - 1) / (n - 1))
    r_corr = r - (r - 1) ** 2 / (n - 1)
    k_corr = k - (k - 1) ** 2 / (n - 1)
    denominator = min(k_corr - 1, r_corr - 1)
    return math.sqrt(min(1.0, phi2 / denominator)) if denominator > 0 else 0.0


def leakage_summary(associations: list[Association], threshold: float, target: str) -> dict[str, Any]:
    """The 'leakage' section of the data checks: flagged features and status (warn at most)."""
    flagged = [
        {"column": a.column, "association": round(a.association, 6), "method": a.method}
        for a in associations
        if a.association >= threshold
    ]
    return {
        "threshold": threshold,
        "status": "warn" if flagged else "pass",
        "flagged": flagged,
        "target": target,
    }
