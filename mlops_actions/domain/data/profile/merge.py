"""Merging two profiles into the profile of the union of their rows.

Counts add up and moments merge exactly (Chan's formula), so the merge is associative and commutative:
the profile of a file's shards merged together equals the profile of the whole file, provided the
shards share the same bins (build the later shards with ``edges_from`` the first one's profile).
"""

from __future__ import annotations

from mlops_actions.domain.data.profile.summaries import (
    EXACT_VALUES_LIMIT,
    MAX_TRACKED_CATEGORIES,
    CategoricalProfile,
    ColumnProfile,
    CorrelationProfile,
    NumericProfile,
    OtherProfile,
    Profile,
    empty_correlation,
    empty_values,
    set_edges,
)
from mlops_actions.domain.data.stats import chan_merge, optional_extreme
from mlops_actions.errors import DataError


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


def _correlated(profile: Profile, name: str) -> bool:
    return profile.correlation is not None and name in profile.correlation.columns


def _aligned_correlation(correlation: CorrelationProfile | None, columns: list[str]) -> CorrelationProfile:
    """The co-moments laid out on the given columns (pairs never seen have n = 0)."""
    import numpy as np

    aligned = empty_correlation(columns)
    if correlation is None:
        return aligned
    positions = [columns.index(c) for c in correlation.columns if c in columns]
    kept = [i for i, c in enumerate(correlation.columns) if c in columns]
    grid = np.ix_(positions, positions)
    source = np.ix_(kept, kept)
    for field_name in ("n", "mean", "m2", "comoment"):
        getattr(aligned, field_name)[grid] = getattr(correlation, field_name)[source]
    return aligned


def _promote_empty(column: ColumnProfile, other: ColumnProfile, rows: int) -> ColumnProfile:
    """An all-empty column (dtype null) as a column of the other's kind with every value missing."""
    if column.dtype != "null" or not isinstance(column, OtherProfile):
        return column
    if isinstance(other, NumericProfile):
        promoted = NumericProfile(dtype=other.dtype, missing=column.missing, values=empty_values())
        if other.edges is not None:
            set_edges(promoted, other.edges, other.decile_edges)
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
        min=optional_extreme(min, left.min, right.min),
        max=optional_extreme(max, left.max, right.max),
    )
    if (left.edges is None) != (right.edges is None):
        raise DataError(f"cannot merge profiles: column '{name}' has bins in one profile only")
    if left.edges is not None and right.edges is not None:
        if not np.array_equal(left.edges, right.edges):
            raise DataError(
                f"cannot merge profiles: column '{name}' has different bins; "
                "profile every shard with the bins of the first (data profile --bins-from)"
            )
        set_edges(result, left.edges, left.decile_edges)
        result.bin_counts = left.bin_counts + right.bin_counts  # type: ignore[operator]
        result.bin_sums = left.bin_sums + right.bin_sums  # type: ignore[operator]
    if left.values is not None and right.values is not None and result.count <= EXACT_VALUES_LIMIT:
        result.values = np.concatenate([left.values, right.values])
    return result
