"""The Dask engine: every partition of a dataset is summarised on the workers of a ``distributed`` cluster and
the summaries are merged in a tree on the workers.

The cluster is the scheduler ``EngineOptions.dask_scheduler`` names (its workers need mlops-actions
installed), else a local cluster (``options.workers`` processes on 127.0.0.1, one thread each, no dashboard)
that ``close`` stops. Dask's own readers read the rows through fsspec, so ``file://``, ``s3://``, ``gs://``,
``abfs://`` and ``hdfs://`` work wherever their filesystem package is installed:
``dask.dataframe.read_parquet`` for Parquet files, datasets, Hive-partitioned folders and a Delta table's
current files; ``dask.bytes.read_bytes`` (what ``dask.bag.read_text`` reads with) for CSV and JSON Lines,
in blocks of whole lines. The dtypes, the head and the numeric bins are fixed on the driver
(``engines/sources.py``), every partition is normalised with them, so the answer is the local engine's.
Jobs travel to the workers pickled, and so do the summaries they send back.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlops_actions.engines.base import Batch, Dataset, EngineOptions, Job, S, Shard, tree_merge
from mlops_actions.errors import DataError, MlopsError, UsageError

SPLIT_EVERY = 8  # summaries merged together at each node of the reduction tree
CONNECT_SECONDS = 30  # deadline to reach a scheduler, and for a local cluster's workers to start
WORKERS_IMPORT = "the workers need the driver's packages (mlops-actions[dask] and the job's own modules)"
WORKERS_SEE_FILES = (
    "the workers read the files themselves, so they need the driver's folder or a URI (s3://...)"
)


class DaskEngine:
    """Runs jobs on a Dask ``distributed`` cluster (see the module docstring)."""

    name = "dask"

    def __init__(self, options: EngineOptions, *, unit_bytes: int | None = None) -> None:
        """Connect to ``options.dask_scheduler``, else start a local cluster. ``unit_bytes`` is the local
        engine's: the CSV block the driver infers dtypes from, the size of text read units (of shards) and of
        the blocks Dask reads text in (``sources.UNIT_BYTES`` when None)."""
        from distributed import Client, LocalCluster

        from mlops_actions.engines.sources import UNIT_BYTES

        if options.partitions is not None and options.partitions < 1:
            raise UsageError(f"--partitions {options.partitions}: expected a number >= 1")
        self.options = options
        self.unit_bytes = unit_bytes or UNIT_BYTES
        self.cluster: Any = None
        self._checked: set[tuple[str, ...]] = set()
        if options.dask_scheduler:
            try:
                self.client = Client(options.dask_scheduler, timeout=CONNECT_SECONDS, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as error:
                raise UsageError(
                    f"--dask-scheduler {options.dask_scheduler!r}: cannot reach the scheduler: {_line(error)}"
                ) from None
            return
        try:
            self.cluster = LocalCluster(
                n_workers=options.workers or 2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                host="127.0.0.1",
                # no dashboard; the scheduler's health routes listen on the loopback, on any free port
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.CRITICAL,  # a task's failure comes back to the driver as one line
                timeout=CONNECT_SECONDS,
            )
        except (OSError, TimeoutError, RuntimeError) as error:
            raise MlopsError(f"--engine dask: cannot start a local Dask cluster: {_line(error)}") from None
        self.client = Client(self.cluster, timeout=CONNECT_SECONDS, set_as_default=False)

    def table_info(self, dataset: Dataset, columns: Sequence[str] | None = None) -> Any:
        """The dataset's TableInfo, read on the driver as every engine does (``sources.dataset_table_info``)."""
        from mlops_actions.engines.sources import dataset_table_info

        return dataset_table_info(dataset, columns, block_bytes=self.unit_bytes)

    def head(self, dataset: Dataset, rows: int, info: Any) -> Any:
        """The dataset's first rows in read order, read on the driver (``sources.dataset_head``)."""
        from mlops_actions.engines.sources import dataset_head

        return dataset_head(dataset, rows, info)

    def run(self, dataset: Dataset, job: Job[S], *, shard: Shard | None = None) -> S | None:
        """The merged summary of every partition (of one shard of them); None when there are no rows. A CSV
        block whose values do not fit the driver's dtypes makes the whole job run again with the wider types
        (``sources.run_with_wider_types``); any other failure is one DataError line."""
        from mlops_actions.engines.sources import run_with_wider_types

        if job.reads not in ("rows", "logs"):
            raise UsageError(f"a job reads 'rows' or 'logs', not {job.reads!r}")
        self._check_workers(dataset, job)
        try:
            if job.reads == "rows":
                return run_with_wider_types(job, lambda current: self._run_once(dataset, current, shard))
            return self._run_once(dataset, job, shard)
        except DataError:
            raise
        except Exception as error:
            raise DataError(f"{dataset.location}: {_line(error)}") from None

    def close(self) -> None:
        """Disconnect; stop the local cluster when this engine started one (an external one is left alone)."""
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None

    def _check_workers(self, dataset: Dataset, job: Job[Any]) -> None:
        """A DataError naming what a worker cannot import (a task a worker cannot unpickle would wait
        forever), checked once per job module."""
        names = (__name__, type(job).__module__)
        if names in self._checked:
            return
        try:
            missing = self.client.run(_missing_modules, list(names))
        except Exception:  # the check itself could not be unpickled: no mlops-actions there
            missing = {"a worker": ["mlops_actions"]}
        absent = sorted({name for names_of_worker in missing.values() for name in names_of_worker})
        if absent:
            raise DataError(
                f"{dataset.location}: a Dask worker cannot import {', '.join(absent)}: {WORKERS_IMPORT}"
            )
        self._checked.add(names)

    def _run_once(self, dataset: Dataset, job: Job[S], shard: Shard | None) -> S | None:
        """One run: a summary task per partition, then merges of SPLIT_EVERY summaries, level by level."""
        from dask import delayed

        job_key = delayed(job, pure=True, traverse=False)
        if shard is not None:
            partitions = self._unit_partitions(dataset, job_key, shard)
        elif dataset.format in ("parquet", "delta"):
            partitions = self._parquet_partitions(dataset, job, job_key)
        else:
            partitions = self._text_partitions(dataset, job, job_key)
        if not partitions:
            return None
        level = partitions
        while len(level) > 1:
            level = [
                delayed(_merge_summaries, pure=True)(job_key, level[start : start + SPLIT_EVERY])
                for start in range(0, len(level), SPLIT_EVERY)
            ]
        return self.client.compute(level[0]).result()

    def _unit_partitions(self, dataset: Dataset, job_key: Any, shard: Shard) -> list[Any]:
        """A summary task per read unit of shard I/N (``sources.shard_units``): the rows every engine's shard
        I/N reads, so that shards profiled anywhere merge into the whole."""
        from dask import delayed

        from mlops_actions.engines.sources import dataset_units, shard_units

        units = shard_units(dataset_units(dataset, unit_bytes=self.unit_bytes), shard)
        return [delayed(_summarise_unit, pure=True)(job_key, dataset, unit) for unit in units]

    def _parquet_partitions(self, dataset: Dataset, job: Job[Any], job_key: Any) -> list[Any]:
        """A summary task per partition of ``dask.dataframe.read_parquet`` (Hive folder names read as
        strings, then given the driver's types)."""
        import dask.dataframe as dd
        import pyarrow as pa
        from dask import delayed

        from mlops_actions.engines.sources import dataset_files, info_types, partition_keys, partition_types

        keys = partition_keys(dataset)
        types = info_types(job.info) if job.reads == "rows" else {}  # type: ignore[attr-defined]
        columns = list(types) if job.reads == "rows" else None
        partitioning: Any = None
        if keys:
            partitioning = {"flavor": "hive", "schema": pa.schema([(key, pa.string()) for key in keys])}
        frame = dd.read_parquet(
            dataset_files(dataset),
            columns=columns,
            index=False,
            dtype_backend="pyarrow",
            dataset={"partitioning": partitioning},
        )
        if self.options.partitions:
            frame = frame.repartition(npartitions=self.options.partitions)
        # partition columns in the driver's types ("rows"), or the dataset's own (strings, Delta's types)
        if job.reads == "rows":
            folder_types = {key: types[key] for key in keys if key in types}
        else:
            folder_types = partition_types(dataset)
        return [
            delayed(_summarise_frame, pure=True)(
                job_key, part, f"{dataset.location} (partition {number})", folder_types
            )
            for number, part in enumerate(frame.to_delayed(), start=1)
        ]

    def _text_partitions(self, dataset: Dataset, job: Job[Any], job_key: Any) -> list[Any]:
        """A summary task per partition of whole lines read with ``dask.bytes.read_bytes``; with
        ``options.partitions`` the blocks are grouped, or cut at line ends, into exactly that many."""
        from dask import delayed
        from dask.bytes import read_bytes
        from fsspec.core import open_files

        from mlops_actions.engines.sources import dataset_files, header_line, info_types

        files = dataset_files(dataset)
        if not files:
            raise DataError(f"{dataset.location}: no data files")
        wanted = self.options.partitions
        blocksize: int | None = self.unit_bytes
        if any(file.lower().endswith(".gz") for file in files):
            blocksize = None  # a compressed file is one block
        elif wanted:
            total = sum(opened.fs.size(opened.path) for opened in open_files(files, mode="rb"))
            blocksize = max(1, math.ceil(total / wanted))
        _sample, blocks, _paths = read_bytes(
            files, delimiter=b"\n", blocksize=blocksize, sample=False, compression="infer", include_path=True
        )
        pieces = []
        for file, file_blocks in zip(files, blocks, strict=True):
            header = header_line(file) if dataset.format == "csv" else b""
            pieces += [
                _Piece(block, file, dataset.format, header, number == 0)
                for number, block in enumerate(file_blocks)
            ]
        types = info_types(job.info) if job.reads == "rows" else {}  # type: ignore[attr-defined]
        return [
            delayed(_summarise_text, pure=True)(job_key, cuts, dataset, types)
            for cuts in _plan(pieces, wanted)
        ]


@dataclass(frozen=True)
class _Piece:
    """A block of whole lines of one file (the first block of a CSV file starts with its header line)."""

    block: Any  # a Delayed of bytes on the driver, the bytes on a worker
    origin: str
    format: str
    header: bytes
    first: bool


@dataclass(frozen=True)
class _Cut:
    """Share ``part`` of ``parts`` of a piece's lines, cut at line ends."""

    piece: _Piece
    part: int = 0
    parts: int = 1


def _plan(pieces: list[_Piece], wanted: int | None) -> list[list[_Cut]]:
    """The pieces as partitions: one each; or, for ``wanted`` partitions, consecutive pieces grouped when
    there are more, pieces cut into shares when there are fewer."""
    if not wanted or not pieces:
        return [[_Cut(piece)] for piece in pieces]
    if len(pieces) >= wanted:
        groups, start = [], 0
        for index in range(wanted):
            size = len(pieces) // wanted + (index < len(pieces) % wanted)
            groups.append([_Cut(piece) for piece in pieces[start : start + size]])
            start += size
        return groups
    plan = []
    for index, piece in enumerate(pieces):
        parts = wanted // len(pieces) + (index < wanted % len(pieces))
        plan += [[_Cut(piece, part, parts)] for part in range(parts)]
    return plan


def _cut_lines(text: bytes, part: int, parts: int) -> bytes:
    """Share ``part`` of ``parts`` nearly equal shares of whole lines."""
    if parts == 1:
        return text
    bounds = [0]
    for index in range(1, parts):
        at = len(text) * index // parts
        cut = text.find(b"\n", max(at - 1, bounds[-1]))
        bounds.append(len(text) if cut < 0 else max(bounds[-1], cut + 1))
    bounds.append(len(text))
    return text[bounds[part] : bounds[part + 1]]


def _file_texts(cuts: list[_Cut]) -> list[tuple[_Piece, bytes, int | None]]:
    """The whole lines of a partition's cuts without the CSV header line, those of consecutive cuts of one file
    joined: (its first piece, the text, the 1-based line number of the text's first line when known)."""
    texts: list[tuple[_Piece, bytes, int | None]] = []
    for cut in cuts:
        piece = cut.piece
        text = bytes(piece.block)
        if piece.first and piece.format == "csv":
            text = text[text.find(b"\n") + 1 :] if b"\n" in text else b""
        text = _cut_lines(text, cut.part, cut.parts)
        if not text.strip():
            continue
        if texts and texts[-1][0].origin == piece.origin:
            texts[-1] = (texts[-1][0], texts[-1][1] + text, texts[-1][2])
            continue
        first_line = (2 if piece.format == "csv" else 1) if piece.first and cut.part == 0 else None
        texts.append((piece, text, first_line))
    return texts


def _summarise_text(job: Job[S], cuts: list[_Cut], dataset: Dataset, types: dict[str, str]) -> S | None:
    """The merged summary of a partition of text, one batch per file it touches (runs on a worker)."""
    from mlops_actions.engines.sources import csv_text_table, with_partitions

    summaries = []
    for piece, text, first_line in _file_texts(cuts):
        try:
            if job.reads == "rows":
                table = csv_text_table(text, piece.header, types, origin=piece.origin)
                summaries.append(_summarise_rows(job, with_partitions(table, dataset, piece.origin, types)))
            else:
                header = piece.header or None
                batch = Batch(piece.origin, piece.format, text=text, header=header, first_line=first_line)
                summaries.append(job.summarise(batch))
        except Exception as error:
            raise _worker_error(piece.origin, error) from None
    return tree_merge(job, summaries)


def _summarise_frame(job: Job[S], frame: Any, origin: str, partition_types: dict[str, str]) -> S | None:
    """The summary of a partition of ``read_parquet`` (runs on a worker); partition columns, read as
    strings, take the driver's types."""
    import pyarrow as pa

    from mlops_actions.engines.sources import arrow_type

    if len(frame) == 0:
        return None
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        for key, text in partition_types.items():
            kind = arrow_type(text)
            index = table.schema.get_field_index(key)
            if index >= 0 and not table.schema.field(index).type.equals(kind):
                table = table.set_column(index, key, table.column(index).cast(kind))
        if job.reads == "rows":
            return _summarise_rows(job, table)
        return job.summarise(Batch(origin, "parquet", table=table))
    except Exception as error:
        raise _worker_error(origin, error) from None


def _summarise_unit(job: Job[S], dataset: Dataset, unit: Any) -> S | None:
    """The summary of one read unit of a shard (runs on a worker)."""
    from mlops_actions.engines.sources import unit_batch, unit_table

    try:
        if job.reads == "rows":
            return _summarise_rows(job, unit_table(dataset, unit, job.info))  # type: ignore[attr-defined]
        return job.summarise(unit_batch(unit, dataset=dataset))
    except Exception as error:
        raise _worker_error(unit.file, error) from None


def _summarise_rows(job: Job[S], table: Any) -> S | None:
    """A "rows" job's summary of an Arrow table, chunk by chunk as the local scan hands them."""
    from mlops_actions.engines.sources import table_chunk, table_slices

    summaries = [job.summarise(table_chunk(piece, job.info)) for piece in table_slices(table)]  # type: ignore[attr-defined]
    return tree_merge(job, summaries)


def _missing_modules(names: list[str]) -> list[str]:
    """The modules of ``names`` this worker cannot import (runs on every worker)."""
    import importlib.util

    missing = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:
            found = False
        if not found:
            missing.append(name)
    return missing


def _merge_summaries(job: Job[S], summaries: list[S | None]) -> S | None:
    """A node of the reduction tree: its children's summaries merged (runs on a worker)."""
    return tree_merge(job, summaries)


def _worker_error(origin: str, error: Exception) -> Exception:
    """A worker's failure as one line naming the file (the wider-types signal goes through untouched)."""
    from mlops_actions.engines.sources import WiderTypes

    if WiderTypes.of(error) is not None:
        return error
    if isinstance(error, DataError):
        return DataError(_line(error))
    return DataError(f"{origin}: {_line(error)}")


def _line(error: BaseException) -> str:
    """An error's message on one line, without Dask's wrapping or a KeyError's quotes; a file or a module
    the workers lack says what they need."""
    if isinstance(error, FileNotFoundError):
        missing = error.filename or str(error)
        return f"a Dask worker cannot find {missing}: {WORKERS_SEE_FILES}"
    if isinstance(error, ModuleNotFoundError):
        return f"a Dask worker cannot import {error.name}: {WORKERS_IMPORT}"
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    if "Original Message:" in text:
        text = text.split("Original Message:", 1)[1]
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
