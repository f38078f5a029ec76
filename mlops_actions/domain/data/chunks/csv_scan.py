"""CSV files through pyarrow: byte ranges parsed in a background thread with one type per column.

Column types come from the first range and are widened (int -> float -> string) if a later range
needs it, in which case the scan restarts, so every consumer sees one type per column.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlops_actions.domain.data.chunks.arrow_columns import arrow_column, arrow_logical_dtype
from mlops_actions.domain.data.chunks.columns import NULL_VALUES, Chunk, ChunkConsumer, TableInfo
from mlops_actions.domain.data.chunks.csv_ranges import csv_byte_ranges
from mlops_actions.errors import DataError


class _TypesWidened(Exception):
    def __init__(self, types: dict[str, Any]):
        self.types = types


def scan_csv(
    path: Path,
    available: list[str],
    selected: list[str],
    consumers: Sequence[ChunkConsumer],
    chunk_bytes: int,
) -> TableInfo:
    """Feed the selected columns of a CSV file to the consumers, range by range, restarting with wider
    column types whenever a range does not fit the types seen so far."""
    types: dict[str, Any] = {}
    for _attempt in range(4 * len(selected) + 2):
        try:
            return _scan_csv_once(path, available, selected, consumers, chunk_bytes, types)
        except _TypesWidened as widened:
            types = widened.types
    raise DataError(f"{path}: column types keep changing between parts of the file")  # pragma: no cover


def read_csv_range(body: Any, names: list[str], selected: list[str], types: dict[str, Any]) -> Any:
    """Whole CSV lines (no header; ``names`` are the header's) as an Arrow table of the selected columns,
    with the fixed ``types`` (a null type is inferred)."""
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


def common_type(first: Any, second: Any) -> Any:
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
        return read_csv_range(body, available, selected, types)
    except pa.ArrowInvalid as error:
        if "Empty CSV file" in str(error):
            return None
        if "conversion error" not in str(error) or not types:
            raise DataError(f"{path}: cannot read csv: {str(error).splitlines()[0]}") from None
        table = read_csv_range(body, available, selected, {})
        widened = dict(types)
        for name in selected:
            widened[name] = common_type(types.get(name, pa.null()), table.schema.field(name).type)
        if all(widened[name].equals(types.get(name, pa.null())) for name in selected):
            raise DataError(f"{path}: cannot read csv: {str(error).splitlines()[0]}") from None
        raise _TypesWidened(widened) from None
    except (_TypesWidened, DataError):
        raise
    except Exception as error:
        raise DataError(f"{path}: cannot read csv: {str(error).splitlines()[0]}") from None


def _scan_csv_once(
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
    ranges = iter(csv_byte_ranges(path, chunk_bytes))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="csv-reader") as pool:
        body = next(ranges, None)
        ahead: Future[Any] | None = None
        while body is not None:
            table = (
                ahead.result() if ahead is not None else _parse_range(path, body, available, selected, types)
            )
            if table is not None and info is None:
                for name in selected:
                    types[name] = common_type(types.get(name, pa.null()), table.schema.field(name).type)
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
