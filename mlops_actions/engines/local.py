"""The local engine: jobs run in this process, partition after partition.

A "rows" job over one local CSV or Parquet file goes through the chunked scan (``scan_table``), each
chunk summarised and merged into the running summary, so it is as fast as the scan itself. Datasets (folders,
globs, Hive folders, Delta tables, URIs) and shards go read unit by read unit (``engines/sources.py``).
With ``EngineOptions.partitions = N`` the rows (or, for text, the lines) are cut into N partitions of
nearly equal size, each summarised on its own, then merged as a tree: the same merges a cluster would do,
to test that the answer does not depend on them.
"""

from __future__ import annotations

from typing import Any

from mlops_actions.domain.data.chunks import Chunk, TableInfo
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
    run_with_wider_types,
    shard_units,
    table_chunk,
    table_slices,
    unit_text,
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

    def table_info(self, dataset: Dataset, columns: Any = None) -> DatasetInfo:
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
        units = shard_units(dataset_units(dataset, unit_bytes=self.unit_bytes), shard)
        reader = _UnitReader(dataset, job)
        if self.options.partitions is None:
            summary = None
            for unit in units:
                summary = _merged(job, summary, reader.summarise(unit, None))
            return summary
        lengths = [reader.length(unit) for unit in units]
        total = sum(lengths)
        count = self.options.partitions
        bounds = [index * total // count for index in range(count + 1)]
        parts: list[Any] = [None] * count
        offset = 0
        for unit, length in zip(units, lengths, strict=True):
            for index in range(count):
                low, high = max(bounds[index], offset), min(bounds[index + 1], offset + length)
                if low < high:
                    piece = reader.summarise(unit, (low - offset, high - offset))
                    parts[index] = _merged(job, parts[index], piece)
            offset += length
            reader.forget()
        return tree_merge(job, parts)


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


class _UnitReader:
    """Reads the units of one run (a unit's data kept while its pieces are summarised)."""

    def __init__(self, dataset: Dataset, job: Any):
        self.dataset = dataset
        self.job = job
        self.headers: dict[str, bytes] = {}
        self.rows_in_file: dict[str, int] = {}
        self.lines_in_file: dict[str, int] = {}
        self.cached: tuple[Unit, Any] | None = None

    def header(self, file: str) -> bytes:
        if file not in self.headers:
            self.headers[file] = header_line(file)
        return self.headers[file]

    def forget(self) -> None:
        self.cached = None

    def _data(self, unit: Unit) -> Any:
        """The unit's Parquet table (every column for logs) or its text and line offsets."""
        if self.cached is not None and self.cached[0] == unit:
            return self.cached[1]
        if unit.format == "parquet":
            parquet = parquet_file(unit.file)
            if self.job.reads == "rows":
                present = [name for name in self.job.info.dtypes if name in parquet.schema_arrow.names]
                data = parquet.read_row_group(unit.row_group, columns=present)
            else:
                data = parquet.read_row_group(unit.row_group)
        else:
            data = _Lines(unit_text(unit))
        self.cached = (unit, data)
        return data

    def length(self, unit: Unit) -> int:
        """Rows of a Parquet unit, lines of a text unit."""
        if unit.format == "parquet" and unit.rows is not None:
            return unit.rows
        data = self._data(unit)
        return data.num_rows if unit.format == "parquet" else data.count

    def summarise(self, unit: Unit, span: tuple[int, int] | None) -> Any:
        """The job's summary of a unit's rows (lines) ``span`` (all of them when None)."""
        data = self._data(unit)
        if self.job.reads == "logs":
            return self.job.summarise(self._batch(unit, data, span))
        types = info_types(self.job.info)
        if unit.format == "parquet":
            low = 0 if span is None else span[0]
            table = data if span is None else data.slice(low, span[1] - low)
            start = unit.first_row + low
        else:
            text = data.text if span is None else data.between(*span)
            table = csv_text_table(text, self.header(unit.file), types, origin=unit.file)
            start = self.rows_in_file.get(unit.file, 0)
            self.rows_in_file[unit.file] = start + table.num_rows
        table = with_partitions(table, self.dataset, unit.file, types)
        summary = None
        for piece in table_slices(table):
            summary = _merged(self.job, summary, self.job.summarise(table_chunk(piece, self.job.info, start)))
            start += piece.num_rows
        return summary

    def _batch(self, unit: Unit, data: Any, span: tuple[int, int] | None) -> Batch:
        if unit.format == "parquet":
            low = 0 if span is None else span[0]
            table = data if span is None else data.slice(low, span[1] - low)
            return Batch(origin=unit.file, format="parquet", table=table, first_line=unit.first_row + low + 1)
        low, high = (0, data.count) if span is None else span
        header = self.header(unit.file) if unit.format == "csv" else None
        before = self.lines_in_file.get(unit.file, 1 if unit.format == "csv" else 0)
        self.lines_in_file[unit.file] = before + (high - low)
        return Batch(
            origin=unit.file,
            format=unit.format,
            text=data.between(low, high),
            header=header,
            first_line=before + 1,
        )


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
        return self.text[int(self.starts[low]) : int(self.starts[high])]
