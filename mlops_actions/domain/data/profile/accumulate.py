"""Adding one chunk's values to column profiles: moments (Chan's formula), min/max, fixed bins, exact
values, category counts, and the chunk's pairwise co-moments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_actions.domain.data.profile.summaries import CategoricalProfile, CorrelationProfile, NumericProfile
from mlops_actions.domain.data.stats import chan_merge

if TYPE_CHECKING:
    import numpy as np


class Scratch:
    """Reusable work buffers, so chunks of the same size do not allocate fresh memory every time."""

    def __init__(self) -> None:
        self._vector: np.ndarray | None = None
        self._second: np.ndarray | None = None
        self._matrix: np.ndarray | None = None

    def second(self, size: int) -> np.ndarray:
        import numpy as np

        if self._second is None or len(self._second) < size:
            self._second = np.empty(size)
        return self._second[:size]

    def vector(self, size: int) -> np.ndarray:
        import numpy as np

        if self._vector is None or len(self._vector) < size:
            self._vector = np.empty(size)
        return self._vector[:size]

    def matrix(self, rows: int, size: int) -> np.ndarray:
        import numpy as np

        if self._matrix is None or self._matrix.shape[0] != rows or self._matrix.shape[1] < size:
            self._matrix = np.empty((rows, size))
        return self._matrix[:, :size]


def update_numeric(
    column: NumericProfile, values: np.ndarray, exact_limit: int, scratch: Scratch, *, bins: bool
) -> None:
    """Add a chunk's values: missing and infinite counts, moments (Chan), min/max, bins, exact values."""
    import numpy as np

    finite_mask = np.isfinite(values)
    all_finite = bool(finite_mask.all())
    finite = values if all_finite else values[finite_mask]
    nan = 0 if all_finite else int(np.count_nonzero(np.isnan(values)))
    column.missing += nan
    column.infinite += len(values) - len(finite) - nan
    if len(finite) == 0:
        return
    binned = bins and column.edges is not None
    if binned:  # sorted once: gives min, max and the bin counts
        ordered = scratch.vector(len(finite))
        ordered[:] = finite
        ordered.sort()
        low, high = float(ordered[0]), float(ordered[-1])
    else:
        ordered = finite
        low, high = float(finite.min()), float(finite.max())
    chunk_mean = float(ordered.mean())
    deviations = np.subtract(ordered, chunk_mean, out=scratch.second(len(finite)))
    chunk_m2 = float(np.dot(deviations, deviations))
    n, mean, m2 = chan_merge(column.count, column.mean, column.m2, len(finite), chunk_mean, chunk_m2)
    column.count, column.mean, column.m2 = int(n), float(mean), float(m2)
    column.min = low if column.min is None else min(column.min, low)
    column.max = high if column.max is None else max(column.max, high)
    if column.values is not None:
        column.values = np.concatenate([column.values, finite]) if column.count <= exact_limit else None
    if binned:
        _add_sorted_to_bins(column, ordered)


def count_bins(column: NumericProfile, values: np.ndarray, scratch: Scratch) -> None:
    """Add the finite values to the fixed bins."""
    import numpy as np

    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return
    ordered = scratch.vector(len(finite))
    ordered[:] = finite
    ordered.sort()
    _add_sorted_to_bins(column, ordered)


def _add_sorted_to_bins(column: NumericProfile, ordered: np.ndarray) -> None:
    """Cut sorted values at the edges: counts from the cut positions, sums per run."""
    import numpy as np

    assert column.edges is not None and column.bin_counts is not None and column.bin_sums is not None
    cuts = np.searchsorted(ordered, column.edges, side="left")
    bounds = np.concatenate([[0], cuts, [len(ordered)]])
    counts = np.diff(bounds)
    sums = np.zeros(len(counts))
    occupied = counts > 0
    sums[occupied] = np.add.reduceat(ordered, bounds[:-1][occupied])
    column.bin_counts += counts
    column.bin_sums += sums


def update_categorical(column: CategoricalProfile, data: Any, max_categories: int) -> None:
    """Add a chunk's codes: missing count, and value counts until more than max_categories are seen."""
    import numpy as np

    codes = data.codes
    present = codes >= 0
    missing = len(codes) - int(np.count_nonzero(present))
    column.missing += missing
    column.count += len(codes) - missing
    if column.counts is None:
        return
    if len(data.dictionary) > max_categories:
        column.counts = None
        return
    tallies = np.bincount(codes[present], minlength=len(data.dictionary))
    counts = column.counts
    for name, tally in zip(data.names(), tallies.tolist(), strict=False):
        if tally:
            counts[name] = counts.get(name, 0) + tally
    if len(counts) > max_categories:
        column.counts = None


def chunk_correlation(columns: list[str], stacked: np.ndarray) -> CorrelationProfile:
    """Pairwise co-moments of one chunk; stacked holds one numeric column per row (k x rows)."""
    import numpy as np

    k, rows = stacked.shape
    valid = np.isfinite(stacked)
    if valid.all():
        mean = stacked.mean(axis=1)
        stacked -= mean[:, None]
        comoment = stacked @ stacked.T
        m2 = np.diag(comoment).copy()
        return CorrelationProfile(
            columns=list(columns),
            n=np.full((k, k), float(rows)),
            mean=np.repeat(mean[:, None], k, axis=1),
            m2=np.repeat(m2[:, None], k, axis=1),
            comoment=comoment,
        )
    weights = valid.astype(float)
    counts = valid.sum(axis=1)
    shift = np.where(counts > 0, np.where(valid, stacked, 0.0).sum(axis=1) / np.maximum(counts, 1), 0.0)
    shifted = np.where(valid, stacked - shift[:, None], 0.0)
    n = weights @ weights.T
    sums = shifted @ weights.T  # sums[i, j]: column i over rows where i and j are finite
    squares = np.square(shifted) @ weights.T
    products = shifted @ shifted.T
    safe = np.where(n > 0, n, 1.0)
    return CorrelationProfile(
        columns=list(columns),
        n=n,
        mean=np.where(n > 0, sums / safe + shift[:, None], 0.0),
        m2=np.where(n > 0, np.maximum(squares - sums**2 / safe, 0.0), 0.0),
        comoment=np.where(n > 0, products - sums * sums.T / safe, 0.0),
    )
