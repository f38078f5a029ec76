"""Tables through pandas: DataFrame columns as scan columns, a frame fed in chunks, and the reader used
when pyarrow is not installed (the whole file at once)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_actions.domain.data.chunks.columns import (
    DEFAULT_CHUNK_ROWS,
    NULL_VALUES,
    CategoricalColumn,
    Chunk,
    ChunkConsumer,
    Column,
    NumericColumn,
    OtherColumn,
    TableInfo,
    as_text,
)
from mlops_actions.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def scan_frame(
    frame: pd.DataFrame,
    consumers: Sequence[ChunkConsumer],
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    name: str = "<frame>",
) -> TableInfo:
    """Feed an in-memory DataFrame to the consumers in chunks of chunk_rows rows."""
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    dtypes = {c: pandas_logical_dtype(frame[c]) for c in columns}
    info = TableInfo(path=name, format="frame", columns=columns, dtypes=dtypes)
    for consumer in consumers:
        consumer.start(info)
    total = len(frame)
    step = max(1, chunk_rows)
    for begin in range(0, total, step):
        part = frame.iloc[begin : begin + step]
        chunk = Chunk(
            start=begin, rows=len(part), columns={c: pandas_column(part[c], dtypes[c]) for c in columns}
        )
        for consumer in consumers:
            consumer.update(chunk)
    info.rows = total
    return info


def pandas_logical_dtype(series: pd.Series) -> str:
    """int / float / bool / string / datetime / null for a pandas column."""
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "string"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if series.isna().all() and len(series) > 0:
        return "null"
    return "string"


def pandas_column(series: pd.Series, dtype: str) -> Column:
    """Normalise one pandas column to the scan's column types."""
    import numpy as np
    import pandas as pd

    if dtype in ("int", "float"):
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        return NumericColumn(np.ascontiguousarray(values), dtype)
    if dtype == "bool":
        codes = np.full(len(series), -1, dtype=np.int64)
        present = series.notna().to_numpy()
        codes[present] = series[present].astype(bool).to_numpy().astype(np.int64)
        return CategoricalColumn(codes, ["False", "True"], "bool")
    if dtype == "string":
        if isinstance(series.dtype, pd.CategoricalDtype):
            codes = series.cat.codes.to_numpy().astype(np.int64)
            return CategoricalColumn(codes, [as_text(v) for v in series.cat.categories], "string")
        codes, uniques = pd.factorize(series.astype(object).map(_text_or_missing), use_na_sentinel=True)
        return CategoricalColumn(codes.astype(np.int64), [str(v) for v in uniques], "string")
    stamps: np.ndarray | None = None
    if dtype == "datetime":
        with contextlib.suppress(TypeError, ValueError):
            stamps = series.astype("datetime64[ns]").to_numpy().view("int64")
    return OtherColumn(series.isna().to_numpy(), dtype, values=stamps)


def _text_or_missing(value: object) -> object:
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[call-overload]
        return None
    return value if isinstance(value, str) else as_text(value)


def scan_with_pandas(
    path: Path,
    fmt: str,
    available: list[str],
    selected: list[str],
    consumers: Sequence[ChunkConsumer],
    chunk_rows: int,
) -> TableInfo:
    """Read the whole CSV or Parquet file with pandas, then feed it to the consumers in chunks."""
    import pandas as pd

    try:
        if fmt == "csv":
            frame = pd.read_csv(path, usecols=selected, na_values=NULL_VALUES, keep_default_na=True)
        else:
            frame = pd.read_parquet(path, columns=selected)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: data file is empty, expected a header and at least one row") from None
    except Exception as error:
        raise DataError(f"{path}: cannot read {fmt}: {str(error).splitlines()[0]}") from None
    frame = frame[selected]
    info = scan_frame(frame, consumers, chunk_rows=chunk_rows, name=str(path))
    info.format = fmt
    info.columns = available
    return info


def parquet_columns_with_pandas(path: Path) -> list[str]:
    """The column names of a Parquet file, read with pandas."""
    import pandas as pd

    try:
        return [str(c) for c in pd.read_parquet(path).columns]
    except Exception as error:
        raise DataError(f"{path}: cannot read parquet: {str(error).splitlines()[0]}") from None
