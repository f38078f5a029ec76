"""What an engine read, as the chunks jobs consume: Arrow tables (and CSV text) normalised with fixed dtypes."""

from __future__ import annotations

from typing import Any

from mlops_actions.domain.data.chunks import Chunk, TableInfo, arrow_column


def table_chunk(table: Any, info: TableInfo, start: int = 0) -> Chunk:
    """An Arrow table's columns of ``info.dtypes`` as a Chunk (the dtypes fixed on the driver, so every
    partition is normalised alike; a column the table lacks is all missing)."""
    import pyarrow as pa

    columns = {}
    for name, dtype in info.dtypes.items():
        if name in table.column_names:
            columns[name] = arrow_column(table.column(name), dtype)
        else:
            columns[name] = arrow_column(pa.nulls(table.num_rows), "null")
    return Chunk(start=start, rows=table.num_rows, columns=columns)
