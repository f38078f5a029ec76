"""Prediction logs: the files a ``--logs PATH|GLOB`` names, and their rows as flat pyarrow tables, chunk by
chunk with bounded memory.

Three formats: the server's JSON Lines (docs/serving.md, "The prediction log": an ``inputs`` object, the
``prediction``, ``probabilities`` class -> p, ``time``, ``request_id``...), and CSV or Parquet with flat
columns (the feature columns, ``prediction``, optional ``probability`` or ``proba_<class>`` columns,
``time``, ``request_id``). Every format arrives as the same flat table, so the rest never knows which.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_actions.errors import DataError

LOG_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
DEFAULT_CHUNK_BYTES = 16 << 20
DEFAULT_CHUNK_ROWS = 1 << 18
PARQUET_GROUP_BYTES = 256 << 20


@dataclass(frozen=True)
class LogChunk:
    """Consecutive rows of one log file as a flat pyarrow table; ``first_row`` says where they start
    (a line number for JSON Lines and CSV, a 1-based row number for Parquet), for error messages."""

    path: Path
    format: str
    first_row: int
    table: Any

    def where(self, row: int) -> str:
        """``file:line`` (or ``file: row N``) of the chunk's ``row``-th row."""
        if self.format == "parquet":
            return f"{self.path}: row {self.first_row + row}"
        return f"{self.path}:{self.first_row + row}"


def log_files(pattern: str) -> list[Path]:
    """The log files of a path, a folder (its log files) or a glob, sorted; a DataError when there are none."""
    path = Path(pattern)
    if any(char in pattern for char in "*?["):
        found = [Path(p) for p in sorted(glob.glob(pattern, recursive=True)) if Path(p).is_file()]
    elif path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in LOG_FORMATS)
    elif path.is_file():
        found = [path]
    else:
        raise DataError(f"{pattern}: no such prediction log file or folder")
    if not found:
        raise DataError(f"{pattern}: no prediction log files ({', '.join(sorted(LOG_FORMATS))})")
    for file in found:
        if file.suffix.lower() not in LOG_FORMATS:
            raise DataError(f"{file}: unknown log format, expected one of {', '.join(sorted(LOG_FORMATS))}")
    return found


def read_log(
    path: Path,
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    input_types: dict[str, str] | None = None,
) -> Iterator[LogChunk]:
    """The rows of one log file, chunk by chunk; ``input_types`` (name -> dtype) are the types JSON Lines
    inputs are expected to have (a value of another type is still read, more slowly)."""
    fmt = LOG_FORMATS[path.suffix.lower()]
    if fmt == "jsonl":
        from mlops_actions.monitoring.jsonl import input_schema, line_blocks, parse_block

        schema = input_schema(input_types)
        for block in line_blocks(path, chunk_bytes):
            yield LogChunk(path, fmt, block.first_line, parse_block(path, block, schema))
    elif fmt == "csv":
        yield from _csv_chunks(path, chunk_bytes)
    else:
        yield from _parquet_chunks(path, chunk_rows)


def _csv_chunks(path: Path, chunk_bytes: int) -> Iterator[LogChunk]:
    """CSV through pyarrow's streaming reader, every column read as text (typed later, against the
    reference), so a block never disagrees with the first one about a type."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from mlops_actions.domain.data.chunks import read_header

    names = read_header(path)
    if not names:
        raise DataError(f"{path}:1: no header line")
    try:
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(block_size=chunk_bytes),
            convert_options=_csv_text_options(names),
        )
        line = 2
        for batch in reader:
            yield LogChunk(path, "csv", line, pa.Table.from_batches([batch]))
            line += batch.num_rows
    except (pa.ArrowInvalid, OSError) as error:
        raise DataError(f"{path}: cannot read CSV: {str(error).splitlines()[0]}") from None


def _csv_text_options(names: list[str]) -> Any:
    """Every column read as text, with the data checks' null values."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from mlops_actions.domain.data.chunks import NULL_VALUES

    return pcsv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        null_values=NULL_VALUES,
        strings_can_be_null=True,
    )


def csv_lines_table(origin: str, header: bytes, lines: bytes, first_line: int = 2) -> Any:
    """Whole lines of a CSV log (``header``: its header line) as the flat table of text columns the
    streaming reader reads; a DataError names the file and the lines when they are no CSV."""
    import csv
    import io

    import pyarrow as pa
    import pyarrow.csv as pcsv

    text = header.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    names = next(csv.reader([text]), []) if text else []
    if not names:
        raise DataError(f"{origin}:1: no header line")
    if not header.endswith(b"\n"):
        header += b"\n"
    try:
        return pcsv.read_csv(io.BytesIO(header + lines), convert_options=_csv_text_options(names))
    except (pa.ArrowInvalid, OSError) as error:
        raise DataError(f"{origin}:{first_line}: cannot read CSV: {str(error).splitlines()[0]}") from None


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[LogChunk]:
    """Parquet row groups read whole (much faster than batches) and cut into chunks; a row group larger than
    PARQUET_GROUP_BYTES is read in batches instead, to bound memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        row = 1
        for group in range(parquet.metadata.num_row_groups):
            if parquet.metadata.row_group(group).total_byte_size <= PARQUET_GROUP_BYTES:
                table = parquet.read_row_group(group)
                parts = (table.slice(offset, chunk_rows) for offset in range(0, table.num_rows, chunk_rows))
            else:
                batches = parquet.iter_batches(batch_size=chunk_rows, row_groups=[group])
                parts = (pa.Table.from_batches([batch]) for batch in batches)
            for part in parts:
                yield LogChunk(path, "parquet", row, part)
                row += part.num_rows
    except (pa.ArrowInvalid, OSError) as error:
        raise DataError(f"{path}: cannot read Parquet: {str(error).splitlines()[0]}") from None


def read_ahead(chunks: Iterator[LogChunk], depth: int = 2) -> Iterator[LogChunk]:
    """The same chunks, read by a thread ahead of the consumer (at most ``depth`` waiting), so that reading
    and checking overlap on two cores; an error of the reader is raised where the chunk would have been."""
    from mlops_actions.domain.data.chunks.read_ahead import read_ahead as ahead

    return ahead(chunks, depth, name="mlops-monitor-reader")
