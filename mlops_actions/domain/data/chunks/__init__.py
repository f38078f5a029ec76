"""Reading tables in chunks with bounded memory, as numpy columns ready for counting.

A scan reads a CSV or Parquet file chunk by chunk and hands every chunk to a list of consumers
(validators, profile builders, row hashers). Columns arrive normalised: numbers as float64 arrays
with NaN for missing values, strings and booleans as integer codes into a dictionary, dates and
all-empty columns as a missing-value mask. With pyarrow the CSV file is cut into byte ranges at
line ends and each range is parsed with pyarrow's multithreaded reader; column types come from the
first range and are widened (int -> float -> string) if a later range needs it, in which case the
scan restarts, so every consumer sees one type per column. Without pyarrow, pandas reads the file.
Values never contain line breaks (the same assumption as pyarrow's parallel reader).

Modules: ``columns`` (what consumers receive), ``scan`` (checking columns, choosing the reader),
``csv_ranges`` and ``csv_scan`` (CSV through pyarrow), ``parquet`` (Parquet through pyarrow),
``arrow_columns`` (pyarrow arrays as columns), ``frames`` (pandas: DataFrames and the fallback reader).
This package only re-exports their public names.
"""

from mlops_actions.domain.data.chunks.arrow_columns import arrow_column, arrow_logical_dtype
from mlops_actions.domain.data.chunks.columns import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_CHUNK_ROWS,
    LOGICAL_DTYPES,
    NULL_VALUES,
    CategoricalColumn,
    Chunk,
    ChunkConsumer,
    Column,
    NumericColumn,
    OtherColumn,
    TableInfo,
)
from mlops_actions.domain.data.chunks.frames import pandas_column, pandas_logical_dtype, scan_frame
from mlops_actions.domain.data.chunks.parquet import PARQUET_GROUP_BYTES
from mlops_actions.domain.data.chunks.scan import pyarrow_available, read_header, scan_table

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_CHUNK_ROWS",
    "LOGICAL_DTYPES",
    "NULL_VALUES",
    "PARQUET_GROUP_BYTES",
    "CategoricalColumn",
    "Chunk",
    "ChunkConsumer",
    "Column",
    "NumericColumn",
    "OtherColumn",
    "TableInfo",
    "arrow_column",
    "arrow_logical_dtype",
    "pandas_column",
    "pandas_logical_dtype",
    "pyarrow_available",
    "read_header",
    "scan_frame",
    "scan_table",
]
