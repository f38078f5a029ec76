"""Parquet files through pyarrow: the column names from the schema, and row groups fed in chunks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mlops_actions.domain.data.chunks.arrow_columns import arrow_column, arrow_logical_dtype
from mlops_actions.domain.data.chunks.columns import Chunk, ChunkConsumer, TableInfo
from mlops_actions.errors import DataError

PARQUET_GROUP_BYTES = 512 << 20


def parquet_columns(path: Path) -> list[str]:
    """The column names of a Parquet file, from its schema (pandas' index columns left out)."""
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception as error:
        raise DataError(f"{path}: cannot read parquet: {str(error).splitlines()[0]}") from None
    return [name for name in schema.names if not name.startswith("__index_level_")]


def scan_parquet(
    path: Path,
    available: list[str],
    selected: list[str],
    consumers: Sequence[ChunkConsumer],
    chunk_rows: int,
) -> TableInfo:
    """Feed the selected columns of a Parquet file to the consumers in chunks of at most chunk_rows rows."""
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
