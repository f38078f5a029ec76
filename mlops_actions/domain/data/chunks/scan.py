"""Scanning a CSV or Parquet file: checking the requested columns, then choosing the reader.

With pyarrow, CSV files are parsed range by range (csv_scan) and Parquet files row group by row group
(parquet); without it, pandas reads the whole file (frames).
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from mlops_actions.domain.data.chunks.columns import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_CHUNK_ROWS,
    ChunkConsumer,
    TableInfo,
)
from mlops_actions.domain.data.chunks.csv_ranges import csv_header_line
from mlops_actions.domain.data.chunks.csv_scan import scan_csv
from mlops_actions.domain.data.chunks.frames import parquet_columns_with_pandas, scan_with_pandas
from mlops_actions.domain.data.chunks.parquet import parquet_columns, scan_parquet
from mlops_actions.domain.data.io import require_data_file, table_format
from mlops_actions.errors import DataError


def pyarrow_available() -> bool:
    """Whether pyarrow can be imported (it is an optional dependency)."""
    return importlib.util.find_spec("pyarrow") is not None


def read_header(path: str | Path) -> list[str]:
    """The column names of a CSV or Parquet file, without reading its rows."""
    path = require_data_file(path)
    fmt = table_format(path)
    if fmt == "parquet":
        return parquet_columns(path) if pyarrow_available() else parquet_columns_with_pandas(path)
    line = csv_header_line(path)
    import csv

    return next(csv.reader([line.decode("utf-8-sig", errors="replace").rstrip("\r\n")]), [])


def scan_table(
    path: str | Path,
    consumers: Sequence[ChunkConsumer],
    *,
    columns: Sequence[str] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> TableInfo:
    """Read a table once, chunk by chunk, feeding every consumer; returns what was read (with rows).

    A DataError names the file when it is missing, unreadable or lacks a requested column.
    """
    path = require_data_file(path)
    fmt = table_format(path)
    available = read_header(path)
    duplicated = sorted(name for name, seen in Counter(available).items() if seen > 1)
    if duplicated:
        raise DataError(f"{path}: duplicate column names {', '.join(duplicated)}")
    if columns is not None:
        missing = [name for name in columns if name not in available]
        if missing:
            raise DataError(f"{path}: no column {', '.join(repr(m) for m in missing)}")
        selected = list(columns)
    else:
        selected = list(available)
    if not pyarrow_available():
        return scan_with_pandas(path, fmt, available, selected, consumers, chunk_rows)
    if fmt == "parquet":
        return scan_parquet(path, available, selected, consumers, chunk_rows)
    return scan_csv(path, available, selected, consumers, chunk_bytes)
