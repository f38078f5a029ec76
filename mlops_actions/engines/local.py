"""The local engine: jobs run in this process, partition after partition.

A "rows" job over one local CSV or Parquet file goes through the chunked scan (``scan_table``), each
chunk summarised and merged into the running summary, so it is as fast as the scan itself. Datasets (folders,
globs, Hive folders, Delta tables, URIs) and shards go read unit by read unit (``engines/sources.py``).
With ``EngineOptions.partitions = N`` the rows (or, for text, the lines) are cut into N partitions of
nearly equal size, each summarised on its own, then merged as a tree: the same merges a cluster would do,
to test that the answer does not depend on them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from mlops_actions.domain.data.chunks import Chunk, TableInfo
from mlops_actions.domain.data.chunks.read_ahead import read_ahead
from mlops_actions.engines.base import Batch, Dataset, EngineOptions, Job, S, Shard, tree_merge
from mlops_actions.engines.sources import (
    UNIT_BYTES,
    DatasetInfo,
    Unit,
    csv_text_table,
    dataset_head,
    dataset_table_info,
    dataset_units,
    header_line,
    info_types,
    job_with_info,
    parquet_file,
    partition_types,
    run_with_wider_types,
    shard_units,
    table_chunk,
    table_slices,
    unit_text_blocks,
    with_partitions,
)
from mlops_actions.errors import UsageError


class LocalEngine:
    """Runs jobs in this process (see the module docstring)."""

    name = "local"

    def __init__(self, options: EngineOptions | None = None, *, unit_bytes: int = UNIT_BYTES):
        """``unit_bytes``: the size of a CSV read unit, and of the scan's (and the driver's first) block."""
        self.options = options or EngineOptions()
        if self.options.partitions is not None and self.options.partitions < 1:
            raise UsageError(f"--partitions {self.options.partitions}: expected a number >= 1")
        self.unit_bytes = unit_bytes

    def table_info(self, dataset: Dataset, columns: Sequence[str] | None = None) -> DatasetInfo:
        """The dataset's TableInfo (``sources.dataset_table_info``)."""
        return dataset_table_info(dataset, columns, block_bytes=self.unit_bytes)

    def head(self, dataset: Dataset, rows: int, info: TableInfo) -> Chunk:
        """The dataset's first rows in read order (``sources.dataset_head``)."""
        return dataset_head(dataset, rows, info)

    def run(self, dataset: Dataset, job: Job[S], *, shard: Shard | None = None) -> S | None:
        """The merged summary of the dataset's partitions (of one shard of them); None when there are no rows."""
        if job.reads == "logs":
            return self._run_units(dataset, job, shard)
        if job.reads != "rows":
            raise UsageError(f"a job reads 'rows' or 'logs', not {job.reads!r}")
        return run_with_wider_types(job, lambda current: self._run_rows(dataset, current, shard))

    def close(self) -> None:
        """Nothing to release."""

    def _run_rows(self, dataset: Dataset, job: Any, shard: Shard | None) -> Any:
        scannable = (
            shard is None
            and self.options.partitions is None
            and dataset.scheme in ("", "file")
            and dataset.format in ("csv", "parquet")
            and not dataset.hive
            and len(dataset.files) == 1
        )
        if not scannable:
            return self._run_units(dataset, job, shard)
        from mlops_actions.domain.data.chunks import scan_table

        summariser = _Summariser(job)
        scan_table(dataset.files[0], [summariser], columns=list(job.info.dtypes), chunk_bytes=self.unit_bytes)
        return summariser.summary

    def _run_units(self, dataset: Dataset, job: Any, shard: Shard | None) -> Any:
        """Unit by unit, piece by piece (a row group, a block of lines); with partitions, the pieces' rows
        (lines) cut at the partitions' bounds, each partition merged in order, the partitions as a tree."""
        units = shard_units(dataset_units(dataset, unit_bytes=self.unit_bytes), shard)
        reader = _UnitReader(dataset, job, self.unit_bytes)
        try:
            return self._summarise_units(reader, units)
        finally:
            reader.close()

    def _summarise_units(self, reader: _UnitReader, units: list[Unit]) -> Any:
        """The pieces read and parsed by a thread one ahead of the job (pyarrow releases the GIL), as the
        chunked scan does; each summary merged into its partition's."""
        job = reader.job
        count = self.options.partitions
        parts: list[Any] = [None] * (count or 1)
        with contextlib.closing(
            read_ahead(self._payloads(reader, units), name="mlops-engine-reader")
        ) as payloads:
            for index, payload in payloads:
                parts[index] = _merged(job, parts[index], reader.summary(payload))
        return parts[0] if count is None else tree_merge(job, parts)

    def _payloads(self, reader: _UnitReader, units: list[Unit]) -> Iterator[tuple[int, Any]]:
        """(partition, what the job reads) in read order: every piece whole without partitions, else the
        pieces' rows (lines) cut at the bounds of N nearly equal partitions."""
        count = self.options.partitions
        if count is None:
            for unit in units:
                for piece in reader.pieces(unit):
                    yield 0, reader.payload(unit, piece, None)
            return
        total = sum(reader.length(unit) for unit in units)
        bounds = [index * total // count for index in range(count + 1)]
        offset = 0
        for unit in units:
            for piece in reader.pieces(unit):
                for index in range(count):
                    low, high = max(bounds[index], offset), min(bounds[index + 1], offset + piece.count)
                    if low < high:
                        yield index, reader.payload(unit, piece, (low - offset, high - offset))
                offset += piece.count


def _merged(job: Any, summary: Any, part: Any) -> Any:
    if part is None:
        return summary
    return part if summary is None else job.merge(summary, part)


class _Summariser:
    """Scan consumer: each chunk summarised by the job and merged into the running summary (a restart of the
    scan with wider types starts again, with the job reading those types)."""

    def __init__(self, job: Any):
        self.job = job
        self.current = job
        self.summary: Any = None

    def start(self, info: TableInfo) -> None:
        self.summary = None
        self.current = self.job
        if info.dtypes != self.job.info.dtypes:
            self.current = job_with_info(self.job, _retyped(self.job.info, info))

    def update(self, chunk: Chunk) -> None:
        self.summary = _merged(self.current, self.summary, self.current.summarise(chunk))


def _retyped(info: TableInfo, scanned: TableInfo) -> DatasetInfo:
    """The job's info with the dtypes the scan settled on."""
    from mlops_actions.engines.sources import LOGICAL_ARROW_TYPES

    types = info_types(info)
    for name, dtype in scanned.dtypes.items():
        if info.dtypes.get(name) != dtype:
            types[name] = LOGICAL_ARROW_TYPES.get(dtype, "string")
    return DatasetInfo(
        path=info.path,
        format=info.format,
        columns=list(info.columns),
        dtypes=dict(scanned.dtypes),
        types=types,
    )


class _Rows:
    """A Parquet row group's rows."""

    def __init__(self, table: Any):
        self.table = table
        self.count = table.num_rows

    def between(self, low: int, high: int) -> Any:
        return self.table if (low, high) == (0, self.count) else self.table.slice(low, high - low)


class _Lines:
    """Whole lines of text and where each starts."""

    def __init__(self, text: bytes):
        import numpy as np

        self.text = text
        ends = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == 10) + 1
        if len(text) and (not len(ends) or ends[-1] != len(text)):
            ends = np.append(ends, len(text))
        self.starts = np.concatenate(([0], ends)).astype(np.int64)
        self.count = len(self.starts) - 1

    def between(self, low: int, high: int) -> bytes:
        """Lines low..high-1 (0-based)."""
        if (low, high) == (0, self.count):
            return self.text
        return self.text[int(self.starts[low]) : int(self.starts[high])]


class _UnitReader:
    """Reads the units of one run as pieces (a row group; a block of whole lines) and summarises them, with
    the line numbers of text pieces when known (a run that starts inside a file does not know them)."""

    def __init__(self, dataset: Dataset, job: Any, block_bytes: int):
        self.dataset = dataset
        self.job = job
        self.block_bytes = block_bytes
        self.headers: dict[str, bytes] = {}
        self.next_line: dict[str, int | None] = {}
        self.piece_line: int | None = None
        self.opened: tuple[str, Any] | None = None
        self.partition_types = partition_types(dataset) if job.reads == "logs" and dataset.hive else {}

    def header(self, file: str) -> bytes:
        if file not in self.headers:
            self.headers[file] = header_line(file)
        return self.headers[file]

    def close(self) -> None:
        if self.opened is not None:
            self.opened[1].close()
            self.opened = None

    def parquet(self, file: str) -> Any:
        """The file's ParquetFile, opened once while its units are read."""
        if self.opened is None or self.opened[0] != file:
            if self.opened is not None:
                self.opened[1].close()
            self.opened = (file, parquet_file(file))
        return self.opened[1]

    def length(self, unit: Unit) -> int:
        """Rows of a Parquet unit, lines of a text unit (read and counted)."""
        if unit.format == "parquet" and unit.rows is not None:
            return unit.rows
        return sum(piece.count for piece in self.pieces(unit, track=False))

    def pieces(self, unit: Unit, *, track: bool = True) -> Iterator[Any]:
        """The unit's pieces in order."""
        if unit.format == "parquet":
            parquet = self.parquet(unit.file)
            if self.job.reads == "rows":
                present = [name for name in self.job.info.dtypes if name in parquet.schema_arrow.names]
                yield _Rows(parquet.read_row_group(unit.row_group, columns=present))
            else:
                yield _Rows(parquet.read_row_group(unit.row_group))
            return
        if track and unit.file not in self.next_line:
            self.next_line[unit.file] = unit.first_line
        for block in unit_text_blocks(unit, self.block_bytes):
            piece = _Lines(block)
            if track:
                self.piece_line = self.next_line[unit.file]
            yield piece
            if track and self.piece_line is not None:
                self.next_line[unit.file] = self.piece_line + piece.count

    def payload(self, unit: Unit, piece: Any, span: tuple[int, int] | None) -> Any:
        """What the job reads of a piece's rows (lines) ``span`` (all when None): a Batch for "logs" jobs,
        else the rows parsed with the job's types as (Arrow table, index of its first row)."""
        low, high = (0, piece.count) if span is None else span
        if self.job.reads == "logs":
            return self._batch(unit, piece, low, high)
        types = info_types(self.job.info)
        if unit.format == "parquet":
            table = piece.between(low, high)
            start = unit.first_row + low
        else:
            text = piece.between(low, high)
            table = csv_text_table(text, self.header(unit.file), types, origin=unit.file)
            start = 0 if self.piece_line is None else self.piece_line - 2 + low
        return with_partitions(table, self.dataset, unit.file, types), start

    def summary(self, payload: Any) -> Any:
        """The job's summary of a payload (a Batch; a table cut into chunks of at most DEFAULT_CHUNK_ROWS)."""
        if self.job.reads == "logs":
            return self.job.summarise(payload)
        table, start = payload
        summary = None
        for part in table_slices(table):
            summary = _merged(self.job, summary, self.job.summarise(table_chunk(part, self.job.info, start)))
            start += part.num_rows
        return summary

    def _batch(self, unit: Unit, piece: Any, low: int, high: int) -> Batch:
        if unit.format == "parquet":
            table = piece.between(low, high)
            if self.partition_types:
                table = with_partitions(table, self.dataset, unit.file, self.partition_types)
            return Batch(origin=unit.file, format="parquet", table=table, first_line=unit.first_row + low + 1)
        return Batch(
            origin=unit.file,
            format=unit.format,
            text=piece.between(low, high),
            header=self.header(unit.file) if unit.format == "csv" else None,
            first_line=None if self.piece_line is None else self.piece_line + low,
        )
