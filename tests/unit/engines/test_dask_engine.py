"""The Dask engine on a real ``distributed.LocalCluster`` of 2 worker processes: the local engine's answers
at 1, 7 and 64 partitions, on Parquet, CSV (plain, gzip, widened types), Hive folders, Delta tables and
``file://`` URIs; the local engine's shards; worker errors as one line naming the file; and a ``close`` that
stops only the cluster the engine started."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

pytest.importorskip("distributed")

from mlops_actions.domain.data.chunks import CategoricalColumn, NumericColumn, TableInfo
from mlops_actions.engines.base import EngineOptions, Shard
from mlops_actions.engines.dask_engine import DaskEngine
from mlops_actions.engines.local import LocalEngine
from mlops_actions.engines.sources import resolve_dataset
from mlops_actions.errors import DataError

ROWS = 20_000


@dataclass(frozen=True)
class Tally:
    """Rows, sums and missing counts of the numeric columns, value counts of the categorical ones, and
    the number of batches summarised."""

    rows: int
    sums: dict[str, float]
    missing: dict[str, int]
    values: dict[str, Counter[str]]
    dtypes: dict[str, str]
    batches: int = 1


@dataclass(frozen=True)
class TallyJob:
    """A tiny "rows" job: counts and sums every chunk the engine hands it."""

    info: TableInfo
    reads: str = "rows"

    def summarise(self, chunk: Any) -> Tally:
        sums, missing, values = {}, {}, {}
        for name, column in chunk.columns.items():
            missing[name] = int(column.missing.sum())
            if isinstance(column, NumericColumn):
                sums[name] = float(np.nansum(column.values))
            elif isinstance(column, CategoricalColumn):
                names = column.names()
                values[name] = Counter(names[code] for code in column.codes.tolist() if code >= 0)
        return Tally(
            chunk.rows, sums, missing, values, {name: column.dtype for name, column in chunk.columns.items()}
        )

    def merge(self, first: Tally, second: Tally) -> Tally:
        return Tally(
            first.rows + second.rows,
            {name: first.sums[name] + second.sums[name] for name in first.sums},
            {name: first.missing[name] + second.missing[name] for name in first.missing},
            {name: first.values[name] + second.values[name] for name in first.values},
            first.dtypes,
            first.batches + second.batches,
        )


@dataclass(frozen=True)
class LineJob:
    """A tiny "logs" job: counts the rows of every batch (table rows, or lines of text)."""

    reads: str = "logs"
    fail_on: str | None = None

    def summarise(self, batch: Any) -> Counter[str]:
        if self.fail_on is not None and batch.text is not None and self.fail_on.encode() in batch.text:
            raise ValueError(f"unexpected value {self.fail_on!r}\nsecond line of the traceback")
        rows = batch.table.num_rows if batch.table is not None else batch.text.count(b"\n")
        return Counter({"rows": rows, "batches": 1})

    def merge(self, first: Counter[str], second: Counter[str]) -> Counter[str]:
        return first + second


def local_cluster(workers: int, *, processes: bool = True) -> Any:
    """A cluster of worker processes (or threads) on 127.0.0.1, as the engine starts one."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=processes,
        protocol="tcp",
        dashboard_address=None,
        host="127.0.0.1",
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    )


@dataclass(frozen=True)
class ColumnsJob:
    """A "logs" job that counts the rows of each column name, type and value of Parquet batches."""

    reads: str = "logs"

    def summarise(self, batch: Any) -> Counter[str]:
        counts: Counter[str] = Counter()
        for name, column in zip(batch.table.column_names, batch.table.columns, strict=True):
            counts.update(f"{name}:{column.type}:{value}" for value in column.to_pylist())
        return counts

    def merge(self, first: Counter[str], second: Counter[str]) -> Counter[str]:
        return first + second


@pytest.fixture(scope="module")
def cluster():
    with local_cluster(2) as running:
        yield running


@pytest.fixture(scope="module")
def engine(cluster):
    opened = DaskEngine(EngineOptions(name="dask", dask_scheduler=cluster.scheduler_address))
    yield opened
    opened.close()


def on(cluster, partitions: int | None) -> DaskEngine:
    """An engine on the module's cluster that repartitions into ``partitions``."""
    return DaskEngine(
        EngineOptions(name="dask", dask_scheduler=cluster.scheduler_address, partitions=partitions)
    )


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """The same 20 000 rows as Parquet (row groups of 3 000) and as CSV: an int column, a float column with
    missing values, a string column."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    folder = tmp_path_factory.mktemp("tables")
    index = np.arange(ROWS)
    table = pa.table(
        {
            "count": pa.array(index % 97, pa.int64()),
            "amount": pa.array(np.where(index % 11 == 0, np.nan, index * 0.1), mask=index % 11 == 0),
            "colour": pa.array([("red", "green", "blue", None)[i % 4] for i in range(ROWS)]),
        }
    )
    pq.write_table(table, folder / "rows.parquet", row_group_size=3_000)
    pcsv.write_csv(table, folder / "rows.csv")
    return folder


def tally(engine_, location: str, **resolve: Any) -> Tally:
    dataset = resolve_dataset(location, **resolve)
    info = engine_.table_info(dataset)
    result = engine_.run(dataset, TallyJob(info))
    assert result is not None
    return result


def assert_same_tally(got: Tally, expected: Tally) -> None:
    assert (got.rows, got.missing, got.values, got.dtypes) == (
        expected.rows,
        expected.missing,
        expected.values,
        expected.dtypes,
    )
    assert got.sums == pytest.approx(expected.sums, rel=1e-9)


@pytest.mark.parametrize("partitions", [1, 7, 64])
@pytest.mark.parametrize("name", ["rows.parquet", "rows.csv"])
def test_a_rows_job_gives_the_local_engines_answer_at_1_7_and_64_partitions(
    cluster, tables, name, partitions
):
    location = str(tables / name)
    expected = tally(LocalEngine(EngineOptions()), location)
    engine_ = on(cluster, partitions)
    try:
        got = tally(engine_, location)
    finally:
        engine_.close()
    assert_same_tally(got, expected)
    assert got.rows == ROWS
    assert got.batches == partitions


def test_without_a_partition_count_the_readers_partitions_give_the_same_answer(engine, tables):
    for name in ("rows.parquet", "rows.csv"):
        location = str(tables / name)
        assert_same_tally(tally(engine, location), tally(LocalEngine(EngineOptions()), location))


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_a_hive_partitioned_folder_adds_its_folder_names_as_string_columns(engine, tmp_path, suffix):
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    for year, month, rows in (("2024", "01", 300), ("2024", "12", 200), ("2025", "01", 100)):
        folder = tmp_path / "sales" / f"year={year}" / f"month={month}"
        folder.mkdir(parents=True)
        table = pa.table({"amount": pa.array(np.arange(rows, dtype=float))})
        (pq.write_table if suffix == "parquet" else pcsv.write_csv)(table, folder / f"part-0.{suffix}")
    location = str(tmp_path / "sales")
    got = tally(engine, location)
    assert got.values["month"] == Counter({"01": 400, "12": 200})
    assert got.values["year"] == Counter({"2024": 500, "2025": 100})
    assert_same_tally(got, tally(LocalEngine(EngineOptions()), location))


def test_a_gzip_csv_file_is_one_block_cut_into_the_partitions(cluster, tables, tmp_path):
    import gzip

    path = tmp_path / "rows.csv.gz"
    path.write_bytes(gzip.compress((tables / "rows.csv").read_bytes()))
    engine_ = on(cluster, 7)
    try:
        got = tally(engine_, str(path))
    finally:
        engine_.close()
    assert got.batches == 7
    assert_same_tally(got, tally(LocalEngine(EngineOptions()), str(tables / "rows.csv")))


def test_a_delta_tables_current_files_are_read_with_its_partition_columns(engine, tmp_path):
    deltalake = pytest.importorskip("deltalake")
    import pyarrow as pa

    location = str(tmp_path / "delta")
    first = pa.table({"amount": pa.array([1.5, 2.5, 3.5]), "region": pa.array(["north", "south", "north"])})
    deltalake.write_deltalake(location, first, partition_by=["region"])
    deltalake.write_deltalake(
        location, pa.table({"amount": [10.0], "region": ["east"]}), partition_by=["region"], mode="overwrite"
    )
    deltalake.write_deltalake(location, first, partition_by=["region"], mode="append")
    got = tally(engine, location)
    assert got.rows == 4 and got.values["region"] == Counter({"north": 2, "south": 1, "east": 1})
    assert_same_tally(got, tally(LocalEngine(EngineOptions()), location))


def test_a_logs_job_gets_a_delta_tables_partition_columns_in_the_tables_types(engine, tmp_path):
    deltalake = pytest.importorskip("deltalake")
    import pyarrow as pa

    location = str(tmp_path / "delta")
    logs = pa.table({"score": pa.array([0.5, 0.25, 0.125]), "year": pa.array([2024, 2025, 2025], pa.int32())})
    deltalake.write_deltalake(location, logs, partition_by=["year"])
    dataset = resolve_dataset(location, kind="logs")
    got = engine.run(dataset, ColumnsJob())
    assert got is not None and got["year:int32:2025"] == 2 and got["score:double:0.5"] == 1
    assert got == LocalEngine(EngineOptions()).run(dataset, ColumnsJob())


def test_a_value_wider_than_the_drivers_dtype_runs_the_job_again_with_the_wider_type(cluster, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("x,y\n" + "".join(f"{i + 0.5 if i == 6_000 else i},{i % 7}\n" for i in range(8_000)))
    dataset = resolve_dataset(str(path))
    options = EngineOptions(name="dask", dask_scheduler=cluster.scheduler_address, partitions=7)
    engine_ = DaskEngine(options, unit_bytes=1_000)
    try:
        info = engine_.table_info(dataset)
        assert info.dtypes == {"x": "int", "y": "int"}  # from the first 1 000 bytes
        got = engine_.run(dataset, TallyJob(info))
    finally:
        engine_.close()
    assert got is not None and got.dtypes == {"x": "float", "y": "int"}
    assert got.rows == 8_000 and got.sums["x"] == sum(range(8_000)) + 0.5
    assert_same_tally(got, LocalEngine(EngineOptions(), unit_bytes=1_000).run(dataset, TallyJob(info)))


@pytest.mark.parametrize("name", ["rows.parquet", "rows.csv"])
def test_a_file_uri_is_read_through_dasks_readers(engine, tables, name):
    path = tables / name
    got = tally(engine, path.as_uri())
    assert_same_tally(got, tally(LocalEngine(EngineOptions()), str(path)))


@pytest.mark.parametrize("name", ["rows.parquet", "rows.csv"])
def test_a_shard_reads_the_rows_the_local_engines_shard_reads(cluster, tables, name):
    dataset = resolve_dataset(str(tables / name))
    local = LocalEngine(EngineOptions(), unit_bytes=20_000)
    job = TallyJob(local.table_info(dataset))
    options = EngineOptions(name="dask", dask_scheduler=cluster.scheduler_address)
    engine_ = DaskEngine(options, unit_bytes=20_000)
    try:
        for index in (1, 2, 3):
            got = engine_.run(dataset, job, shard=Shard(index, 3))
            expected = local.run(dataset, job, shard=Shard(index, 3))
            assert got is not None and expected is not None and 0 < got.rows < ROWS
            assert_same_tally(got, expected)
    finally:
        engine_.close()


def test_a_logs_job_gets_every_line_of_text_and_every_row_of_parquet(cluster, tables, tmp_path):
    lines = tmp_path / "logs.jsonl"
    lines.write_text("".join(f'{{"i": {i}}}\n' for i in range(5_000)))
    engine_ = on(cluster, 7)
    try:
        for location, rows in (
            (str(lines), 5_000),
            (str(tables / "rows.csv"), ROWS),
            (str(tables / "rows.parquet"), ROWS),
        ):
            got = engine_.run(resolve_dataset(location, kind="logs"), LineJob())
            assert got == Counter({"rows": rows, "batches": 7}), location
    finally:
        engine_.close()


def test_a_worker_error_becomes_one_line_naming_the_file(engine, tmp_path):
    lines = tmp_path / "logs.jsonl"
    lines.write_text("".join(f'{{"i": {i}}}\n' for i in range(1_000)) + '{"i": "broken"}\n')
    with pytest.raises(DataError) as raised:
        engine.run(resolve_dataset(str(lines), kind="logs"), LineJob(fail_on="broken"))
    message = str(raised.value)
    assert "\n" not in message
    assert str(lines) in message and "unexpected value 'broken'" in message


def test_an_unreadable_csv_line_becomes_one_line_naming_the_file(engine, tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i}\n" for i in range(1_000)) + "1,2,3\n")
    dataset = resolve_dataset(str(path))
    with pytest.raises(DataError) as raised:
        engine.run(dataset, TallyJob(engine.table_info(dataset)))
    assert "\n" not in str(raised.value) and str(path) in str(raised.value)


def test_a_file_the_workers_cannot_see_is_named_with_what_they_need(engine):
    fsspec = pytest.importorskip("fsspec")
    location = "memory://only-on-the-driver/logs.jsonl"  # this process's memory: the workers have their own
    with fsspec.open(location, "wb") as handle:
        handle.write(b'{"i": 1}\n')
    with pytest.raises(DataError) as raised:
        engine.run(resolve_dataset(location, kind="logs"), LineJob())
    message = str(raised.value)
    assert "\n" not in message
    assert "a Dask worker cannot find" in message and "only-on-the-driver/logs.jsonl" in message


def test_a_job_the_workers_cannot_import_says_what_they_need(engine, tables, tmp_path, monkeypatch):
    (tmp_path / "driver_only_jobs.py").write_text(
        "from dataclasses import dataclass\n\n\n"
        "@dataclass(frozen=True)\n"
        "class RowsJob:\n"
        "    reads: str = 'logs'\n\n"
        "    def summarise(self, batch):\n"
        "        return 1\n\n"
        "    def merge(self, first, second):\n"
        "        return first + second\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))  # the driver's path only: the workers started before
    from driver_only_jobs import RowsJob

    with pytest.raises(DataError) as raised:
        engine.run(resolve_dataset(str(tables / "rows.csv"), kind="logs"), RowsJob())
    message = str(raised.value)
    assert "\n" not in message and "a Dask worker cannot import driver_only_jobs" in message


def test_close_stops_the_local_cluster_the_engine_started():
    started = DaskEngine(EngineOptions(name="dask", workers=1))
    cluster = started.cluster
    assert cluster is not None and cluster.status.name == "running"
    started.close()
    assert cluster.status.name == "closed"


def test_close_leaves_an_external_cluster_running():
    from distributed import Client

    with local_cluster(1, processes=False) as external:
        DaskEngine(EngineOptions(name="dask", dask_scheduler=external.scheduler_address)).close()
        assert external.status.name == "running"
        with Client(external.scheduler_address, set_as_default=False, timeout=30) as client:
            assert client.submit(sum, [1, 2, 3]).result(timeout=30) == 6


def test_an_unreachable_scheduler_is_a_one_line_usage_error(monkeypatch):
    from mlops_actions.engines import dask_engine
    from mlops_actions.errors import UsageError

    monkeypatch.setattr(dask_engine, "CONNECT_SECONDS", 1)
    with pytest.raises(
        UsageError, match=r"^--dask-scheduler 'tcp://127\.0\.0\.1:9': cannot reach the scheduler"
    ):
        DaskEngine(EngineOptions(name="dask", dask_scheduler="tcp://127.0.0.1:9"))
