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

A "logs" job's Batch holds consecutive rows of one file and names the file and the line (Parquet: the row)
of its first row, as the local engine's do: the monitor puts labelled rows back in read order by them.
Parquet gives the row index; for text, a first pass in the JVM counts each file block's lines. With
``options.partitions`` logs are cut into ranges in read order, "rows" jobs' rows dealt round-robin.

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
LINE_COLUMN = "__mlops_line__"
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
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
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
        # nanosecond timestamps read as their int64 values, turned back into the file's type on the workers
        with (
            spark_errors(dataset.location),
            spark_conf(self.spark, "spark.sql.legacy.parquet.nanosAsLong", "true"),
        ):
            if dataset.format in ("csv", "jsonl"):
                summaries = self._text_summaries(dataset, files, job)
            else:
                summaries = self._arrow_summaries(dataset, files, job)
            return merge_summaries(job, summaries)

    def _arrow_summaries(self, dataset: Dataset, files: list[str], job: Job[S]) -> Any:
        from pyspark.sql import functions as F

        from mlops_actions.engines.sources import info_types, parquet_file, partition_types

        spark_delta = dataset.format == "delta" and session_has_delta(self.spark)
        if spark_delta:
            frame = self.spark.read.format("delta").load(dataset.location)
        else:
            frame = self.spark.read.parquet(*files)
        columns = [column_ref(name) for name in frame.columns]
        logs = job.reads == "logs"
        if not logs:
            wanted = [column_ref(name) for name in job.info.dtypes if name in frame.columns]  # type: ignore[attr-defined]
            columns = wanted or columns[:1]
        partitioned = dataset.hive and not spark_delta and not logs
        if partitioned or logs:
            columns.append(F.col("_metadata.file_path").alias(FILE_COLUMN))
        if logs:
            columns.append(F.col("_metadata.row_index").alias(LINE_COLUMN))
        frame = self._partitioned(frame.select(*columns), logs)
        originals = {file_key(name): name for name in files}
        if logs:  # a Delta table's partition columns, as the local engine adds them
            types = partition_types(dataset) if dataset.hive and not spark_delta else {}
        else:
            types = info_types(job.info)  # type: ignore[attr-defined]
        fmt = dataset.format
        schema = None if spark_delta else parquet_file(files[0]).schema_arrow
        return map_in_arrow(
            frame, lambda batches: summarise_arrow(job, dataset, originals, types, fmt, schema, batches)
        )

    def _text_summaries(self, dataset: Dataset, files: list[str], job: Job[S]) -> Any:
        from pyspark.sql import functions as F

        from mlops_actions.engines.sources import header_line, info_types

        frame = self.spark.read.text(files).select(
            F.col("value"),
            F.col("_metadata.file_path").alias(FILE_COLUMN),
            F.col("_metadata.file_block_start").alias("block"),
        )
        fmt = dataset.format
        logs = job.reads == "logs"
        starts = block_first_lines(frame) if logs else {}
        lines = map_in_arrow(
            frame,
            lambda batches: numbered_lines(batches, fmt == "csv", starts),
            f"value string, {FILE_COLUMN} string, {LINE_COLUMN} long",
        )
        lines = self._partitioned(lines, logs)
        headers = {file_key(name): header_line(name) for name in files} if fmt == "csv" else {}
        originals = {file_key(name): name for name in files}
        types = {} if logs else info_types(job.info)  # type: ignore[attr-defined]
        return map_in_arrow(
            lines,
            lambda batches: summarise_lines(
                job, dataset, originals, headers, types, text_blocks(batches, logs)
            ),
        )

    def _partitioned(self, frame: Any, in_order: bool) -> Any:
        """The frame in ``options.partitions`` partitions: for "logs" jobs ranges of rows in read order (each
        partition's rows contiguous and sorted, so a batch's first line says where all its rows are), for
        "rows" jobs dealt round-robin."""
        partitions = self.options.partitions
        if not partitions:
            return frame
        if not in_order:
            return frame.repartition(partitions)
        return frame.repartitionByRange(partitions, FILE_COLUMN, LINE_COLUMN).sortWithinPartitions(
            FILE_COLUMN, LINE_COLUMN
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
    fmt: str,
    schema: Any,
    batches: Iterator[Any],
) -> Iterator[S]:
    """(worker) A partition of Arrow batches as one summary: chunks with the job's dtypes for a "rows" job
    (Hive partition values added per file, as on the driver); for a "logs" job, Batches of one file's
    consecutive rows, named by the file and the 1-based row of their first row, as the local engine's."""
    from mlops_actions.engines.sources import table_chunk, table_slices, with_partitions

    summary: S | None = None
    start = 0
    for table in arrow_tables(batches):
        table = as_file_types(table, schema)
        pieces = file_slices(table) if FILE_COLUMN in table.column_names else [("", table)]
        for file, rows in pieces:
            origin = originals.get(file_key(file), file) if file else ""
            if job.reads == "logs":
                first = rows.column(LINE_COLUMN)[0].as_py() + 1
                rows = rows.drop_columns([LINE_COLUMN])
                if types:
                    rows = with_partitions(rows, dataset, origin, types)
                batch = Batch(origin=origin, format=fmt, table=rows, first_line=first)
                summary = merged(job, summary, job.summarise(batch))
                continue
            if origin:
                rows = with_partitions(rows, dataset, origin, types)
            for part in table_slices(rows, CHUNK_ROWS):
                summary = merged(job, summary, job.summarise(table_chunk(part, job.info, start)))  # type: ignore[attr-defined]
                start += part.num_rows
    if summary is not None:
        yield summary


def as_file_types(table: Any, schema: Any) -> Any:
    """The table's columns in the types the Parquet file holds (Spark reads timestamps as microseconds in the
    session's time zone, nanoseconds as int64), where a cast can give them back; the others as they are."""
    import pyarrow as pa

    if schema is None:
        return table
    for index, name in enumerate(table.column_names):
        if name not in schema.names:
            continue
        wanted = schema.field(name).type
        column = table.column(index)
        if column.type.equals(wanted) or not (pa.types.is_timestamp(wanted) or pa.types.is_date(wanted)):
            continue
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
            table = table.set_column(index, name, column.cast(wanted))
    return table


@contextlib.contextmanager
def spark_conf(spark: Any, key: str, value: str) -> Iterator[None]:
    """A runtime SQL setting for the block, given back its value after."""
    previous = spark.conf.get(key, None)
    spark.conf.set(key, value)
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, previous)


def block_first_lines(frame: Any) -> dict[tuple[str, int], int]:
    """(file, block start) -> the 1-based line number of the block's first line, from the lines Spark counts
    in each block of each file (a pass over the text in the JVM, for "logs" jobs, whose batches name their
    first line)."""
    counts: dict[str, list[tuple[int, int]]] = {}
    for row in frame.groupBy(FILE_COLUMN, "block").count().collect():
        counts.setdefault(row[0], []).append((row[1], row[2]))
    starts = {}
    for file, blocks in counts.items():
        line = 1
        for block, lines in sorted(blocks):
            starts[(file, block)] = line
            line += lines
    return starts


def numbered_lines(batches: Iterator[Any], csv: bool, starts: dict[tuple[str, int], int]) -> Iterator[Any]:
    """(worker) The lines with their file and 1-based line number (-1 when the blocks were not counted), each
    CSV file's first line (its header) left out. Spark reads a block's lines in order, so a line's number is
    its block's first line plus the lines of the block before it."""
    import numpy as np
    import pyarrow as pa

    current: tuple[str, int] | None = None
    seen = 0  # lines of the current block before this batch
    for batch in batches:
        if batch.num_rows == 0:
            continue
        files = batch.column(1).to_pylist()
        blocks = batch.column(2).to_pylist()
        offsets = np.empty(batch.num_rows, dtype=np.int64)
        lines = np.empty(batch.num_rows, dtype=np.int64)
        begin = 0
        for index in range(1, batch.num_rows + 1):
            if index < batch.num_rows and (files[index], blocks[index]) == (files[begin], blocks[begin]):
                continue
            key = (files[begin], blocks[begin])
            if key != current:
                current, seen = key, 0
            offsets[begin:index] = np.arange(seen, seen + index - begin)
            first = starts.get(key)
            lines[begin:index] = -1 if first is None else first + offsets[begin:index]
            seen += index - begin
            begin = index
        keep = ~((offsets == 0) & (np.asarray(blocks) == 0)) if csv else np.ones(batch.num_rows, dtype=bool)
        yield pa.RecordBatch.from_arrays(
            [
                batch.column(0).filter(pa.array(keep)),
                batch.column(1).filter(pa.array(keep)),
                pa.array(lines[keep]),
            ],
            names=["value", FILE_COLUMN, LINE_COLUMN],
        )


def line_runs(batches: Iterator[Any], in_order: bool) -> Iterator[tuple[str, int, list[str]]]:
    """(file, line number of the first, lines) of consecutive lines of one file; ``in_order``: a run also
    ends where the line numbers jump."""
    import numpy as np

    for batch in batches:
        values = batch.column(0).to_pylist()
        files = batch.column(1).to_pylist()
        numbers = batch.column(2).to_numpy()
        jumps = np.flatnonzero(np.diff(numbers) != 1) + 1 if in_order else np.array([], dtype=np.int64)
        ends = set(jumps.tolist())
        begin = 0
        for index in range(1, len(values) + 1):
            if index == len(values) or files[index] != files[begin] or index in ends:
                yield files[begin], int(numbers[begin]), values[begin:index]
                begin = index


def text_blocks(batches: Iterator[Any], in_order: bool) -> Iterator[tuple[str, bytes, int | None]]:
    """(file, whole lines, 1-based line number of the first when known) of about TEXT_BLOCK_BYTES each, each
    block consecutive lines of one file."""
    pending: list[str] = []
    size = 0
    pending_file = ""
    pending_line: int | None = None
    next_line = -1

    def text() -> bytes:
        return "".join(value + "\n" for value in pending).encode("utf-8")

    for file, first, lines in line_runs(batches, in_order):
        if pending and (file != pending_file or (in_order and first != next_line)):
            yield pending_file, text(), pending_line
            pending, size = [], 0
        if not pending:
            pending_file, pending_line = file, (first if first > 0 else None)
        pending.extend(lines)
        next_line = first + len(lines)
        size += sum(len(value) + 1 for value in lines)
        if size >= TEXT_BLOCK_BYTES:
            yield pending_file, text(), pending_line
            pending, size = [], 0
    if pending:
        yield pending_file, text(), pending_line


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
