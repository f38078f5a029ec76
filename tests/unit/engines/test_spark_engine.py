"""The Spark engine on a real local[2] session: the local engine's answer whatever the partitioning.

One session serves the whole module (starting Spark costs seconds); the data stay small.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from mlops_actions.engines.base import EngineOptions
from mlops_actions.engines.local import LocalEngine
from mlops_actions.engines.sources import resolve_dataset, with_types
from mlops_actions.errors import DataError, UsageError

ROWS = 3000
FAST_START = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"  # short jobs: compile less, collect simply


@dataclass(frozen=True)
class CountingJob:
    """Rows, and per column the present values and their sum (numbers) or their counts (categories)."""

    info: Any
    reads: str = "rows"

    def summarise(self, chunk: Any) -> dict[str, Any]:
        summary: dict[str, Any] = {"rows": chunk.rows}
        for name, column in chunk.columns.items():
            if column.kind == "numeric":
                present = ~np.isnan(column.values)
                summary[name] = (int(present.sum()), float(column.values[present].sum()))
            elif column.kind == "categorical":
                names = column.names()
                summary[name] = Counter(names[code] for code in column.codes if code >= 0)
            else:
                summary[name] = int((~column.missing).sum())
        return summary

    def merge(self, first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for name, value in first.items():
            other = second[name]
            if isinstance(value, tuple):
                merged[name] = (value[0] + other[0], value[1] + other[1])
            else:
                merged[name] = value + other
        return merged


@dataclass(frozen=True)
class FailingJob:
    info: Any
    reads: str = "rows"

    def summarise(self, chunk: Any) -> int:
        raise ValueError("this column cannot be counted\nsecond line of the reason")

    def merge(self, first: int, second: int) -> int:
        return first + second


@dataclass(frozen=True)
class LineJob:
    """A "logs" job: every row by where its Batch says it was read, (file, line or row number) -> its text
    (CSV, JSON Lines) or its value of ``n`` (Parquet), and the headers CSV batches came with."""

    reads: str = "logs"

    def summarise(self, batch: Any) -> dict[str, Any]:
        first = batch.first_line
        if batch.table is not None:
            values = batch.table.column("n").to_pylist()
            return {"at": {(batch.origin, first + i): v for i, v in enumerate(values)}, "headers": Counter()}
        lines = batch.text.decode().splitlines()
        at = {(batch.origin, first + i): line for i, line in enumerate(lines)}
        return {"at": at, "headers": Counter({batch.header: len(lines)})}

    def merge(self, first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
        assert not first["at"].keys() & second["at"].keys()  # every row read once
        return {"at": {**first["at"], **second["at"]}, "headers": first["headers"] + second["headers"]}


@dataclass(frozen=True)
class TypesJob:
    reads: str = "logs"

    def summarise(self, batch: Any) -> set[str]:
        return {f"{field.name}: {field.type}" for field in batch.table.schema}

    def merge(self, first: set[str], second: set[str]) -> set[str]:
        return first | second


def assert_same_answer(got: dict[str, Any], expected: dict[str, Any]) -> None:
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        if isinstance(value, tuple):
            assert got[name][0] == value[0], name
            assert got[name][1] == pytest.approx(value[1], rel=1e-9, abs=1e-12), name
        else:
            assert got[name] == value, name


@pytest.fixture(scope="module")
def spark():
    """One local[2] session for the module, created here (not by an engine)."""
    from mlops_actions.engines.spark_engine import create_session, require_java

    try:
        require_java()
    except UsageError as error:
        pytest.fail(str(error), pytrace=False)
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the jobs above travel to the workers
    session = create_session("local[2]", java_options=FAST_START)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The same rows as one Parquet file (several row groups), one CSV file and a Hive folder k=01/, k=2/."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    values = rng.normal(10.0, 3.0, ROWS)
    values[::17] = np.nan
    table = pa.table(
        {
            "x": pa.array(values, from_pandas=True),
            "n": rng.integers(0, 1000, ROWS),
            "s": [None if i % 11 == 0 else f"c{i % 5}" for i in range(ROWS)],
        }
    )
    root = tmp_path_factory.mktemp("spark-data")
    pq.write_table(table, root / "rows.parquet", row_group_size=700)
    pcsv.write_csv(table, root / "rows.csv")
    for key, part in (
        ("01", table.slice(0, 1000)),
        ("2", table.slice(1000)),
    ):  # text, though they look like numbers
        (root / "hive" / f"k={key}").mkdir(parents=True)
        pq.write_table(part, root / "hive" / f"k={key}" / "part.parquet")
    return root


def local_answer(location: str) -> tuple[Any, dict[str, Any]]:
    dataset = resolve_dataset(location)
    engine = LocalEngine(EngineOptions())
    job = CountingJob(engine.table_info(dataset))
    return job, engine.run(dataset, job)


def spark_engine(partitions: int | None = None) -> Any:
    from mlops_actions.engines.spark_engine import SparkEngine

    return SparkEngine(EngineOptions(name="spark", partitions=partitions))


@pytest.mark.parametrize("partitions", [1, 7, 64])
@pytest.mark.parametrize("name", ["rows.parquet", "rows.csv"])
def test_a_counting_job_gives_the_local_engines_answer_at_any_partitioning(spark, data, name, partitions):
    location = str(data / name)
    job, expected = local_answer(location)
    assert expected["rows"] == ROWS
    got = spark_engine(partitions).run(resolve_dataset(location), job)
    assert_same_answer(got, expected)


def test_a_hive_folder_adds_its_folder_values_as_a_string_column(spark, data):
    job, expected = local_answer(str(data / "hive"))
    assert job.info.dtypes["k"] == "string"
    got = spark_engine().run(resolve_dataset(str(data / "hive")), job)
    assert_same_answer(got, expected)
    assert got["k"] == Counter({"01": 1000, "2": ROWS - 1000})


def test_a_delta_table_is_read_from_its_current_files_when_the_session_has_no_delta(spark, data, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from deltalake import write_deltalake

    table = pq.read_table(data / "rows.parquet")
    table = table.append_column("g", pa.array(np.arange(ROWS) % 2))
    write_deltalake(str(tmp_path / "delta"), table.slice(0, 500), partition_by=["g"])
    write_deltalake(str(tmp_path / "delta"), table, mode="overwrite", partition_by=["g"])
    job, expected = local_answer(str(tmp_path / "delta"))
    assert job.info.dtypes["g"] == "int"  # the table's type, not the folder name's text
    got = spark_engine(7).run(resolve_dataset(str(tmp_path / "delta")), job)
    assert_same_answer(got, expected)
    assert got["rows"] == ROWS and got["g"] == (ROWS, ROWS // 2)
    logs = resolve_dataset(str(tmp_path / "delta"), kind="logs")
    columns = LocalEngine(EngineOptions()).run(logs, TypesJob())
    assert "g: int64" in columns  # the partition column, in the table's type
    assert spark_engine().run(logs, TypesJob()) == columns


@pytest.mark.parametrize("partitions", [None, 7])
@pytest.mark.parametrize("name", ["rows.csv", "rows.parquet"])
def test_a_logs_job_gets_batches_that_say_where_their_rows_were_read(spark, data, name, partitions):
    dataset = resolve_dataset(str(data / name), kind="logs")
    expected = LocalEngine(EngineOptions()).run(dataset, LineJob())
    assert len(expected["at"]) == ROWS
    got = spark_engine(partitions).run(dataset, LineJob())
    assert got == expected


def test_a_logs_job_gets_parquet_timestamps_in_the_files_own_types(spark, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    times = pa.array(np.arange(50, dtype=np.int64) * 1_000_000_007, pa.timestamp("ns", tz="UTC"))
    days = pa.array(np.arange(50, dtype=np.int64), pa.timestamp("ms"))
    pq.write_table(pa.table({"at": times, "day": days}), tmp_path / "logs.parquet")
    dataset = resolve_dataset(str(tmp_path / "logs.parquet"), kind="logs")
    got = spark_engine().run(dataset, TypesJob())
    assert got == {"at: timestamp[ns, tz=UTC]", "day: timestamp[ms]"}


def test_a_file_uri_is_read_by_spark(spark, data):
    uri = (data / "rows.csv").as_uri()
    job, expected = local_answer(uri)
    got = spark_engine().run(resolve_dataset(uri), job)
    assert_same_answer(got, expected)


def test_a_csv_part_that_needs_wider_types_runs_the_job_again_with_them(spark, data):
    dataset = resolve_dataset(str(data / "rows.csv"))
    job, expected = local_answer(str(data / "rows.csv"))
    narrowed = CountingJob(with_types(job.info, {"x": "int64"}))  # as if the first block held whole numbers
    assert narrowed.info.dtypes["x"] == "int"
    got = spark_engine().run(dataset, narrowed)
    assert_same_answer(got, expected)


def test_a_failing_worker_becomes_one_clear_line(spark, data):
    dataset = resolve_dataset(str(data / "rows.parquet"))
    job = FailingJob(LocalEngine(EngineOptions()).table_info(dataset))
    with pytest.raises(DataError) as raised:
        spark_engine(2).run(dataset, job)
    message = str(raised.value)
    assert message == f"{dataset.location}: a Spark worker failed: ValueError: this column cannot be counted"


def test_a_malformed_csv_file_is_named_in_one_line(spark, tmp_path):
    (tmp_path / "good.csv").write_text("a,b\n1,2\n")
    broken = tmp_path / "broken.csv"
    broken.write_text("a,b\n1,2\n3,4,5\n")
    job = CountingJob(LocalEngine(EngineOptions()).table_info(resolve_dataset(str(tmp_path / "good.csv"))))
    dataset = resolve_dataset(str(broken))
    with pytest.raises(DataError) as raised:
        spark_engine().run(dataset, job)
    message = str(raised.value)
    assert message.startswith(f"{broken}: cannot read csv: ")
    assert "\n" not in message and "Traceback" not in message and "org.apache" not in message


def test_a_session_the_engine_did_not_create_is_left_running(spark, data):
    engine = spark_engine()
    assert engine.spark is spark and not engine.created
    engine.close()
    assert spark.range(3).count() == 3


def test_a_jvm_error_keeps_its_first_line_without_sqlstate():
    from mlops_actions.engines.spark_engine import one_line_error

    message = "[PATH_NOT_FOUND] Path does not exist: file:/data/x. SQLSTATE: 42K03\n\tat org.apache.spark.Foo"
    assert one_line_error("/data/x", message) == (
        "/data/x: Spark cannot read it: [PATH_NOT_FOUND] Path does not exist: file:/data/x."
    )


def test_a_worker_traceback_keeps_its_last_exception_without_the_jvm_stacktrace():
    from mlops_actions.engines.spark_engine import one_line_error

    message = (
        "An exception was thrown from the Python worker:\nTraceback (most recent call last):\n"
        '  File "job.py", line 3, in summarise\n    raise DataError(reason)\n'
        "mlops_actions.errors.DataError: /data/x.csv: cannot read csv: bad row\nmore\n\n"
        "JVM stacktrace:\norg.apache.spark.SparkException: Job aborted\n\tat org.apache.spark.Foo"
    )
    assert one_line_error("/data/x.csv", message) == "/data/x.csv: cannot read csv: bad row"


def test_without_java_the_engine_names_the_package_to_install(monkeypatch, tmp_path):
    from mlops_actions.engines.spark_engine import java_home, require_java

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert java_home() is None
    with pytest.raises(
        UsageError, match=r"^--engine spark needs Java 17 or later: install openjdk-17-jre-headless"
    ):
        require_java()


def test_java_home_is_found_from_the_java_on_the_path(monkeypatch, tmp_path):
    from mlops_actions.engines.spark_engine import java_home

    (tmp_path / "jdk" / "bin").mkdir(parents=True)
    (tmp_path / "jdk" / "bin" / "java").write_text("#!/bin/sh\n")
    (tmp_path / "jdk" / "bin" / "java").chmod(0o755)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "java").symlink_to(tmp_path / "jdk" / "bin" / "java")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert java_home() == str((tmp_path / "jdk").resolve())
