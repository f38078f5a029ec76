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
    low, high = float(finite.min()), float(finite.max())
    chunk_mean = float(finite.mean())
    deviations = np.subtract(finite, chunk_mean, out=scratch.second(len(finite)))
    chunk_m2 = float(np.dot(deviations, deviations))
    n, mean, m2 = chan_merge(column.count, column.mean, column.m2, len(finite), chunk_mean, chunk_m2)
    column.count, column.mean, column.m2 = int(n), float(mean), float(m2)
    column.min = low if column.min is None else min(column.min, low)
    column.max = high if column.max is None else max(column.max, high)
    if column.values is not None:
        column.values = np.concatenate([column.values, finite]) if column.count <= exact_limit else None
    if bins and column.edges is not None:
        _add_to_bins(column, finite)


def count_bins(column: NumericProfile, values: np.ndarray, scratch: Scratch) -> None:
    """Add the finite values to the fixed bins."""
    import numpy as np

    finite = values[np.isfinite(values)]
    if len(finite):
        _add_to_bins(column, finite)


LOOKUP_CELLS = 4096  # cells of the lookup table that places values in their bins
FEW_EDGES = 16  # with this few edges a binary search is as fast as the table


def bin_indices(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The bin of every finite value: i where edges[i-1] <= value < edges[i] (0 below the first edge,
    len(edges) from the last one on); exactly ``searchsorted(edges, values, side="right")``.

    A table of equal-width cells between the first and last edge gives each value its cell's first bin in
    one step; the values that this guess puts in the wrong bin (those in a cell holding an edge, and those
    outside the edges) are placed by a binary search. Several times faster than sorting the chunk.
    """
    import numpy as np

    if len(edges) <= FEW_EDGES or not edges[-1] > edges[0]:
        return np.searchsorted(edges, values, side="right")
    low_edge = edges[0]
    scale = LOOKUP_CELLS / (edges[-1] - low_edge)
    first_bin = np.searchsorted(edges, low_edge + np.arange(LOOKUP_CELLS) / scale, side="right")
    cell = np.subtract(values, low_edge)
    cell *= scale
    np.clip(cell, 0, LOOKUP_CELLS - 1, out=cell)
    guess = first_bin[cell.astype(np.intp)]
    upper = np.append(edges, np.inf)
    lower = np.insert(edges, 0, -np.inf)
    wrong = values >= upper[guess]
    wrong |= values < lower[guess]
    if wrong.any():
        where = np.flatnonzero(wrong)
        guess[where] = np.searchsorted(edges, values[where], side="right")
    return guess


def _add_to_bins(column: NumericProfile, finite: np.ndarray) -> None:
    """Count the finite values in the fixed bins, and sum them per bin."""
    import numpy as np

    assert column.edges is not None and column.bin_counts is not None and column.bin_sums is not None
    size = len(column.edges) + 1
    bins = bin_indices(column.edges, finite)
    column.bin_counts += np.bincount(bins, minlength=size)
    column.bin_sums += np.bincount(bins, weights=finite, minlength=size)


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
