"""The engine seam: a job summarises every partition of a dataset and merges the partial summaries.

A job's ``merge`` is associative and commutative (profiles merge counts and moments exactly), so an engine
may group partitions as it likes: the local engine adds chunk after chunk, Dask reduces a tree of
``map_partitions`` results, Spark merges the summaries that ``mapInArrow`` emits. Whatever the engine and
the partitioning, the merged summary is the same (floating statistics within 1e-9 relative), so every
verdict computed from it is the same.

Two kinds of job (``Job.reads``):
- ``"rows"``: the engine hands the job ``Chunk`` objects (``domain/data/chunks``), columns normalised with
  the dtypes of ``Job.info`` (fixed on the driver before the run, from the dataset's schema);
- ``"logs"``: the engine hands the job ``Batch`` objects (an Arrow table, or whole lines of text) and the job
  parses them (prediction logs: ``monitoring/logs.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from mlops_actions.errors import UsageError

ENGINE_NAMES = ("local", "dask", "spark")
S = TypeVar("S")


@dataclass(frozen=True)
class Dataset:
    """Where a table's rows are and how they are stored.

    ``location`` is what the user gave: a file, a folder (Parquet dataset, Hive-partitioned folders
    ``key=value/``, a Delta table), a glob, or a URI (``s3://``, ``gs://``, ``abfs://``, ``hdfs://``, ``file://``).
    ``format`` is ``csv``, ``parquet``, ``jsonl`` or ``delta``; ``scheme`` is the URI scheme ("" for a local
    path); ``hive`` says whether ``key=value`` folder names are columns; ``files`` are the data files in
    read order when they could be listed on the driver (local paths), else empty (the engine lists them).
    """

    location: str
    format: str
    scheme: str = ""
    hive: bool = False
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Batch:
    """One partition's rows as an engine read them, for ``"logs"`` jobs: an Arrow ``table`` (Parquet, Delta),
    or ``text`` holding whole lines of a CSV file (without its header line; ``header`` holds it) or of a JSON
    Lines file. ``origin`` names the file (or partition) and ``first_line`` the 1-based line of the text's
    first line in it when known, for error messages."""

    origin: str
    format: str
    table: Any = None
    text: bytes | None = None
    header: bytes | None = None
    first_line: int | None = None


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``: a contiguous share of the dataset's read units (files, row
    groups, byte ranges), so that the N shards together read every row exactly once."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``I/N`` (1 <= I <= N) as a Shard; a UsageError naming the value otherwise."""
    parts = text.split("/")
    try:
        index, count = (int(part) for part in parts) if len(parts) == 2 else (0, 0)
    except ValueError:
        index, count = 0, 0
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"--shard {text!r}: expected I/N with 1 <= I <= N, e.g. 2/8")
    return Shard(index, count)


class Job(Protocol, Generic[S]):
    """Work an engine spreads over partitions (see the module docstring). Jobs are pickled to workers: keep
    them plain data (no open files, no locks)."""

    reads: str  # "rows" or "logs"

    def summarise(self, batch: Any) -> S:
        """The summary of one batch: a Chunk for "rows" jobs, a Batch for "logs" jobs."""
        ...

    def merge(self, first: S, second: S) -> S:
        """The summary of both summaries' rows (associative and commutative)."""
        ...


@dataclass(frozen=True)
class EngineOptions:
    """How to reach an engine: ``name`` (local, dask, spark); a Dask scheduler address (else a local
    cluster); a Spark master URL (else the active SparkSession, else ``local[2]``); ``partitions`` to
    repartition the data into (tests and benchmarks; None keeps the reader's); ``workers`` of a local cluster."""

    name: str = "local"
    dask_scheduler: str | None = None
    spark_master: str | None = None
    partitions: int | None = None
    workers: int | None = None


class Engine(Protocol):
    """Runs jobs over datasets (see the module docstring)."""

    name: str

    def table_info(self, dataset: Dataset, columns: Sequence[str] | None = None) -> Any:
        """The dataset's TableInfo (``domain/data/chunks``): its columns and the selected ones' logical dtypes;
        a DataError naming the dataset when it is unreadable or lacks a requested column."""
        ...

    def head(self, dataset: Dataset, rows: int, info: Any) -> Any:
        """The dataset's first ``rows`` rows in read order as one Chunk with ``info``'s dtypes (numeric bins are
        the percentiles of these rows, as the local engine's first rows)."""
        ...

    def run(self, dataset: Dataset, job: Job[S], *, shard: Shard | None = None) -> S | None:
        """The merged summary of every partition of the dataset (of one shard of it); None when it has no rows."""
        ...

    def close(self) -> None:
        """Release what the engine started (a local cluster, a SparkSession it created)."""
        ...


def tree_merge(job: Job[S], parts: Sequence[S | None]) -> S | None:
    """Merge summaries pairwise, in order, level by level (depth log2 n); None when there are none."""
    level = [part for part in parts if part is not None]
    if not level:
        return None
    while len(level) > 1:
        paired = [job.merge(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


EXTRAS = {"dask": "dask", "spark": "spark"}


def open_engine(options: EngineOptions) -> Engine:
    """The engine ``options.name`` names; a UsageError naming the extra to install when its package is missing,
    or naming the value when it is not an engine."""
    import importlib.util

    if options.name not in ENGINE_NAMES:
        raise UsageError(f"--engine {options.name!r}: expected one of {', '.join(ENGINE_NAMES)}")
    if options.name == "local":
        from mlops_actions.engines.local import LocalEngine

        return LocalEngine(options)
    module = "dask.distributed" if options.name == "dask" else "pyspark"
    top = module.split(".")[0]
    if importlib.util.find_spec(top) is None or (
        options.name == "dask" and importlib.util.find_spec("distributed") is None
    ):
        raise UsageError(
            f"--engine {options.name} needs {top}: pip install 'mlops-actions[{EXTRAS[options.name]}]'"
        )
    if options.name == "dask":
        from mlops_actions.engines.dask_engine import DaskEngine

        return DaskEngine(options)
    from mlops_actions.engines.spark_engine import SparkEngine

    return SparkEngine(options)
