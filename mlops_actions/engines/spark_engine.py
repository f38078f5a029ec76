"""The Spark engine: every partition of a Spark DataFrame is summarised by ``mapInArrow``, the summaries merge.

Spark reads the data with its own readers: ``spark.read.parquet`` for Parquet files, datasets and
Hive-partitioned folders (the dataset's files as the driver listed them, so their order and their
partition values are those of every engine), ``format("delta")`` when the session is configured for Delta
(else the table's current files, listed by ``deltalake``, read as Parquet), ``spark.read.text`` for CSV
and JSON Lines, whose lines our own parser reads with the driver's types (``engines.sources``). On the
Python workers each partition's rows become ``Chunk``s with the job's dtypes ("rows" jobs) or ``Batch``es
("logs" jobs); the job summarises them, and each partition's summary travels pickled in a binary column to
the driver, which merges them as a tree (``tree_merge``). A summary is small (a profile: counts, moments
and bin counts per column), so the driver's memory grows with the partitions, not with the rows.

The dtypes and the numeric bins are fixed on the driver before the run, so whatever the partitioning the
merged summary is the local engine's. A CSV part whose values do not fit the fixed types fails the run with
``WiderTypes`` (Spark hands the driver only the worker's message, which carries them); the driver then runs
the job again with the wider types, as the local scan restarts. Other worker failures become one-line
DataErrors, without Spark's or Java's traceback.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pickle
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from mlops_actions.engines.base import Batch, Dataset, EngineOptions, Job, S, Shard, tree_merge
from mlops_actions.errors import DataError, UsageError

JAVA_PACKAGE = "openjdk-17-jre-headless"
DEFAULT_MASTER = "local[2]"
CHUNK_ROWS = 1 << 18  # rows of Arrow batches gathered into one chunk
TEXT_BLOCK_BYTES = 8 << 20  # bytes of CSV / JSON Lines lines parsed at once
SUMMARY_SCHEMA = "summary binary"
FILE_COLUMN = "__mlops_file__"
LOG4J2_QUIET = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
logger.executor.name = org.apache.spark.executor.Executor
logger.executor.level = off
logger.tasks.name = org.apache.spark.scheduler.TaskSetManager
logger.tasks.level = off
"""


def java_home() -> str | None:
    """JAVA_HOME when set, else the Java installation of the ``java`` on PATH (symlinks resolved); None
    without Java."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    if java is None:
        return None
    return str(Path(java).resolve().parent.parent)


def require_java() -> str:
    """The Java home Spark will use (JAVA_HOME set from ``java`` when unset); a one-line UsageError naming the
    package to install when there is no Java."""
    home = java_home()
    if home is None or not (Path(home) / "bin" / "java").exists():
        raise UsageError(
            f"--engine spark needs Java 17 or later: install {JAVA_PACKAGE} "
            "(.ci/install-system-deps.sh does it) or set JAVA_HOME"
        )
    os.environ.setdefault("JAVA_HOME", home)
    return home


class SparkEngine:
    """Runs jobs on the active SparkSession, else on one it creates (``options.spark_master``, else
    ``local[2]``; see ``create_session``). ``close`` stops only a session it created."""

    name = "spark"

    def __init__(self, options: EngineOptions):
        from pyspark.sql import SparkSession

        if options.partitions is not None and options.partitions < 1:
            raise UsageError(f"--partitions {options.partitions}: expected a number >= 1")
        self.options = options
        active = SparkSession.getActiveSession()
        self.created = active is None
        self.spark = active if active is not None else create_session(options.spark_master or DEFAULT_MASTER)

    def table_info(self, dataset: Dataset, columns: Sequence[str] | None = None) -> Any:
        """The dataset's TableInfo, read on the driver as every engine does (``engines.sources``)."""
        from mlops_actions.engines.sources import dataset_table_info

        return dataset_table_info(dataset, columns)

    def head(self, dataset: Dataset, rows: int, info: Any) -> Any:
        """The first ``rows`` rows in read order, read on the driver (``engines.sources``)."""
        from mlops_actions.engines.sources import dataset_head

        return dataset_head(dataset, rows, info)

    def run(self, dataset: Dataset, job: Job[S], *, shard: Shard | None = None) -> S | None:
        """The merged summary of every partition (None without rows); a "rows" job runs again with wider
        types when a CSV part needs them."""
        from mlops_actions.engines.sources import run_with_wider_types

        if shard is not None:
            raise UsageError(
                f"--shard {shard}: shards are read by the local engine; Spark splits the data itself"
            )
        if job.reads == "logs":
            return self._run_once(dataset, job)
        if job.reads != "rows":
            raise UsageError(f"a job reads 'rows' or 'logs', not {job.reads!r}")
        return run_with_wider_types(job, lambda current: self._run_once(dataset, current))

    def close(self) -> None:
        """Stop the SparkSession when this engine created it (a session it was handed keeps running)."""
        if self.created:
            self.spark.stop()
            self.created = False

    def _run_once(self, dataset: Dataset, job: Job[S]) -> S | None:
        from mlops_actions.engines.sources import dataset_files

        files = dataset_files(dataset)
        with spark_errors(dataset.location):
            if dataset.format in ("csv", "jsonl"):
                summaries = self._text_summaries(dataset, files, job)
            else:
                summaries = self._arrow_summaries(dataset, files, job)
            return merge_summaries(job, summaries)

    def _arrow_summaries(self, dataset: Dataset, files: list[str], job: Job[S]) -> Any:
        from pyspark.sql import functions as F

        from mlops_actions.engines.sources import info_types

        spark_delta = dataset.format == "delta" and session_has_delta(self.spark)
        if spark_delta:
            frame = self.spark.read.format("delta").load(dataset.location)
        else:
            frame = self.spark.read.parquet(*files)
        columns = [column_ref(name) for name in frame.columns]
        if job.reads == "rows":
            wanted = [column_ref(name) for name in job.info.dtypes if name in frame.columns]  # type: ignore[attr-defined]
            columns = wanted or columns[:1]
        partitioned = dataset.hive and not spark_delta and job.reads == "rows"
        if partitioned:
            columns.append(F.col("_metadata.file_path").alias(FILE_COLUMN))
        frame = frame.select(*columns)
        if self.options.partitions:
            frame = frame.repartition(self.options.partitions)
        originals = {file_key(name): name for name in files} if partitioned else {}
        types = info_types(job.info) if job.reads == "rows" else {}  # type: ignore[attr-defined]
        location, fmt = dataset.location, dataset.format
        return map_in_arrow(
            frame, lambda batches: summarise_arrow(job, dataset, originals, types, location, fmt, batches)
        )

    def _text_summaries(self, dataset: Dataset, files: list[str], job: Job[S]) -> Any:
        from pyspark.sql import functions as F

        from mlops_actions.engines.sources import header_line, info_types

        frame = self.spark.read.text(files).select(
            F.col("value"),
            F.col("_metadata.file_path").alias("file"),
            F.col("_metadata.file_block_start").alias("block"),
        )
        fmt = dataset.format
        headers = {file_key(name): header_line(name) for name in files} if fmt == "csv" else {}
        originals = {file_key(name): name for name in files}
        types = info_types(job.info) if job.reads == "rows" else {}  # type: ignore[attr-defined]
        partitions = self.options.partitions
        positional = not partitions
        if partitions:
            lines = (
                map_in_arrow(frame, without_headers, "value string, file string") if fmt == "csv" else frame
            )
            frame = lines.select("value", "file").repartition(partitions)
        return map_in_arrow(
            frame,
            lambda batches: summarise_lines(
                job, dataset, originals, headers, types, text_blocks(batches, fmt, positional)
            ),
        )


def create_session(master: str, *, java_options: str = "") -> Any:
    """A SparkSession on ``master`` whose Python workers run this interpreter (``PYSPARK_PYTHON`` unless set),
    without UI or progress bars, with quiet logs; on a local master the driver binds 127.0.0.1 only.
    ``java_options`` are added to the driver JVM's options (tests start it with a faster JIT setting)."""
    from pyspark.sql import SparkSession

    require_java()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    handle, log_config = tempfile.mkstemp(prefix="mlops-spark-log4j2-", suffix=".properties")
    with os.fdopen(handle, "w") as written:
        written.write(LOG4J2_QUIET)
    builder = (
        SparkSession.builder.master(master)
        .appName("mlops-actions")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.session.timeZone", "UTC")
        .config(
            "spark.driver.extraJavaOptions",
            f"-Dlog4j2.configurationFile=file:{log_config} {java_options}".strip(),
        )
    )
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    try:
        with quiet_pandas_warning():
            session = builder.getOrCreate()
    finally:
        os.unlink(log_config)
    session.sparkContext.setLogLevel("ERROR")
    return session


def session_has_delta(spark: Any) -> bool:
    """Whether the session reads Delta itself (delta-spark's extension or catalog configured)."""
    settings = [
        spark.conf.get(key, "") or "" for key in ("spark.sql.extensions", "spark.sql.catalog.spark_catalog")
    ]
    return any("delta" in setting.lower() for setting in settings)


def column_ref(name: str) -> Any:
    """A column by its exact name (dots and spaces included)."""
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def file_key(name: str) -> str:
    """What a file's name as the driver listed it and as Spark's ``_metadata.file_path`` gives it both reduce
    to: an absolute local path (``file:`` and percent-encoding removed), else the URI."""
    from urllib.parse import unquote

    from mlops_actions.engines.sources import uri_scheme

    text = unquote(name)
    if text.startswith("file:"):
        text = "/" + text[len("file:") :].lstrip("/")
    elif not uri_scheme(text):
        text = os.path.abspath(text)
    return text


@contextlib.contextmanager
def quiet_pandas_warning() -> Iterator[None]:
    """pyspark's warning that it does not yet support this pandas left out (the Arrow path needs no pandas)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not yet fully support pandas.*")
        yield


def map_in_arrow(
    frame: Any, summarise: Callable[[Iterator[Any]], Iterator[Any]], schema: str = SUMMARY_SCHEMA
) -> Any:
    """``frame.mapInArrow(summarise, schema)``; with the default schema, ``summarise`` yields summaries, each
    pickled into the binary column on the worker."""
    if schema != SUMMARY_SCHEMA:
        with quiet_pandas_warning():
            return frame.mapInArrow(summarise, schema)

    def pickled(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        for summary in summarise(batches):
            yield pa.RecordBatch.from_arrays(
                [pa.array([pickle.dumps(summary)], pa.binary())], names=["summary"]
            )

    with quiet_pandas_warning():
        return frame.mapInArrow(pickled, SUMMARY_SCHEMA)


def merge_summaries(job: Job[S], summaries: Any) -> S | None:
    """The partitions' summaries (one small row each) collected in partition order and merged as a tree on
    the driver (None when no partition had rows)."""
    return tree_merge(job, [pickle.loads(row[0]) for row in summaries.collect()])


def merged(job: Job[S], summary: S | None, part: S | None) -> S | None:
    """Both summaries merged (either may be None)."""
    if part is None:
        return summary
    return part if summary is None else job.merge(summary, part)


def arrow_tables(batches: Iterator[Any], rows: int = CHUNK_ROWS) -> Iterator[Any]:
    """Arrow record batches gathered into tables of about ``rows`` rows."""
    import pyarrow as pa

    pending: list[Any] = []
    count = 0
    for batch in batches:
        if batch.num_rows:
            pending.append(batch)
            count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(pending)
            pending, count = [], 0
    if count:
        yield pa.Table.from_batches(pending)


def file_slices(table: Any) -> Iterator[tuple[str, Any]]:
    """(file, rows) of the consecutive rows of a table that come from one file (its FILE_COLUMN)."""
    import numpy as np
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(table.column(FILE_COLUMN)).combine_chunks()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    names = encoded.dictionary.to_pylist()
    bounds = [0, *(np.flatnonzero(np.diff(codes)) + 1).tolist(), len(codes)]
    rows = table.drop_columns([FILE_COLUMN])
    for low, high in itertools.pairwise(bounds):
        if high > low:
            yield names[codes[low]], rows.slice(low, high - low)


def summarise_arrow(
    job: Job[S],
    dataset: Dataset,
    originals: dict[str, str],
    types: dict[str, str],
    location: str,
    fmt: str,
    batches: Iterator[Any],
) -> Iterator[S]:
    """(worker) A partition of Arrow batches as one summary: chunks with the job's dtypes for a "rows" job
    (Hive partition values added per file, as on the driver), Batches for a "logs" job."""
    from mlops_actions.engines.sources import table_chunk, table_slices, with_partitions

    summary: S | None = None
    start = 0
    for table in arrow_tables(batches):
        if job.reads == "logs":
            summary = merged(
                job, summary, job.summarise(Batch(origin=partition_name(location), format=fmt, table=table))
            )
            continue
        if originals:
            pieces = [
                with_partitions(rows, dataset, originals.get(file_key(file), file), types)
                for file, rows in file_slices(table)
            ]
        else:
            pieces = [table]
        for piece in pieces:
            for part in table_slices(piece, CHUNK_ROWS):
                summary = merged(job, summary, job.summarise(table_chunk(part, job.info, start)))  # type: ignore[attr-defined]
                start += part.num_rows
    if summary is not None:
        yield summary


def partition_name(origin: str) -> str:
    """``origin (partition N)`` on a worker, naming the Spark partition."""
    from pyspark import TaskContext

    context = TaskContext.get()
    return f"{origin} (partition {context.partitionId()})" if context is not None else origin


def line_runs(batches: Iterator[Any]) -> Iterator[tuple[str, int, list[str]]]:
    """(file, block start, lines) of the consecutive lines of one file block, in the order Spark read them
    (block start -1 when the lines were shuffled)."""
    for batch in batches:
        values = batch.column(0).to_pylist()
        files = batch.column(1).to_pylist()
        blocks = batch.column(2).to_pylist() if batch.num_columns > 2 else [-1] * len(files)
        begin = 0
        for index in range(1, len(values) + 1):
            if index == len(values) or files[index] != files[begin] or blocks[index] != blocks[begin]:
                yield files[begin], blocks[begin], values[begin:index]
                begin = index


def without_headers(batches: Iterator[Any]) -> Iterator[Any]:
    """(worker) CSV lines with their file, each file's first line (its header) left out."""
    import pyarrow as pa

    current: tuple[str, int] | None = None
    for file, block, lines in line_runs(batches):
        if (file, block) != current and block == 0:
            lines = lines[1:]
        current = (file, block)
        if lines:
            yield pa.RecordBatch.from_pydict({"value": lines, "file": [file] * len(lines)})


def text_blocks(
    batches: Iterator[Any], fmt: str, positional: bool
) -> Iterator[tuple[str, bytes, int | None]]:
    """(file, whole lines, 1-based line number of the first when known) of about TEXT_BLOCK_BYTES each.
    ``positional``: the lines come as Spark read them, so a file's first line is a CSV file's header."""
    current: tuple[str, int] | None = None
    line = 0  # line number of the next line, 0 when unknown
    pending: list[str] = []
    size = 0
    pending_file = ""
    pending_line: int | None = None
    for file, block, lines in line_runs(batches):
        if positional and (file, block) != current:
            line = 1 if block == 0 else 0
            if block == 0 and fmt == "csv":
                lines, line = lines[1:], 2
            current = (file, block)
        if pending and file != pending_file:
            yield pending_file, "".join(value + "\n" for value in pending).encode("utf-8"), pending_line
            pending, size = [], 0
        if not lines:
            continue
        if not pending:
            pending_file, pending_line = file, line or None
        pending.extend(lines)
        size += sum(len(value) + 1 for value in lines)
        line = line + len(lines) if line else 0
        if size >= TEXT_BLOCK_BYTES:
            yield pending_file, "".join(value + "\n" for value in pending).encode("utf-8"), pending_line
            pending, size = [], 0
    if pending:
        yield pending_file, "".join(value + "\n" for value in pending).encode("utf-8"), pending_line


def summarise_lines(
    job: Job[S],
    dataset: Dataset,
    originals: dict[str, str],
    headers: dict[str, bytes],
    types: dict[str, str],
    blocks: Iterator[tuple[str, bytes, int | None]],
) -> Iterator[S]:
    """(worker) A partition's CSV / JSON Lines text blocks as one summary: parsed with the fixed types into
    chunks for a "rows" job, handed as text Batches to a "logs" job."""
    from mlops_actions.engines.sources import csv_text_table, table_chunk, table_slices, with_partitions

    summary: S | None = None
    start = 0
    for file, text, first_line in blocks:
        key = file_key(file)
        origin = originals.get(key, key)
        header = headers.get(key)
        if job.reads == "logs":
            batch = Batch(
                origin=origin, format=dataset.format, text=text, header=header, first_line=first_line
            )
            summary = merged(job, summary, job.summarise(batch))
            continue
        if dataset.format != "csv":
            raise DataError(f"{origin}: {dataset.format} files hold prediction logs, not a table")
        table = csv_text_table(text, header or b"", types, origin=origin)
        table = with_partitions(table, dataset, origin, types)
        for part in table_slices(table, CHUNK_ROWS):
            summary = merged(job, summary, job.summarise(table_chunk(part, job.info, start)))  # type: ignore[attr-defined]
            start += part.num_rows
    if summary is not None:
        yield summary


PYTHON_ERROR = re.compile(r"^([A-Za-z_][\w.]*): ?(.*)$", re.MULTILINE)
QUIET_KINDS = ("DataError", "UsageError", "ConfigError", "MlopsError")


@contextlib.contextmanager
def spark_errors(location: str) -> Iterator[None]:
    """Spark's failures as one-line DataErrors (see ``one_line_error``); a worker's WiderTypes raised again as
    itself, for the retry."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    from mlops_actions.engines.sources import WiderTypes

    try:
        yield
    except (PySparkException, Py4JError) as error:
        wider = WiderTypes.of(error)
        if wider is not None:
            raise wider from None
        raise DataError(one_line_error(location, str(error))) from None


def one_line_error(location: str, message: str) -> str:
    """One line saying why a Spark run failed: a worker's exception by the last line of its Python traceback
    (our own errors by their message alone), a JVM error by its first line, SQLSTATE left out."""
    message = message.split("\n\nJVM stacktrace:", 1)[0]
    raised = PYTHON_ERROR.findall(message)
    if "Traceback (most recent call last)" in message and raised:
        kind, text = raised[-1]
        kind = kind.rsplit(".", 1)[-1]
        if kind in QUIET_KINDS and text.strip():
            return text.strip()
        return f"{location}: a Spark worker failed: {kind}: {text.strip()}".rstrip(": ")
    first = next((line.strip() for line in message.splitlines() if line.strip()), "unknown error")
    first = re.sub(r"\s*SQLSTATE: \w+\.?\s*$", "", first)
    return f"{location}: Spark cannot read it: {first}"
