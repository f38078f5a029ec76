"""What a profile holds: per-column summaries, pairwise co-moments, and the table's Profile.

A numeric column keeps counts of finite, missing and infinite values, the mean and the sum of squared
deviations, min and max, and a histogram on fixed bins (per-bin counts and sums; the deciles are a
subset of the edges); small columns also keep their values. A categorical column keeps the count of
every value up to a limit of distinct values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_actions.errors import DataError

if TYPE_CHECKING:
    import numpy as np

DEFAULT_EDGE_ROWS = 100_000
EXACT_VALUES_LIMIT = 5_000
MAX_TRACKED_CATEGORIES = 1_000


@dataclass
class NumericProfile:
    """Summary of a numeric column (see the module docstring)."""

    dtype: str
    count: int = 0
    missing: int = 0
    infinite: int = 0
    mean: float = 0.0
    m2: float = 0.0
    min: float | None = None
    max: float | None = None
    edges: np.ndarray | None = None
    decile_edges: np.ndarray | None = None
    bin_counts: np.ndarray | None = None
    bin_sums: np.ndarray | None = None
    values: np.ndarray | None = None
    kind: str = "numeric"

    @property
    def std(self) -> float:
        """Sample standard deviation of the finite values (0 for fewer than two)."""
        return math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 and self.m2 > 0 else 0.0

    def decile_counts(self) -> np.ndarray:
        """Counts in the decile bins (-inf, d1), [d1, d2), ..., [d9, inf), from the fine bins."""
        import numpy as np

        if self.edges is None or self.bin_counts is None or self.decile_edges is None:
            raise DataError("profile has no bins for this column")
        lower = np.concatenate([[-np.inf], self.edges])
        groups = np.searchsorted(self.decile_edges, lower, side="right")
        return np.bincount(groups, weights=self.bin_counts, minlength=len(self.decile_edges) + 1).astype(
            np.int64
        )


@dataclass
class CategoricalProfile:
    """Summary of a string or boolean column: value counts (None past max_categories distinct values)."""

    dtype: str
    count: int = 0
    missing: int = 0
    counts: dict[str, int] | None = field(default_factory=dict)
    kind: str = "categorical"


@dataclass
class OtherProfile:
    """Summary of a date or empty column: only counts of present and missing values."""

    dtype: str
    count: int = 0
    missing: int = 0
    kind: str = "other"


ColumnProfile = NumericProfile | CategoricalProfile | OtherProfile


@dataclass
class CorrelationProfile:
    """Pairwise co-moments of numeric columns over the rows where both values are finite.

    n[i, j] rows; mean[i, j] and m2[i, j] are column i's mean and sum of squared deviations over
    those rows; comoment[i, j] the sum of products of deviations (symmetric).
    """

    columns: list[str]
    n: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    comoment: np.ndarray

    def matrix(self) -> np.ndarray:
        """Pearson correlations (NaN where a column is constant or pairs are too few)."""
        import numpy as np

        denominator = np.sqrt(self.m2 * self.m2.T)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where((denominator > 0) & (self.n > 1), self.comoment / denominator, np.nan)
        return np.clip(r, -1.0, 1.0)


@dataclass
class Profile:
    """A mergeable summary of a table."""

    rows: int
    columns: dict[str, ColumnProfile]
    correlation: CorrelationProfile | None = None
    edge_rows: int = DEFAULT_EDGE_ROWS
    sources: list[str] = field(default_factory=list)


def empty_values() -> np.ndarray:
    """No exact values yet (a numeric column starts keeping them)."""
    import numpy as np

    return np.empty(0)


def set_edges(column: NumericProfile, edges: Any, decile_edges: Any) -> None:
    """Give the column these bin edges, with every bin empty."""
    import numpy as np

    column.edges = np.asarray(edges, dtype=float)
    column.decile_edges = np.asarray(decile_edges if decile_edges is not None else [], dtype=float)
    column.bin_counts = np.zeros(len(column.edges) + 1, dtype=np.int64)
    column.bin_sums = np.zeros(len(column.edges) + 1)


def empty_correlation(columns: list[str]) -> CorrelationProfile:
    """Co-moments of no rows for these columns."""
    import numpy as np

    k = len(columns)
    return CorrelationProfile(
        columns=list(columns),
        n=np.zeros((k, k)),
        mean=np.zeros((k, k)),
        m2=np.zeros((k, k)),
        comoment=np.zeros((k, k)),
    )
