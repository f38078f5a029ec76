"""The monitor as an engine job (``engines/base.py``): every partition of the logs is parsed, normalised,
filtered by ``--since`` and cut into windows where it lies; what each window collected travels back as a
mergeable partial (input profile, output profile, counts), with the rows read, the rows before ``--since``,
the versions seen and the performance check's partial. Partials merge in any order into what a read in
order collects, so the windows are judged the same on every engine, whatever the partitioning.

The output bins (when the release has no eval outputs) are fixed before the run, on the driver, from the
first rows of the logs (``first_outputs``), and every partition profiles its outputs on them.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.errors import DataError
from mlops_actions.monitoring.accumulate import (
    Outputs,
    WindowAccumulator,
    WindowCounts,
    WindowPartial,
    output_bins,
)
from mlops_actions.monitoring.columns import Layout, normalise
from mlops_actions.monitoring.logs import LogChunk
from mlops_actions.monitoring.performance import PerformanceCollector, PerformancePartial
from mlops_actions.monitoring.windows import split_by_window

if TYPE_CHECKING:
    import numpy as np

    from mlops_actions.domain.data.profile import Profile
    from mlops_actions.engines.base import Batch, Dataset

Position = tuple[str, int, int]  # (origin, first line of the batch, row in it): where a row was read


@dataclass
class MonitorSummary:
    """What the monitor collected from some batches of the logs: per window start (ns) its partial, the
    rows read and those before ``--since``, the versions logged (with where each was first read, so that
    a tie is broken as a read in order breaks it), and the performance check's partial."""

    windows: dict[int, WindowPartial] = field(default_factory=dict)
    rows_read: int = 0
    before_since: int = 0
    versions: Counter[str] = field(default_factory=Counter)
    first_read: dict[str, Position] = field(default_factory=dict)
    performance: PerformancePartial = field(default_factory=PerformancePartial)

    def most_common_version(self) -> str | None:
        """The version logged most often (of equal counts, the one read first); None when none is logged."""
        if not self.versions:
            return None
        return min(self.versions, key=lambda v: (-self.versions[v], self.first_read.get(v, ("", 0, 0))))


def merge_summaries(first: MonitorSummary, second: MonitorSummary) -> MonitorSummary:
    """The summary of both summaries' batches (associative and commutative: partials merged, counts added)."""
    windows = dict(first.windows)
    for start, partial in second.windows.items():
        windows[start] = windows[start].merge(partial) if start in windows else partial
    first_read = dict(first.first_read)
    for version, position in second.first_read.items():
        first_read[version] = min(first_read.get(version, position), position)
    return MonitorSummary(
        windows=windows,
        rows_read=first.rows_read + second.rows_read,
        before_since=first.before_since + second.before_since,
        versions=first.versions + second.versions,
        first_read=first_read,
        performance=first.performance.merge(second.performance),
    )


def batch_chunk(
    batch: Batch, input_types: dict[str, str] | None = None, partial_line: bytes | None = None
) -> LogChunk:
    """A Batch of the logs as the flat table the monitor's readers make of the same rows: Parquet as it
    is, CSV lines read as text, JSON Lines parsed by ``monitoring/jsonl.py`` (``input_types`` typing the
    inputs). A JSON Lines file's last line without its newline (``partial_line``, found on the driver) is
    being written: left out, also when the engine handed it with a newline."""
    import pyarrow as pa

    path = Path(batch.origin)
    first = batch.first_line
    if batch.table is not None:
        table = batch.table
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        return LogChunk(path, "parquet", 1 if first is None else first, table)
    text = batch.text or b""
    if batch.format == "csv":
        from mlops_actions.monitoring.logs import csv_lines_table

        line = 2 if first is None else first
        return LogChunk(path, "csv", line, csv_lines_table(batch.origin, batch.header or b"", text, line))
    if batch.format == "jsonl":
        from mlops_actions.monitoring.jsonl import Block, input_schema, parse_block

        line = 1 if first is None else first
        if not text.endswith(b"\n"):
            text = text[: text.rfind(b"\n") + 1]
        elif partial_line and (text == partial_line + b"\n" or text.endswith(b"\n" + partial_line + b"\n")):
            text = text[: len(text) - len(partial_line) - 1]
        table = parse_block(path, Block(line, text), input_schema(input_types)) if text.strip() else None
        return LogChunk(path, "jsonl", line, pa.table({}) if table is None else table)
    raise DataError(f"{batch.origin}: unknown log format {batch.format!r}, expected jsonl, csv or parquet")


@dataclass
class MonitorJob:
    """The monitor's work on one batch of logs (see the module docstring). Plain data, pickled to workers:
    the layout and the trained profile, the output bins, the window length and ``--since`` in ns, and the
    performance collector whose settings (labels, eval outputs) each batch is collected with."""

    layout: Layout
    trained: Profile
    outputs: Outputs | None
    tolerance: float
    length: int
    since_ns: int | None
    performance: PerformanceCollector
    partial_lines: dict[str, bytes] = field(default_factory=dict)  # file -> its last line, without newline
    reads: str = "logs"

    def summarise(self, batch: Batch) -> MonitorSummary:
        """What one batch holds for the monitor."""
        import numpy as np

        chunk = batch_chunk(batch, self.layout.features, self.partial_lines.get(batch.origin))
        summary = MonitorSummary()
        if chunk.table.num_rows == 0:
            return summary
        columns = normalise(chunk, self.layout)
        summary.rows_read = columns.rows
        kept = None
        if self.since_ns is not None:
            keep = columns.times >= self.since_ns
            if not keep.all():
                summary.before_since = int(np.count_nonzero(~keep))
                kept = np.flatnonzero(keep)
                columns = columns.take(kept)
        if columns.rows == 0:
            return summary
        if self.outputs is None:
            raise DataError(
                f"{batch.origin}: rows at or after --since that the first read did not find "
                "(did the logs change while they were read?)"
            )
        position = (batch.origin, chunk.first_row)
        collector = dataclasses.replace(
            self.performance, labelled={}, sums={}, matched=0, probability_names=set()
        )
        collector.add(chunk.table, columns, kept, position)
        summary.performance = collector.partial()
        if "version" in chunk.table.column_names:
            _count_versions(summary, chunk.table.column("version"), kept, position)
        for start, rows in split_by_window(columns.times, self.length):
            accumulator = WindowAccumulator(start, self.layout, self.trained, self.outputs, self.tolerance)
            whole = isinstance(rows, slice) and rows.start == 0 and rows.stop == columns.rows
            accumulator.add(columns if whole else columns.take(rows))
            summary.windows[start] = accumulator.partial()
        return summary

    def merge(self, first: MonitorSummary, second: MonitorSummary) -> MonitorSummary:
        """The summary of both summaries' batches."""
        return merge_summaries(first, second)

    def collected(self, summary: MonitorSummary) -> dict[int, tuple[Profile, Profile, WindowCounts]]:
        """Per window start, its input profile, output profile and counts, as a read in order gives them,
        in an order that no merge order changes: features with values of a wrong type in the features'
        order, each category count in the order of the categories' names."""
        found = {}
        for start, partial in summary.windows.items():
            wrong = partial.counts.wrong_type
            counts = dataclasses.replace(
                partial.counts,
                wrong_type={n: wrong[n] for n in self.layout.features if n in wrong},
            )
            found[start] = (
                _in_order(partial.inputs, "window"),
                _in_order(partial.outputs, "outputs"),
                counts,
            )
        return found


def _in_order(profile: Profile, source: str) -> Profile:
    """The profile with its category counts ordered by name (merges add them in any order), named as a
    window's profile is."""
    from mlops_actions.domain.data.profile import CategoricalProfile

    columns = {
        name: dataclasses.replace(column, counts=dict(sorted(column.counts.items())))
        if isinstance(column, CategoricalProfile) and column.counts is not None
        else column
        for name, column in profile.columns.items()
    }
    return dataclasses.replace(profile, columns=columns, sources=[source])


def _count_versions(summary: MonitorSummary, column: Any, kept: np.ndarray | None, position: Any) -> None:
    """Count the kept rows' versions, and where each was first read."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if kept is not None:
        column = column.take(pa.array(kept))
    for item in pc.value_counts(column).to_pylist():
        value = item["values"]
        if value is None:
            continue
        row = pc.index(column, value).as_py()
        summary.versions[str(value)] += int(item["counts"])
        summary.first_read.setdefault(str(value), (position[0], position[1], int(row)))


TAIL_BYTES = 1 << 16


def partial_last_lines(dataset: Dataset) -> dict[str, bytes]:
    """The last line of each JSON Lines file that does not end with a newline (the server is writing it),
    read here from the end of the file."""
    from mlops_actions.engines.sources import dataset_files, open_binary

    if dataset.format != "jsonl":
        return {}
    found = {}
    for name in dataset_files(dataset):
        if name.lower().endswith(".gz"):
            continue
        with open_binary(name) as handle:
            size = handle.seek(0, 2)
            tail, reach = b"", 0
            while reach < size and b"\n" not in tail:
                reach = min(size, max(TAIL_BYTES, 2 * reach))
                handle.seek(size - reach)
                tail = handle.read(reach)
        if tail and not tail.endswith(b"\n"):
            found[name] = tail[tail.rfind(b"\n") + 1 :]
    return found


def needs_engine(logs: str) -> bool:
    """Whether only an engine's readers read these logs: a URI (``s3://``...) or a Delta table."""
    from mlops_actions.engines.sources import uri_scheme

    return uri_scheme(logs) != "" or (Path(logs) / "_delta_log").is_dir()


def first_outputs(
    dataset: Dataset,
    layout: Layout,
    since_ns: int | None,
    *,
    chunk_bytes: int,
    chunk_rows: int,
) -> Outputs | None:
    """The output bins of a run in order, found on the driver: from the rows at or after ``since_ns`` of the
    first chunk of the logs that holds any (files in read order, cut as the monitor's reader cuts them);
    None when no row is at or after it. So they are the same for every engine and partitioning."""
    import numpy as np

    for chunk in _driver_chunks(dataset, layout, chunk_bytes, chunk_rows):
        columns = normalise(chunk, layout)
        if since_ns is not None:
            columns = columns.take(np.flatnonzero(columns.times >= since_ns))
        if columns.rows:
            return output_bins(columns)
    return None


def _driver_chunks(dataset: Dataset, layout: Layout, chunk_bytes: int, chunk_rows: int) -> Iterator[LogChunk]:
    """The logs' chunks in read order, read here: local log files by the monitor's reader, other files
    (URIs, a Delta table's) read unit by unit (``engines/sources.py``), at most ``chunk_rows`` rows each."""
    from mlops_actions.engines.sources import dataset_files, dataset_units, unit_batch
    from mlops_actions.monitoring.logs import LOG_FORMATS, read_log

    for name in dataset_files(dataset):
        path = Path(name)
        if dataset.scheme == "" and path.suffix.lower() in LOG_FORMATS and path.is_file():
            yield from read_log(
                path, chunk_bytes=chunk_bytes, chunk_rows=chunk_rows, input_types=layout.features
            )
            continue
        for unit in dataset_units(dataclasses.replace(dataset, files=(name,))):
            chunk = batch_chunk(unit_batch(unit), layout.features)
            for offset in range(0, chunk.table.num_rows, max(1, chunk_rows)):
                yield LogChunk(
                    chunk.path, chunk.format, chunk.first_row + offset, chunk.table.slice(offset, chunk_rows)
                )
