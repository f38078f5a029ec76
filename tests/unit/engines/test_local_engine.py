"""engines/local.py::LocalEngine: rows jobs over one file through the chunked scan, over datasets unit by
unit; logs jobs as Batches; partitions and shards that do not change the answer."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

import mlops_actions.domain.data.chunks as chunks_package
from mlops_actions.domain.data.chunks import Chunk, NumericColumn, TableInfo
from mlops_actions.domain.data.profile import (
    DEFAULT_EDGE_ROWS,
    Profile,
    ProfileBuilder,
    build_profile,
    merge_profiles,
    profile_to_dict,
)
from mlops_actions.engines.base import Batch, EngineOptions, Shard, open_engine
from mlops_actions.engines.local import LocalEngine
from mlops_actions.engines.sources import resolve_dataset
from mlops_actions.errors import DataError, UsageError


@dataclass(frozen=True)
class RowsJob:
    """Counts rows, sums a column and keeps the chunk sizes it saw (in merge order)."""

    info: TableInfo
    column: str = "x"
    reads: str = "rows"

    def summarise(self, chunk: Chunk) -> tuple[int, float, tuple[int, ...], str]:
        data = chunk.columns[self.column]
        total = float(np.nansum(data.values)) if isinstance(data, NumericColumn) else 0.0
        return chunk.rows, total, (chunk.rows,), self.info.dtypes[self.column]

    def merge(self, first: Any, second: Any) -> Any:
        return first[0] + second[0], first[1] + second[1], first[2] + second[2], first[3]


@dataclass(frozen=True)
class ProfileRowsJob:
    """A profile per chunk on fixed bins, merged: what a profile job does."""

    info: TableInfo
    edges_from: Profile | None = None
    reads: str = "rows"

    def summarise(self, chunk: Chunk) -> Profile:
        builder = ProfileBuilder(edges_from=self.edges_from)
        builder.start(self.info)
        builder.update(chunk)
        return builder.finish()

    def merge(self, first: Profile, second: Profile) -> Profile:
        return merge_profiles(first, second)


@dataclass(frozen=True)
class LogsJob:
    """Keeps what each Batch held."""

    reads: str = "logs"
    seen: list[Any] = field(default_factory=list, compare=False)

    def summarise(self, batch: Batch) -> list[Batch]:
        return [batch]

    def merge(self, first: list[Batch], second: list[Batch]) -> list[Batch]:
        return first + second


def profile_of(engine: LocalEngine, location: str) -> Profile:
    dataset = resolve_dataset(location)
    info = engine.table_info(dataset)
    builder = ProfileBuilder()
    builder.start(info)
    builder.update(engine.head(dataset, DEFAULT_EDGE_ROWS, info))
    summary = engine.run(dataset, ProfileRowsJob(info, edges_from=builder.finish()))
    assert summary is not None
    return summary


def assert_same(first: Any, second: Any, where: str = "") -> None:
    """Equal, floats within 1e-9 relative."""
    if isinstance(first, dict):
        assert sorted(first) == sorted(second), where
        for key in first:
            assert_same(first[key], second[key], f"{where}.{key}")
    elif isinstance(first, list):
        assert len(first) == len(second), where
        for index, (a, b) in enumerate(zip(first, second, strict=True)):
            assert_same(a, b, f"{where}[{index}]")
    elif isinstance(first, float) and isinstance(second, float):
        assert math.isclose(first, second, rel_tol=1e-9, abs_tol=1e-12), f"{where}: {first} != {second}"
    else:
        assert first == second, f"{where}: {first!r} != {second!r}"


def profile_dict(profile: Profile) -> dict[str, Any]:
    document = profile_to_dict(profile)
    document.pop("sources", None)
    return document


@pytest.fixture(scope="module")
def table() -> pa.Table:
    rng = np.random.default_rng(7)
    rows = 30_000
    values = rng.normal(10, 3, rows)
    values[rng.random(rows) < 0.05] = np.nan
    return pa.table(
        {
            "x": values,
            "n": rng.integers(0, 1000, rows),
            "s": pa.array([f"c{i}" for i in rng.integers(0, 20, rows)]),
            "b": rng.random(rows) < 0.3,
            "empty": pa.nulls(rows, pa.float64()),
        }
    )


@pytest.fixture(scope="module")
def files(table: pa.Table, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("local-engine")
    pq.write_table(table, folder / "a.parquet", row_group_size=4000)
    pcsv.write_csv(table, folder / "a.csv")
    parts = folder / "parts"
    parts.mkdir()
    for index, offset in enumerate(range(0, table.num_rows, 7000)):
        pq.write_table(table.slice(offset, 7000), parts / f"part-{index:02d}.parquet", row_group_size=3000)
    csv_parts = folder / "csv_parts"
    csv_parts.mkdir()
    for index, offset in enumerate(range(0, table.num_rows, 11000)):
        pcsv.write_csv(table.slice(offset, 11000), csv_parts / f"part-{index:02d}.csv")
    return {"parquet": folder / "a.parquet", "csv": folder / "a.csv", "parts": parts, "csv_parts": csv_parts}


# -------------------------------------------------------------------------------- one file: the scan


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_the_profile_of_one_file_is_the_one_build_profile_gives(files: dict[str, Path], kind: str) -> None:
    path = str(files[kind])
    expected = profile_dict(build_profile(path))
    assert_same(profile_dict(profile_of(LocalEngine(), path)), expected)
    assert_same(profile_dict(profile_of(LocalEngine(EngineOptions(partitions=7)), path)), expected)


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_one_local_file_goes_through_the_chunked_scan(
    files: dict[str, Path], kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scanned = []
    real_scan = chunks_package.scan_table

    def recording_scan(path: Any, consumers: Any, **options: Any) -> Any:
        scanned.append(str(path))
        return real_scan(path, consumers, **options)

    monkeypatch.setattr(chunks_package, "scan_table", recording_scan)
    dataset = resolve_dataset(str(files[kind]))
    engine = LocalEngine()
    summary = engine.run(dataset, RowsJob(engine.table_info(dataset)))
    assert scanned == [str(files[kind])]
    assert summary is not None
    assert summary[0] == 30_000


def test_the_scan_restarts_a_job_with_the_wider_types_it_finds(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    body = "".join(f"{i}\n" for i in range(20_000)) + "0.5\n"
    path.write_text("x\n" + body)
    dataset = resolve_dataset(str(path))
    engine = LocalEngine(unit_bytes=1000)
    info = engine.table_info(dataset)
    assert info.dtypes == {"x": "int"}
    summary = engine.run(dataset, RowsJob(info))
    assert summary is not None
    assert summary[0] == 20_001
    assert summary[3] == "float"


def test_the_scan_path_names_a_missing_column_as_the_scan_does(files: dict[str, Path]) -> None:
    dataset = resolve_dataset(str(files["csv"]))
    info = TableInfo(path=str(files["csv"]), format="csv", columns=["nope"], dtypes={"nope": "float"})
    with pytest.raises(DataError, match=r"a\.csv: no column 'nope'"):
        LocalEngine().run(dataset, RowsJob(info, column="nope"))


# ------------------------------------------------------------------------------- partitions, merge order


@pytest.mark.parametrize("partitions", [1, 7, 64])
@pytest.mark.parametrize("kind", ["parquet", "csv", "parts", "csv_parts"])
def test_partitions_cut_the_rows_into_n_parts_with_the_same_answer(
    files: dict[str, Path], table: pa.Table, kind: str, partitions: int
) -> None:
    dataset = resolve_dataset(str(files[kind]))
    engine = LocalEngine(EngineOptions(partitions=partitions), unit_bytes=64 << 10)
    summary = engine.run(dataset, RowsJob(engine.table_info(dataset)))
    assert summary is not None
    rows, total, sizes, _ = summary
    assert rows == table.num_rows
    assert math.isclose(
        total, float(np.nansum(table.column("x").to_numpy(zero_copy_only=False))), rel_tol=1e-12
    )
    assert sum(sizes) == rows
    assert len(sizes) >= partitions


def test_partitions_are_nearly_equal_in_rows_and_merged_as_a_tree(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops_actions.engines import local as local_module

    parts: list[int] = []
    real_tree_merge = local_module.tree_merge

    def recording_tree_merge(job: Any, summaries: Any) -> Any:
        parts.extend(summary[0] for summary in summaries if summary is not None)
        return real_tree_merge(job, summaries)

    monkeypatch.setattr(local_module, "tree_merge", recording_tree_merge)
    dataset = resolve_dataset(str(files["parquet"]))
    engine = LocalEngine(EngineOptions(partitions=7))
    engine.run(dataset, RowsJob(engine.table_info(dataset)))
    assert len(parts) == 7
    assert sum(parts) == 30_000
    assert max(parts) - min(parts) <= 1


@pytest.mark.parametrize("kind", ["parts", "csv_parts"])
@pytest.mark.parametrize("partitions", [None, 1, 7, 64])
def test_the_profile_of_a_dataset_is_the_profile_of_its_rows_whatever_the_partitions(
    files: dict[str, Path], kind: str, partitions: int | None
) -> None:
    whole = profile_dict(build_profile(str(files["parquet" if kind == "parts" else "csv"])))
    engine = LocalEngine(EngineOptions(partitions=partitions), unit_bytes=128 << 10)
    assert_same(profile_dict(profile_of(engine, str(files[kind]))), whole)


# ------------------------------------------------------------------------------------------------ shards


@pytest.mark.parametrize("kind", ["parquet", "csv", "parts", "csv_parts"])
def test_the_shards_merged_are_the_whole(files: dict[str, Path], kind: str) -> None:
    dataset = resolve_dataset(str(files[kind]))
    engine = LocalEngine(unit_bytes=64 << 10)
    job = RowsJob(engine.table_info(dataset))
    whole = engine.run(dataset, job)
    shards = [engine.run(dataset, job, shard=Shard(index, 4)) for index in range(1, 5)]
    assert all(shard is not None for shard in shards)
    merged = shards[0]
    for shard in shards[1:]:
        merged = job.merge(merged, shard)
    assert whole is not None
    assert merged[0] == whole[0] == 30_000
    assert math.isclose(merged[1], whole[1], rel_tol=1e-12)


def test_the_profiles_of_shards_on_the_same_bins_merge_into_the_whole_profile(files: dict[str, Path]) -> None:
    path = str(files["csv_parts"])
    engine = LocalEngine(unit_bytes=256 << 10)
    dataset = resolve_dataset(path)
    info = engine.table_info(dataset)
    builder = ProfileBuilder()
    builder.start(info)
    builder.update(engine.head(dataset, DEFAULT_EDGE_ROWS, info))
    job = ProfileRowsJob(info, edges_from=builder.finish())
    parts = [engine.run(dataset, job, shard=Shard(index, 3)) for index in (1, 2, 3)]
    merged = merge_profiles(merge_profiles(parts[2], parts[0]), parts[1])  # type: ignore[arg-type]
    assert_same(profile_dict(merged), profile_dict(build_profile(str(files["csv"]))))


def test_a_shard_beyond_the_units_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "one.parquet"
    pq.write_table(pa.table({"x": [1.0, 2.0]}), path)
    dataset = resolve_dataset(str(path))
    engine = LocalEngine()
    job = RowsJob(engine.table_info(dataset))
    assert engine.run(dataset, job, shard=Shard(1, 2)) is None
    assert engine.run(dataset, job, shard=Shard(2, 2))[0] == 2  # type: ignore[index]


# ----------------------------------------------------------------------------- datasets of several kinds


def test_wider_types_in_a_later_file_restart_the_run_with_them(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "a.csv").write_text("x,s\n1,a\n2,b\n")
    (folder / "b.csv").write_text("x,s\n2.5,c\n")
    (folder / "c.csv").write_text("x,s\nlots,d\n")
    dataset = resolve_dataset(str(folder))
    engine = LocalEngine(EngineOptions(partitions=2))
    info = engine.table_info(dataset)
    assert info.dtypes["x"] == "int"
    summary = engine.run(dataset, RowsJob(info, column="s"))
    assert summary is not None
    assert summary[0] == 4
    assert summary[3] == "string"
    assert LocalEngine().run(resolve_dataset(str(folder / "[ab].csv")), RowsJob(info))[3] == "float"  # type: ignore[index]


def test_hive_columns_reach_the_job(tmp_path: Path) -> None:
    for day, values in (("2", [3.0]), ("1", [1.0, 2.0])):
        (tmp_path / "t" / f"day={day}").mkdir(parents=True)
        pcsv.write_csv(pa.table({"x": values}), tmp_path / "t" / f"day={day}" / "p.csv")

    @dataclass(frozen=True)
    class Days(RowsJob):
        def summarise(self, chunk: Chunk) -> Any:
            column = chunk.columns["day"]
            names = column.names()  # type: ignore[union-attr]
            return [names[code] for code in column.codes]  # type: ignore[union-attr]

        def merge(self, first: Any, second: Any) -> Any:
            return first + second

    dataset = resolve_dataset(str(tmp_path / "t"))
    engine = LocalEngine()
    assert engine.run(dataset, Days(engine.table_info(dataset))) == ["1", "1", "2"]


def test_a_file_uri_dataset_runs_end_to_end(files: dict[str, Path]) -> None:
    expected = profile_dict(build_profile(str(files["parquet"])))
    for location in (files["parquet"].as_uri(), files["parts"].as_uri()):
        assert_same(profile_dict(profile_of(LocalEngine(), location)), expected)


def test_open_engine_gives_the_local_engine_and_refuses_zero_partitions() -> None:
    engine = open_engine(EngineOptions(name="local", partitions=3))
    assert isinstance(engine, LocalEngine)
    assert engine.options.partitions == 3
    engine.close()
    with pytest.raises(UsageError, match="--partitions 0"):
        LocalEngine(EngineOptions(partitions=0))


# ------------------------------------------------------------------------------------------------- logs


def test_logs_of_text_files_arrive_as_whole_lines_with_their_line_numbers(tmp_path: Path) -> None:
    lines = [f'{{"i": {i}}}\n' for i in range(100)]
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_text("".join(lines[:60]))
    (tmp_path / "logs" / "b.jsonl").write_text("".join(lines[60:]))
    dataset = resolve_dataset(str(tmp_path / "logs"), kind="logs")
    for partitions in (None, 1, 7, 64):
        batches = LocalEngine(EngineOptions(partitions=partitions), unit_bytes=100).run(dataset, LogsJob())
        assert batches is not None
        assert b"".join(batch.text for batch in batches).decode() == "".join(lines)
        for batch in batches:
            assert batch.format == "jsonl"
            assert batch.header is None
            first = batch.text.split(b"\n", 1)[0].decode()
            offset = 0 if batch.origin.endswith("a.jsonl") else 60
            assert lines[offset + batch.first_line - 1].rstrip("\n") == first


def test_logs_of_csv_files_carry_the_header_and_parquet_logs_a_table(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("time,prediction\n" + "".join(f"t{i},{i}\n" for i in range(50)))
    batches = LocalEngine(EngineOptions(partitions=5)).run(
        resolve_dataset(str(tmp_path / "a.csv"), kind="logs"), LogsJob()
    )
    assert batches is not None
    assert len(batches) == 5
    assert all(batch.header == b"time,prediction\n" for batch in batches)
    assert [batch.first_line for batch in batches] == [2, 12, 22, 32, 42]
    assert batches[1].text.startswith(b"t10,10\n")
    pq.write_table(pa.table({"prediction": list(range(50))}), tmp_path / "a.parquet", row_group_size=20)
    tables = LocalEngine(EngineOptions(partitions=3)).run(
        resolve_dataset(str(tmp_path / "a.parquet"), kind="logs"), LogsJob()
    )
    assert tables is not None
    assert sum(batch.table.num_rows for batch in tables) == 50
    assert next(batch.first_line for batch in tables) == 1
    merged = pa.concat_tables([batch.table for batch in tables])
    assert merged.column("prediction").to_pylist() == list(range(50))


def test_gzip_csv_files_are_read_block_by_block_with_the_same_answer(tmp_path: Path, table: pa.Table) -> None:
    import gzip

    folder = tmp_path / "gz"
    folder.mkdir()
    for index, offset in enumerate(range(0, table.num_rows, 16_000)):
        sink = pa.BufferOutputStream()
        pcsv.write_csv(table.slice(offset, 16_000), sink)
        (folder / f"part-{index}.csv.gz").write_bytes(gzip.compress(sink.getvalue().to_pybytes()))
    dataset = resolve_dataset(str(folder))
    expected = float(np.nansum(table.column("x").to_numpy(zero_copy_only=False)))
    for partitions in (None, 7):
        engine = LocalEngine(EngineOptions(partitions=partitions), unit_bytes=32 << 10)
        summary = engine.run(dataset, RowsJob(engine.table_info(dataset)))
        assert summary is not None
        assert summary[0] == table.num_rows
        assert len(summary[2]) > 20  # blocks, not whole files
        assert math.isclose(summary[1], expected, rel_tol=1e-12)


def test_a_logs_shard_that_starts_inside_a_file_does_not_claim_line_numbers(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text("".join(f'{{"i": {i}}}\n' for i in range(100)))
    dataset = resolve_dataset(str(tmp_path / "a.jsonl"), kind="logs")
    engine = LocalEngine(unit_bytes=200)
    first = engine.run(dataset, LogsJob(), shard=Shard(1, 2))
    second = engine.run(dataset, LogsJob(), shard=Shard(2, 2))
    assert first is not None
    assert second is not None
    assert [batch.first_line for batch in first][:2] == [1, 1 + first[0].text.count(b"\n")]
    assert {batch.first_line for batch in second} == {None}
    assert b"".join(batch.text for batch in first + second) == (tmp_path / "a.jsonl").read_bytes()


def test_csv_files_behind_a_uri_run_end_to_end_through_fsspec() -> None:
    import gzip

    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    text = "x,s\n" + "".join(f"{i},v{i % 5}\n" for i in range(3000))
    with memory.open("/engine-test/d/a.csv", "wb") as handle:
        handle.write(text.encode())
    with memory.open("/engine-test/d/b.csv.gz", "wb") as handle:
        handle.write(gzip.compress(text.encode()))
    try:
        dataset = resolve_dataset("memory://engine-test/d")
        assert dataset.scheme == "memory"
        assert len(dataset.files) == 2
        for partitions in (None, 7):
            engine = LocalEngine(EngineOptions(partitions=partitions), unit_bytes=4096)
            summary = engine.run(dataset, RowsJob(engine.table_info(dataset)))
            assert summary is not None
            assert summary[0] == 6000
            assert summary[1] == 2 * sum(range(3000))
    finally:
        memory.rm("/engine-test", recursive=True)


def test_logs_of_a_partitioned_delta_table_carry_its_partition_column(tmp_path: Path) -> None:
    deltalake = pytest.importorskip("deltalake")
    from mlops_actions.engines.sources import dataset_units, unit_batch

    table = pa.table({"prediction": [1.0, 2.0, 3.0], "day": [7, 7, 8]})
    deltalake.write_deltalake(str(tmp_path / "logs"), table, partition_by=["day"])
    dataset = resolve_dataset(str(tmp_path / "logs"), kind="logs")
    batches = LocalEngine(EngineOptions(partitions=2)).run(dataset, LogsJob())
    assert batches is not None
    merged = pa.concat_tables([batch.table for batch in batches])
    assert merged.schema.field("day").type == pa.int64()
    assert sorted(
        zip(merged.column("day").to_pylist(), merged.column("prediction").to_pylist(), strict=True)
    ) == [
        (7, 1.0),
        (7, 2.0),
        (8, 3.0),
    ]
    direct = [unit_batch(unit, dataset=dataset).table for unit in dataset_units(dataset)]
    assert sum(part.column("day").to_pylist() == [8] for part in direct) == 1


def test_a_job_that_fails_stops_the_reader_thread_and_its_error_surfaces(files: dict[str, Path]) -> None:
    import threading

    @dataclass(frozen=True)
    class Failing(RowsJob):
        def summarise(self, chunk: Chunk) -> Any:
            if chunk.start > 0:
                raise DataError("the second chunk is refused")
            return super().summarise(chunk)

    dataset = resolve_dataset(str(files["parts"]))
    engine = LocalEngine()
    with pytest.raises(DataError, match="the second chunk is refused"):
        engine.run(dataset, Failing(engine.table_info(dataset)))
    assert [t.name for t in threading.enumerate() if t.name == "mlops-engine-reader"] == []
