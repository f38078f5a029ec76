"""Profiling rows: one pass over the chunks of a file or a DataFrame builds one Profile.

Numeric bins are the percentiles 1..99 of a column's first ``edge_rows`` rows, or the bins of another
profile (``edges_from``), so that profiles of different batches can be merged (see merge).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

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
from mlops_actions.domain.data.profile.accumulate import (
    Scratch,
    chunk_correlation,
    count_bins,
    update_categorical,
    update_numeric,
)
from mlops_actions.domain.data.profile.merge import merge_correlations
from mlops_actions.domain.data.profile.summaries import (
    DEFAULT_EDGE_ROWS,
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
from mlops_actions.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MAX_CORRELATION_COLUMNS = 50
FINE_BINS = 100


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
        self.scratch = Scratch()

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
                column = NumericProfile(dtype=dtype, values=empty_values())
                if not self.bins:
                    pass
                elif isinstance(reference, NumericProfile) and reference.edges is not None:
                    set_edges(column, reference.edges, reference.decile_edges)
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
            empty_correlation(self.correlated) if self.correlated else None
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
                update_categorical(column, data, self.max_categories)
            else:
                missing = int(np.count_nonzero(data.missing))
                column.missing += missing
                column.count += chunk.rows - missing
        for column, values, binned in numeric_work:
            update_numeric(column, values, self.exact_values_limit, self.scratch, bins=binned)
        if self.pending:
            self.pending_rows += chunk.rows
            if self.pending_rows >= self.edge_rows:
                self._fix_edges()
        if self.pairs is not None and chunk.rows:
            stacked = self.scratch.matrix(len(self.correlated), chunk.rows)
            for row, name in enumerate(self.correlated):
                data = chunk.columns[name]
                stacked[row] = data.values if isinstance(data, NumericColumn) else np.nan
            self.pairs = merge_correlations(self.pairs, chunk_correlation(self.correlated, stacked))

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
                set_edges(column, np.unique(fine), np.unique(deciles))
            else:
                set_edges(column, np.empty(0), np.empty(0))
            count_bins(column, values, self.scratch)
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
