"""Reading tables in chunks with bounded memory, as numpy columns ready for counting.

A scan reads a CSV or Parquet file chunk by chunk and hands every chunk to a list of consumers
(validators, profile builders, row hashers). Columns arrive normalised: numbers as float64 arrays
with NaN for missing values, strings and booleans as integer codes into a dictionary, dates and
all-empty columns as a missing-value mask. With pyarrow the CSV file is cut into byte ranges at
line ends and each range is parsed with pyarrow's multithreaded reader; column types come from the
first range and are widened (int -> float -> string) if a later range needs it, in which case the
scan restarts, so every consumer sees one type per column. Without pyarrow, pandas reads the file.
Values never contain line breaks (the same assumption as pyarrow's parallel reader).
"""

from __future__ import annotations

import contextlib
import gzip
import importlib.util
import io
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlops_actions.domain.data.io import require_data_file, table_format
from mlops_actions.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

DEFAULT_CHUNK_BYTES = 32 << 20
DEFAULT_CHUNK_ROWS = 1 << 18
PARQUET_GROUP_BYTES = 512 << 20
NULL_VALUES = [
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
]
LOGICAL_DTYPES = ("int", "float", "bool", "string", "datetime", "null")


@dataclass
class NumericColumn:
    """Numbers as float64, NaN where missing; dtype is 'int' or 'float' as stored in the file."""

    values: np.ndarray
    dtype: str
    kind: str = "numeric"

    @property
    def missing(self) -> np.ndarray:
        import numpy as np

        return np.isnan(self.values)


@dataclass
class CategoricalColumn:
    """Strings or booleans as codes (-1 where missing) into a dictionary of distinct values."""

    codes: np.ndarray
    dictionary: Any
    dtype: str
    kind: str = "categorical"
    _names: list[str] | None = field(default=None, repr=False)

    @property
    def missing(self) -> np.ndarray:
        return self.codes < 0

    def names(self) -> list[str]:
        """The dictionary as a list of strings (computed once)."""
        if self._names is None:
            values = self.dictionary.to_pylist() if hasattr(self.dictionary, "to_pylist") else self.dictionary
            self._names = [value if isinstance(value, str) else _as_text(value) for value in values]
        return self._names


@dataclass
class OtherColumn:
    """Dates (as int64 nanoseconds since the epoch, when known) and columns without any value."""

    missing: np.ndarray
    dtype: str
    kind: str = "other"
    values: np.ndarray | None = None


Column = NumericColumn | CategoricalColumn | OtherColumn


@dataclass
class Chunk:
    """A run of consecutive rows: start is the index of its first row in the file."""

    start: int
    rows: int
    columns: dict[str, Column]


@dataclass
class TableInfo:
    """What a scan knows before the first chunk: every column of the file and the scanned columns' dtypes."""

    path: str
    format: str
    columns: list[str]
    dtypes: dict[str, str]
    rows: int = 0


class ChunkConsumer(Protocol):
    def start(self, info: TableInfo) -> None: ...

    def update(self, chunk: Chunk) -> None: ...


class _TypesWidened(Exception):
    def __init__(self, types: dict[str, Any]):
        self.types = types


def pyarrow_available() -> bool:
    """Whether pyarrow can be imported (it is an optional dependency)."""
    return importlib.util.find_spec("pyarrow") is not None


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_header(path: str | Path) -> list[str]:
    """The column names of a CSV or Parquet file, without reading its rows."""
    path = require_data_file(path)
    fmt = table_format(path)
    if fmt == "parquet":
        return _parquet_columns(path)
    line = _csv_header_line(path)
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
        return _scan_with_pandas(path, fmt, available, selected, consumers, chunk_rows)
    if fmt == "parquet":
        return _scan_parquet(path, available, selected, consumers, chunk_rows)
    types: dict[str, Any] = {}
    for _attempt in range(4 * len(selected) + 2):
        try:
            return _scan_csv(path, available, selected, consumers, chunk_bytes, types)
        except _TypesWidened as widened:
            types = widened.types
    raise DataError(f"{path}: column types keep changing between parts of the file")  # pragma: no cover


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


# ---------------------------------------------------------------- pandas


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
            return CategoricalColumn(codes, [_as_text(v) for v in series.cat.categories], "string")
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
    return value if isinstance(value, str) else _as_text(value)


def _scan_with_pandas(
    path: Path,
    fmt: str,
    available: list[str],
    selected: list[str],
    consumers: Sequence[ChunkConsumer],
    chunk_rows: int,
) -> TableInfo:
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


# ---------------------------------------------------------------- pyarrow


def _parquet_columns(path: Path) -> list[str]:
    if not pyarrow_available():
        import pandas as pd

        try:
            return [str(c) for c in pd.read_parquet(path).columns]
        except Exception as error:
            raise DataError(f"{path}: cannot read parquet: {str(error).splitlines()[0]}") from None
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception as error:
        raise DataError(f"{path}: cannot read parquet: {str(error).splitlines()[0]}") from None
    return [name for name in schema.names if not name.startswith("__index_level_")]


def arrow_logical_dtype(arrow_type: Any) -> str:
    """int / float / bool / string / datetime / null for a pyarrow type."""
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):
        return "string"
    if pa.types.is_integer(arrow_type):
        return "int"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "float"
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_temporal(arrow_type):
        return "datetime"
    if pa.types.is_null(arrow_type):
        return "null"
    return "string"


def _arrow_to_numpy(array: Any, numpy_dtype: Any) -> np.ndarray:
    """The values buffer of a fixed-width pyarrow array as a numpy view (nulls hold arbitrary values).

    Reading buffers directly avoids pyarrow's conversions, which import pandas (slow to start).
    """
    import numpy as np

    width = np.dtype(numpy_dtype).itemsize
    return np.frombuffer(array.buffers()[1], dtype=numpy_dtype, count=len(array), offset=array.offset * width)


def _numpy_dtype(arrow_type: Any) -> Any:
    """The numpy dtype of a fixed-width integer or floating pyarrow type."""
    import numpy as np
    import pyarrow as pa

    if pa.types.is_floating(arrow_type):
        return np.dtype(f"f{arrow_type.bit_width // 8}")
    signed = pa.types.is_signed_integer(arrow_type)
    return np.dtype(f"{'i' if signed else 'u'}{arrow_type.bit_width // 8}")


def _arrow_bits(buffer: Any, offset: int, length: int) -> np.ndarray:
    import numpy as np

    bits = np.unpackbits(np.frombuffer(buffer, dtype=np.uint8), bitorder="little")
    return bits[offset : offset + length].astype(bool)


def _arrow_valid(array: Any) -> np.ndarray | None:
    """Boolean mask of present values, or None when nothing is missing."""
    if array.null_count == 0 or array.buffers()[0] is None:
        return None
    return _arrow_bits(array.buffers()[0], array.offset, len(array))


def arrow_column(array: Any, dtype: str) -> Column:
    """Normalise one pyarrow (chunked) array to the scan's column types."""
    import numpy as np
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    if dtype in ("int", "float"):
        if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
            values = _arrow_to_numpy(array, _numpy_dtype(array.type))
            if values.dtype != np.float64:
                values = values.astype(np.float64)
        else:  # decimals and other numbers
            array = array.cast(pa.float64())
            values = _arrow_to_numpy(array, np.float64)
        valid = _arrow_valid(array)
        if valid is not None:
            values = np.where(valid, values, np.nan)
        return NumericColumn(values, dtype)
    if dtype == "bool":
        valid = _arrow_valid(array)
        codes = _arrow_bits(array.buffers()[1], array.offset, len(array)).astype(np.int64)
        if valid is not None:
            codes[~valid] = -1
        return CategoricalColumn(codes, ["False", "True"], "bool")
    if dtype == "string":
        if pa.types.is_dictionary(array.type):
            dictionary = array.dictionary
            if not (pa.types.is_string(dictionary.type) or pa.types.is_large_string(dictionary.type)):
                dictionary = dictionary.cast(pa.string())
            indices = array.indices
        else:
            if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
                array = array.cast(pa.string())
            encoded = array.dictionary_encode()
            dictionary, indices = encoded.dictionary, encoded.indices
        codes = _arrow_to_numpy(indices, _numpy_dtype(indices.type)).astype(np.int64)
        valid = _arrow_valid(indices)
        if valid is not None:
            codes = np.where(valid, codes, -1)
        return CategoricalColumn(codes, dictionary, "string")
    if dtype == "null" or pa.types.is_null(array.type):
        return OtherColumn(np.ones(len(array), dtype=bool), dtype)
    valid = _arrow_valid(array)
    missing = np.zeros(len(array), dtype=bool) if valid is None else ~valid
    stamps: np.ndarray | None = None
    if pa.types.is_temporal(array.type):
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
            nanoseconds = array.cast(pa.timestamp("ns")).cast(pa.int64())
            stamps = _arrow_to_numpy(nanoseconds, np.int64)
    return OtherColumn(missing, dtype, values=stamps)


def _scan_parquet(
    path: Path,
    available: list[str],
    selected: list[str],
    consumers: Sequence[ChunkConsumer],
    chunk_rows: int,
) -> TableInfo:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
        dtypes = {name: arrow_logical_dtype(schema.field(name).type) for name in selected}
    except Exception as error:
        raise DataError(f"{path}: cannot read parquet: {str(error).splitlines()[0]}") from None
    info = TableInfo(path=str(path), format="parquet", columns=available, dtypes=dtypes)
    for consumer in consumers:
        consumer.start(info)
    if not selected:
        info.rows = parquet.metadata.num_rows
        if info.rows:
            for consumer in consumers:
                consumer.update(Chunk(start=0, rows=info.rows, columns={}))
        return info
    start = 0
    step = max(1, chunk_rows)
    try:
        for batch in _parquet_batches(parquet, selected, step):
            columns = {name: arrow_column(batch.column(name), dtypes[name]) for name in selected}
            chunk = Chunk(start=start, rows=batch.num_rows, columns=columns)
            for consumer in consumers:
                consumer.update(chunk)
            start += batch.num_rows
    except OSError as error:
        raise DataError(f"{path}: cannot read parquet: {str(error).splitlines()[0]}") from None
    info.rows = start
    return info


def _parquet_batches(parquet: Any, selected: list[str], step: int) -> Iterator[Any]:
    """Tables of at most step rows: whole row groups read at once (faster), sliced without copying;
    row groups larger than PARQUET_GROUP_BYTES are streamed in batches to bound memory."""
    metadata = parquet.metadata
    for group in range(metadata.num_row_groups):
        if metadata.row_group(group).total_byte_size <= PARQUET_GROUP_BYTES:
            table = parquet.read_row_group(group, columns=selected)
            for offset in range(0, table.num_rows, step):
                yield table.slice(offset, step)
        else:
            yield from parquet.iter_batches(batch_size=step, row_groups=[group], columns=selected)


def _csv_header_line(path: Path) -> bytes:
    with _open_bytes(path) as handle:
        line = handle.readline()
    if not line.strip():
        raise DataError(f"{path}: data file is empty, expected a header and at least one row")
    return line if line.endswith(b"\n") else line + b"\n"


def _open_bytes(path: Path) -> io.BufferedIOBase:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _csv_byte_ranges(path: Path, chunk_bytes: int) -> Iterator[Any]:
    """Buffers of whole lines (about chunk_bytes each) after the header line.

    Plain files are memory-mapped and sliced without copying; gzip files are decompressed piecewise.
    """
    import mmap

    chunk_bytes = max(1, chunk_bytes)
    if path.name.lower().endswith(".gz"):
        yield from _gzip_byte_ranges(path, chunk_bytes)
        return
    if path.stat().st_size == 0:
        return
    with open(path, "rb") as handle:
        # closed when the last slice is released (an explicit close fails while slices are alive)
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    view = memoryview(mapped)
    size = len(mapped)
    start = mapped.find(b"\n") + 1
    if start <= 0:
        return
    while start < size:
        end = min(size, start + chunk_bytes)
        if end < size:
            cut = mapped.rfind(b"\n", start, end)
            end = cut + 1 if cut >= 0 else _next_line_end(mapped, end, size)
        yield view[start:end]
        _forget_pages(mapped, end)
        start = end


def _forget_pages(mapped: Any, end: int) -> None:
    """Drop already-parsed pages of a read-only mapping from the process (they stay in the page cache)."""
    import mmap

    advice = getattr(mmap, "MADV_DONTNEED", None)
    length = end - end % mmap.PAGESIZE
    if advice is not None and length > 0:
        with contextlib.suppress(OSError, ValueError):
            mapped.madvise(advice, 0, length)


def _next_line_end(mapped: Any, position: int, size: int) -> int:
    cut = mapped.find(b"\n", position)
    return size if cut < 0 else cut + 1


def _gzip_byte_ranges(path: Path, chunk_bytes: int) -> Iterator[bytes]:
    with gzip.open(path, "rb") as handle:
        handle.readline()
        rest = b""
        while True:
            data = handle.read(chunk_bytes)
            if not data:
                if rest:
                    yield rest
                return
            buffer = rest + data if rest else data
            cut = buffer.rfind(b"\n")
            if cut < 0:
                rest = buffer
                continue
            yield buffer[: cut + 1]
            rest = buffer[cut + 1 :]


def _read_csv_range(body: Any, names: list[str], selected: list[str], types: dict[str, Any]) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    convert = pcsv.ConvertOptions(
        column_types={
            name: types[name] for name in selected if name in types and not pa.types.is_null(types[name])
        },
        include_columns=selected,
        null_values=NULL_VALUES,
        strings_can_be_null=True,
    )
    return pcsv.read_csv(
        pa.py_buffer(body), read_options=pcsv.ReadOptions(column_names=names), convert_options=convert
    )


def _common_type(first: Any, second: Any) -> Any:
    """The narrowest type holding both (int -> float -> string)."""
    import pyarrow as pa

    if first.equals(second):
        return first
    if pa.types.is_null(first):
        return second
    if pa.types.is_null(second):
        return first
    if pa.types.is_integer(first) and pa.types.is_integer(second):
        return pa.int64() if not (pa.types.is_uint64(first) or pa.types.is_uint64(second)) else pa.float64()
    numeric = (pa.types.is_integer, pa.types.is_floating)
    if any(f(first) for f in numeric) and any(f(second) for f in numeric):
        return pa.float64()
    if pa.types.is_timestamp(first) and pa.types.is_timestamp(second):
        return pa.timestamp("ns")
    return pa.string()


def _parse_range(
    path: Path, body: Any, available: list[str], selected: list[str], types: dict[str, Any]
) -> Any:
    """Parse one byte range with the fixed types; None for an empty range; _TypesWidened when a
    value does not fit its column's type (the scan then restarts with the wider types)."""
    import pyarrow as pa

    try:
        return _read_csv_range(body, available, selected, types)
    except pa.ArrowInvalid as error:
        if "Empty CSV file" in str(error):
            return None
        if "conversion error" not in str(error) or not types:
            raise DataError(f"{path}: cannot read csv: {str(error).splitlines()[0]}") from None
        table = _read_csv_range(body, available, selected, {})
        widened = dict(types)
        for name in selected:
            widened[name] = _common_type(types.get(name, pa.null()), table.schema.field(name).type)
        if all(widened[name].equals(types.get(name, pa.null())) for name in selected):
            raise DataError(f"{path}: cannot read csv: {str(error).splitlines()[0]}") from None
        raise _TypesWidened(widened) from None
    except (_TypesWidened, DataError):
        raise
    except Exception as error:
        raise DataError(f"{path}: cannot read csv: {str(error).splitlines()[0]}") from None


def _scan_csv(
    path: Path,
    available: list[str],
    selected: list[str],
    consumers: Sequence[ChunkConsumer],
    chunk_bytes: int,
    types: dict[str, Any],
) -> TableInfo:
    """Parse byte ranges in a background thread, one range ahead of the consumers (pyarrow releases
    the GIL), so parsing the next range overlaps with counting the current one."""
    from concurrent.futures import Future, ThreadPoolExecutor

    import pyarrow as pa

    types = dict(types)
    info: TableInfo | None = None
    start = 0
    ranges = iter(_csv_byte_ranges(path, chunk_bytes))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="csv-reader") as pool:
        body = next(ranges, None)
        ahead: Future[Any] | None = None
        while body is not None:
            table = (
                ahead.result() if ahead is not None else _parse_range(path, body, available, selected, types)
            )
            if table is not None and info is None:
                for name in selected:
                    types[name] = _common_type(types.get(name, pa.null()), table.schema.field(name).type)
                info = TableInfo(
                    path=str(path),
                    format="csv",
                    columns=available,
                    dtypes={name: arrow_logical_dtype(types[name]) for name in selected},
                )
                for consumer in consumers:
                    consumer.start(info)
            elif table is not None:
                for name in selected:
                    if pa.types.is_null(types[name]) and not pa.types.is_null(table.schema.field(name).type):
                        widened = dict(types)
                        widened[name] = table.schema.field(name).type
                        raise _TypesWidened(widened)
            body = next(ranges, None)
            ahead = None
            if body is not None and info is not None:
                ahead = pool.submit(_parse_range, path, body, available, selected, dict(types))
            if table is None or info is None:
                continue
            columns = {name: arrow_column(table.column(name), info.dtypes[name]) for name in selected}
            chunk = Chunk(start=start, rows=table.num_rows, columns=columns)
            for consumer in consumers:
                consumer.update(chunk)
            start += table.num_rows
    if info is None:
        info = TableInfo(
            path=str(path), format="csv", columns=available, dtypes={name: "null" for name in selected}
        )
        for consumer in consumers:
            consumer.start(info)
    info.rows = start
    return info
