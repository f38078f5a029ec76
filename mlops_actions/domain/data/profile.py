"""Mergeable data profiles: one pass over chunks, bounded memory, JSON round trip, exact merges.

A profile summarises a table per column. Numeric columns keep counts of finite, missing and infinite
values, the mean and the sum of squared deviations (merged with Chan's formula), min and max, and a
histogram on fixed bins: the percentiles 1..99 of the column's first ``edge_rows`` rows (or the bins of
another profile, ``edges_from``), with per-bin counts and sums. The deciles are a subset of these edges.
Small columns also keep their values, for exact tests. Categorical columns keep the count of every
value up to ``max_categories`` distinct values. Numeric pairs keep co-moments for correlations.

Counts add up and moments merge exactly, so the profile of a file's shards merged together equals
the profile of the whole file, provided the shards share the same bins (build the later shards with
``edges_from`` the first one's profile).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.domain.data.chunks import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_CHUNK_ROWS,
    CategoricalColumn,
    Chunk,
    NumericColumn,
    OtherColumn,
    TableInfo,
    scan_frame,
    scan_table,
)
from mlops_actions.domain.data.stats import chan_merge
from mlops_actions.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

PROFILE_FORMAT = "mlops-actions/data-profile"
PROFILE_VERSION = 1
DEFAULT_EDGE_ROWS = 100_000
EXACT_VALUES_LIMIT = 5_000
MAX_TRACKED_CATEGORIES = 1_000
MAX_CORRELATION_COLUMNS = 50
FINE_BINS = 100


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


class ProfileBuilder:
    """Chunk consumer that builds a Profile in one pass (see scan_table)."""

    def __init__(
        self,
        *,
        edges_from: Profile | None = None,
        edge_rows: int = DEFAULT_EDGE_ROWS,
        bins: bool = True,
        correlation: bool = True,
        exact_values_limit: int = EXACT_VALUES_LIMIT,
        max_categories: int = MAX_TRACKED_CATEGORIES,
        max_correlation_columns: int = MAX_CORRELATION_COLUMNS,
    ):
        self.edges_from = edges_from
        self.edge_rows = max(1, edge_rows)
        self.bins = bins
        self.correlation = correlation
        self.exact_values_limit = exact_values_limit
        self.max_categories = max_categories
        self.max_correlation_columns = max_correlation_columns
        self.source = ""
        self.scratch = _Scratch()

    def start(self, info: TableInfo) -> None:
        self.source = info.path
        self.rows = 0
        self.columns: dict[str, ColumnProfile] = {}
        self.pending: dict[str, list[np.ndarray]] = {}
        self.pending_rows = 0
        for name, dtype in info.dtypes.items():
            reference = self.edges_from.columns.get(name) if self.edges_from else None
            if dtype == "null" and isinstance(reference, (NumericProfile, CategoricalProfile)):
                dtype = reference.dtype  # an empty column is profiled like the reference's
            if dtype in ("int", "float"):
                column = NumericProfile(dtype=dtype, values=_empty_values())
                if not self.bins:
                    pass
                elif isinstance(reference, NumericProfile) and reference.edges is not None:
                    _set_edges(column, reference.edges, reference.decile_edges)
                else:
                    self.pending[name] = []
                self.columns[name] = column
            elif dtype in ("string", "bool"):
                self.columns[name] = CategoricalProfile(dtype=dtype)
            else:
                self.columns[name] = OtherProfile(dtype=dtype)
        numeric = [n for n, c in self.columns.items() if isinstance(c, NumericProfile)]
        self.correlated = numeric[: self.max_correlation_columns] if self.correlation else []
        self.pairs: CorrelationProfile | None = (
            _empty_correlation(self.correlated) if self.correlated else None
        )

    def update(self, chunk: Chunk) -> None:
        import numpy as np

        self.rows += chunk.rows
        numeric_work = []
        for name, column in self.columns.items():
            data = chunk.columns[name]
            if isinstance(data, OtherColumn) and not isinstance(column, OtherProfile):
                data = _as_missing(data, column)
            if isinstance(column, NumericProfile):
                assert isinstance(data, NumericColumn)
                if name in self.pending:
                    self.pending[name].append(data.values)
                numeric_work.append((column, data.values, name not in self.pending))
            elif isinstance(column, CategoricalProfile):
                _update_categorical(column, data, self.max_categories)
            else:
                missing = int(np.count_nonzero(data.missing))
                column.missing += missing
                column.count += chunk.rows - missing
        for column, values, binned in numeric_work:
            _update_numeric(column, values, self.exact_values_limit, self.scratch, bins=binned)
        if self.pending:
            self.pending_rows += chunk.rows
            if self.pending_rows >= self.edge_rows:
                self._fix_edges()
        if self.pairs is not None and chunk.rows:
            stacked = self.scratch.matrix(len(self.correlated), chunk.rows)
            for row, name in enumerate(self.correlated):
                data = chunk.columns[name]
                stacked[row] = data.values if isinstance(data, NumericColumn) else np.nan
            self.pairs = merge_correlations(self.pairs, _chunk_correlation(self.correlated, stacked))

    def _fix_edges(self) -> None:
        import numpy as np

        for name, parts in self.pending.items():
            column = self.columns[name]
            assert isinstance(column, NumericProfile)
            values = np.concatenate(parts) if parts else np.empty(0)
            sample = values[: self.edge_rows]
            sample = sample[np.isfinite(sample)]
            if len(sample):
                fine = np.quantile(sample, np.arange(1, FINE_BINS) / FINE_BINS)
                deciles = fine[FINE_BINS // 10 - 1 :: FINE_BINS // 10]
                _set_edges(column, np.unique(fine), np.unique(deciles))
            else:
                _set_edges(column, np.empty(0), np.empty(0))
            _count_bins(column, values, self.scratch)
        self.pending = {}

    def finish(self) -> Profile:
        """The profile of everything seen since start()."""
        if self.pending:
            self._fix_edges()
        return Profile(
            rows=self.rows,
            columns=self.columns,
            correlation=self.pairs,
            edge_rows=self.edge_rows,
            sources=[self.source] if self.source else [],
        )


def _as_missing(data: OtherColumn, column: ColumnProfile) -> NumericColumn | CategoricalColumn:
    """An all-empty column seen as a column of the profile's kind with every value missing."""
    import numpy as np

    if isinstance(column, NumericProfile):
        return NumericColumn(np.full(len(data.missing), np.nan), column.dtype)
    return CategoricalColumn(np.full(len(data.missing), -1, dtype=np.int64), [], column.dtype)


def _empty_values() -> np.ndarray:
    import numpy as np

    return np.empty(0)


def _set_edges(column: NumericProfile, edges: Any, decile_edges: Any) -> None:
    import numpy as np

    column.edges = np.asarray(edges, dtype=float)
    column.decile_edges = np.asarray(decile_edges if decile_edges is not None else [], dtype=float)
    column.bin_counts = np.zeros(len(column.edges) + 1, dtype=np.int64)
    column.bin_sums = np.zeros(len(column.edges) + 1)


class _Scratch:
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


def _update_numeric(
    column: NumericProfile, values: np.ndarray, exact_limit: int, scratch: _Scratch, *, bins: bool
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


def _count_bins(column: NumericProfile, values: np.ndarray, scratch: _Scratch) -> None:
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


def _update_categorical(column: CategoricalProfile, data: Any, max_categories: int) -> None:
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


def _empty_correlation(columns: list[str]) -> CorrelationProfile:
    import numpy as np

    k = len(columns)
    return CorrelationProfile(
        columns=list(columns),
        n=np.zeros((k, k)),
        mean=np.zeros((k, k)),
        m2=np.zeros((k, k)),
        comoment=np.zeros((k, k)),
    )


def _chunk_correlation(columns: list[str], stacked: np.ndarray) -> CorrelationProfile:
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


def _correlated(profile: Profile, name: str) -> bool:
    return profile.correlation is not None and name in profile.correlation.columns


def _aligned_correlation(correlation: CorrelationProfile | None, columns: list[str]) -> CorrelationProfile:
    """The co-moments laid out on the given columns (pairs never seen have n = 0)."""
    import numpy as np

    aligned = _empty_correlation(columns)
    if correlation is None:
        return aligned
    positions = [columns.index(c) for c in correlation.columns if c in columns]
    kept = [i for i, c in enumerate(correlation.columns) if c in columns]
    grid = np.ix_(positions, positions)
    source = np.ix_(kept, kept)
    for field_name in ("n", "mean", "m2", "comoment"):
        getattr(aligned, field_name)[grid] = getattr(correlation, field_name)[source]
    return aligned


def merge_correlations(a: CorrelationProfile, b: CorrelationProfile) -> CorrelationProfile:
    """Co-moments of the union of two row sets (Chan's formula per pair)."""
    import numpy as np

    if a.columns != b.columns:
        raise DataError("cannot merge profiles: their correlated columns differ")
    n, mean, m2 = chan_merge(a.n, a.mean, a.m2, b.n, b.mean, b.m2)
    safe = np.where(n > 0, n, 1.0)
    delta = b.mean - a.mean
    comoment = a.comoment + b.comoment + delta * delta.T * a.n * b.n / safe
    return CorrelationProfile(columns=list(a.columns), n=n, mean=mean, m2=m2, comoment=comoment)


# ---------------------------------------------------------------- building


def build_profile(
    path: str | Path,
    *,
    columns: list[str] | None = None,
    edges_from: Profile | None = None,
    edge_rows: int = DEFAULT_EDGE_ROWS,
    bins: bool = True,
    correlation: bool = True,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Profile:
    """Profile a CSV or Parquet file in one pass over chunks; a DataError when it has no rows."""
    builder = ProfileBuilder(edges_from=edges_from, edge_rows=edge_rows, bins=bins, correlation=correlation)
    info = scan_table(path, [builder], columns=columns, chunk_bytes=chunk_bytes, chunk_rows=chunk_rows)
    if info.rows == 0:
        raise DataError(f"{path}: data file has no rows, expected at least one")
    return builder.finish()


def profile_frame(
    frame: pd.DataFrame,
    *,
    edges_from: Profile | None = None,
    edge_rows: int = DEFAULT_EDGE_ROWS,
    correlation: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    name: str = "<frame>",
) -> Profile:
    """Profile an in-memory DataFrame (same result as writing it to a file and profiling that)."""
    builder = ProfileBuilder(edges_from=edges_from, edge_rows=edge_rows, correlation=correlation)
    scan_frame(frame, [builder], chunk_rows=chunk_rows, name=name)
    return builder.finish()


# ---------------------------------------------------------------- merging


def merge_profiles(a: Profile, b: Profile) -> Profile:
    """The profile of the union of two tables' rows; both must share columns, kinds and bins."""
    if list(a.columns) != list(b.columns):
        raise DataError(
            f"cannot merge profiles with different columns: {sorted(set(a.columns) ^ set(b.columns))}"
        )
    merged: dict[str, ColumnProfile] = {}
    for name, left in a.columns.items():
        right = b.columns[name]
        left, right = _promote_empty(left, right, a.rows), _promote_empty(right, left, b.rows)
        if left.kind != right.kind:
            raise DataError(f"cannot merge profiles: column '{name}' is {left.kind} and {right.kind}")
        dtype = left.dtype if left.dtype == right.dtype else _wider_dtype(left.dtype, right.dtype)
        if isinstance(left, NumericProfile) and isinstance(right, NumericProfile):
            merged[name] = _merge_numeric(name, left, right, dtype)
        elif isinstance(left, CategoricalProfile) and isinstance(right, CategoricalProfile):
            counts: dict[str, int] | None = None
            if left.counts is not None and right.counts is not None:
                counts = dict(left.counts)
                for key, value in right.counts.items():
                    counts[key] = counts.get(key, 0) + value
                if len(counts) > MAX_TRACKED_CATEGORIES:
                    counts = None
            merged[name] = CategoricalProfile(
                dtype=dtype,
                count=left.count + right.count,
                missing=left.missing + right.missing,
                counts=counts,
            )
        else:
            merged[name] = OtherProfile(
                dtype=dtype, count=left.count + right.count, missing=left.missing + right.missing
            )
    numeric = [name for name, column in merged.items() if isinstance(column, NumericProfile)]
    correlated = [name for name in numeric if _correlated(a, name) or _correlated(b, name)]
    correlation = None
    if correlated and (a.correlation is not None or b.correlation is not None):
        correlation = merge_correlations(
            _aligned_correlation(a.correlation, correlated), _aligned_correlation(b.correlation, correlated)
        )
    return Profile(
        rows=a.rows + b.rows,
        columns=merged,
        correlation=correlation,
        edge_rows=a.edge_rows,
        sources=a.sources + b.sources,
    )


def _promote_empty(column: ColumnProfile, other: ColumnProfile, rows: int) -> ColumnProfile:
    """An all-empty column (dtype null) as a column of the other's kind with every value missing."""
    if column.dtype != "null" or not isinstance(column, OtherProfile):
        return column
    if isinstance(other, NumericProfile):
        promoted = NumericProfile(dtype=other.dtype, missing=column.missing, values=_empty_values())
        if other.edges is not None:
            _set_edges(promoted, other.edges, other.decile_edges)
        return promoted
    if isinstance(other, CategoricalProfile):
        return CategoricalProfile(dtype=other.dtype, missing=column.missing, counts={})
    return column


def _wider_dtype(first: str, second: str) -> str:
    pair = {first, second}
    if pair == {"int", "float"}:
        return "float"
    if "null" in pair:
        return (pair - {"null"}).pop()
    return "string"


def _merge_numeric(name: str, left: NumericProfile, right: NumericProfile, dtype: str) -> NumericProfile:
    import numpy as np

    n, mean, m2 = chan_merge(left.count, left.mean, left.m2, right.count, right.mean, right.m2)
    result = NumericProfile(
        dtype=dtype,
        count=int(n),
        missing=left.missing + right.missing,
        infinite=left.infinite + right.infinite,
        mean=float(mean),
        m2=float(m2),
        min=_pick(min, left.min, right.min),
        max=_pick(max, left.max, right.max),
    )
    if (left.edges is None) != (right.edges is None):
        raise DataError(f"cannot merge profiles: column '{name}' has bins in one profile only")
    if left.edges is not None and right.edges is not None:
        if not np.array_equal(left.edges, right.edges):
            raise DataError(
                f"cannot merge profiles: column '{name}' has different bins; "
                "profile every shard with the bins of the first (data profile --bins-from)"
            )
        _set_edges(result, left.edges, left.decile_edges)
        result.bin_counts = left.bin_counts + right.bin_counts  # type: ignore[operator]
        result.bin_sums = left.bin_sums + right.bin_sums  # type: ignore[operator]
    if left.values is not None and right.values is not None and result.count <= EXACT_VALUES_LIMIT:
        result.values = np.concatenate([left.values, right.values])
    return result


def _pick(choose: Any, first: float | None, second: float | None) -> float | None:
    if first is None:
        return second
    if second is None:
        return first
    return float(choose(first, second))


# ---------------------------------------------------------------- JSON


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    """A JSON-serialisable dict (strict JSON: no NaN or infinity)."""
    columns: dict[str, Any] = {}
    for name, column in profile.columns.items():
        if isinstance(column, NumericProfile):
            columns[name] = {
                "kind": "numeric",
                "dtype": column.dtype,
                "count": column.count,
                "missing": column.missing,
                "infinite": column.infinite,
                "mean": column.mean,
                "m2": column.m2,
                "min": column.min,
                "max": column.max,
                "edges": _floats(column.edges),
                "decile_edges": _floats(column.decile_edges),
                "bin_counts": None if column.bin_counts is None else [int(v) for v in column.bin_counts],
                "bin_sums": _floats(column.bin_sums),
                "values": _floats(column.values),
            }
        elif isinstance(column, CategoricalProfile):
            columns[name] = {
                "kind": "categorical",
                "dtype": column.dtype,
                "count": column.count,
                "missing": column.missing,
                "counts": column.counts,
            }
        else:
            columns[name] = {
                "kind": "other",
                "dtype": column.dtype,
                "count": column.count,
                "missing": column.missing,
            }
    correlation = None
    if profile.correlation is not None:
        c = profile.correlation
        correlation = {
            "columns": c.columns,
            "n": c.n.tolist(),
            "mean": c.mean.tolist(),
            "m2": c.m2.tolist(),
            "comoment": c.comoment.tolist(),
        }
    return {
        "format": PROFILE_FORMAT,
        "version": PROFILE_VERSION,
        "rows": profile.rows,
        "edge_rows": profile.edge_rows,
        "sources": profile.sources,
        "columns": columns,
        "correlation": correlation,
    }


def _floats(values: Any) -> list[float] | None:
    return None if values is None else [float(v) for v in values]


def profile_from_dict(data: Any, origin: str = "profile") -> Profile:
    """Rebuild a Profile from profile_to_dict's output; a DataError names what is malformed."""
    import numpy as np

    if not isinstance(data, dict) or data.get("format") != PROFILE_FORMAT:
        raise DataError(f"{origin}: not an mlops-actions data profile (expected format '{PROFILE_FORMAT}')")
    if data.get("version") != PROFILE_VERSION:
        raise DataError(f"{origin}: unsupported profile version {data.get('version')!r}, expected 1")
    try:
        columns: dict[str, ColumnProfile] = {}
        for name, item in data["columns"].items():
            kind = item["kind"]
            if kind == "numeric":
                column = NumericProfile(
                    dtype=item["dtype"],
                    count=int(item["count"]),
                    missing=int(item["missing"]),
                    infinite=int(item["infinite"]),
                    mean=float(item["mean"]),
                    m2=float(item["m2"]),
                    min=None if item["min"] is None else float(item["min"]),
                    max=None if item["max"] is None else float(item["max"]),
                    values=None if item["values"] is None else np.asarray(item["values"], dtype=float),
                )
                if item["edges"] is not None:
                    _set_edges(column, item["edges"], item["decile_edges"])
                    column.bin_counts = np.asarray(item["bin_counts"], dtype=np.int64)
                    column.bin_sums = np.asarray(item["bin_sums"], dtype=float)
                    if len(column.bin_counts) != len(column.edges) + 1:  # type: ignore[arg-type]
                        raise ValueError(f"column {name}: bin_counts do not match edges")
                columns[name] = column
            elif kind == "categorical":
                counts = item["counts"]
                columns[name] = CategoricalProfile(
                    dtype=item["dtype"],
                    count=int(item["count"]),
                    missing=int(item["missing"]),
                    counts=None if counts is None else {str(k): int(v) for k, v in counts.items()},
                )
            elif kind == "other":
                columns[name] = OtherProfile(
                    dtype=item["dtype"], count=int(item["count"]), missing=int(item["missing"])
                )
            else:
                raise ValueError(f"column {name}: unknown kind {kind!r}")
        correlation = None
        if data.get("correlation") is not None:
            c = data["correlation"]
            correlation = CorrelationProfile(
                columns=[str(x) for x in c["columns"]],
                n=np.asarray(c["n"], dtype=float),
                mean=np.asarray(c["mean"], dtype=float),
                m2=np.asarray(c["m2"], dtype=float),
                comoment=np.asarray(c["comoment"], dtype=float),
            )
        return Profile(
            rows=int(data["rows"]),
            columns=columns,
            correlation=correlation,
            edge_rows=int(data.get("edge_rows", DEFAULT_EDGE_ROWS)),
            sources=[str(s) for s in data.get("sources", [])],
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise DataError(f"{origin}: malformed data profile: {error}") from None


def save_profile(profile: Profile, path: str | Path) -> None:
    """Write a profile as JSON atomically (temp file then rename)."""
    write_text_atomic(Path(path), json.dumps(profile_to_dict(profile), allow_nan=False) + "\n")


def load_profile(path: str | Path) -> Profile:
    """Read a profile JSON file; a DataError names the file when it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: profile file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: cannot read profile JSON: {error}") from None
    return profile_from_dict(data, str(path))


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to path atomically (see :func:`mlops_actions.domain.model_io.write_text_atomic`)."""
    from mlops_actions.domain.model_io import write_text_atomic as write_atomic

    write_atomic(path, text)
