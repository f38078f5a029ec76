"""engines/sources.py: datasets and their files in read order, driver dtypes and head, CSV lines with fixed
types (WiderTypes), read units and shards."""

from __future__ import annotations

import itertools
import pickle
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from mlops_actions.domain.data.chunks import TableInfo, scan_table
from mlops_actions.engines.base import Dataset, Shard
from mlops_actions.engines.sources import (
    WIDER_TYPES_MARKER,
    DatasetInfo,
    WiderTypes,
    csv_text_table,
    dataset_head,
    dataset_table_info,
    dataset_units,
    info_types,
    partition_values,
    resolve_dataset,
    shard_units,
    unit_table,
    unit_text,
    with_types,
)
from mlops_actions.errors import DataError


def write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_parquet(path: Path, table: pa.Table, row_group_size: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


class _Recorder:
    def start(self, info: TableInfo) -> None:
        self.info = info

    def update(self, chunk: object) -> None:
        pass


# ------------------------------------------------------------------------------------------- datasets


def test_a_single_file_is_a_dataset_of_that_file_with_its_format(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "a.csv", "x\n1\n")
    parquet = write_parquet(tmp_path / "b.parquet", pa.table({"x": [1]}))
    assert resolve_dataset(str(csv)) == Dataset(location=str(csv), format="csv", files=(str(csv),))
    assert resolve_dataset(str(parquet)).format == "parquet"


def test_a_missing_file_and_an_unknown_format_are_data_errors_naming_them(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: data file not found"):
        resolve_dataset(str(tmp_path / "nope.csv"))
    other = write_csv(tmp_path / "a.txt", "x\n")
    with pytest.raises(DataError, match=r"a\.txt: unsupported data format"):
        resolve_dataset(str(other))
    with pytest.raises(DataError, match=r"ftp://host/x: unsupported URI scheme ftp://"):
        resolve_dataset("ftp://host/x")


def test_a_folder_lists_its_data_files_sorted_by_path_and_skips_hidden_ones(tmp_path: Path) -> None:
    for name in ("part-2.parquet", "part-10.parquet", "sub/part-1.parquet"):
        write_parquet(tmp_path / "data" / name, pa.table({"x": [1]}))
    write_csv(tmp_path / "data" / "_SUCCESS", "")
    write_csv(tmp_path / "data" / ".part-2.parquet.crc", "")
    write_csv(tmp_path / "data" / "README.md", "not data")
    dataset = resolve_dataset(str(tmp_path / "data"))
    assert dataset.format == "parquet"
    assert not dataset.hive
    assert [Path(f).relative_to(tmp_path / "data").as_posix() for f in dataset.files] == [
        "part-10.parquet",
        "part-2.parquet",
        "sub/part-1.parquet",
    ]


def test_a_folder_without_data_files_or_with_two_formats_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: no data files"):
        resolve_dataset(str(tmp_path / "empty"))
    write_csv(tmp_path / "mixed" / "a.csv", "x\n1\n")
    write_parquet(tmp_path / "mixed" / "b.parquet", pa.table({"x": [1]}))
    with pytest.raises(DataError, match=r"mixed: mixes csv and parquet files"):
        resolve_dataset(str(tmp_path / "mixed"))


def test_a_glob_lists_the_matching_files_sorted(tmp_path: Path) -> None:
    for name in ("b.csv", "a.csv", "c.parquet"):
        if name.endswith(".csv"):
            write_csv(tmp_path / name, "x\n1\n")
        else:
            write_parquet(tmp_path / name, pa.table({"x": [1]}))
    dataset = resolve_dataset(str(tmp_path / "*.csv"))
    assert dataset.format == "csv"
    assert dataset.files == (str(tmp_path / "a.csv"), str(tmp_path / "b.csv"))


def test_jsonl_files_are_logs_not_rows(tmp_path: Path) -> None:
    write_csv(tmp_path / "logs" / "a.jsonl", '{"x": 1}\n')
    assert resolve_dataset(str(tmp_path / "logs"), kind="logs").format == "jsonl"
    with pytest.raises(DataError, match="no data files"):
        resolve_dataset(str(tmp_path / "logs"))


def test_hive_folders_are_string_columns_last_in_folder_order(tmp_path: Path) -> None:
    root = tmp_path / "table"
    write_parquet(root / "year=2024" / "month=02" / "p.parquet", pa.table({"x": [1.0, 2.0]}))
    write_parquet(root / "year=2023" / "month=12" / "p.parquet", pa.table({"x": [3.0]}))
    dataset = resolve_dataset(str(root))
    assert dataset.hive
    assert dataset.files[0].endswith("year=2023/month=12/p.parquet")
    info = dataset_table_info(dataset)
    assert info.columns == ["x", "year", "month"]
    assert info.dtypes == {"x": "float", "year": "string", "month": "string"}
    assert partition_values(dataset, dataset.files[1]) == {"year": "2024", "month": "02"}
    head = dataset_head(dataset, 10, info)
    assert head.rows == 3
    year = head.columns["year"]
    assert [year.names()[code] for code in year.codes] == ["2023", "2024", "2024"]
    month = head.columns["month"]
    assert [month.names()[code] for code in month.codes] == ["12", "02", "02"]


def test_hive_folders_that_disagree_about_their_keys_are_a_data_error(tmp_path: Path) -> None:
    write_parquet(tmp_path / "t" / "year=2024" / "p.parquet", pa.table({"x": [1]}))
    write_parquet(tmp_path / "t" / "month=01" / "p.parquet", pa.table({"x": [1]}))
    with pytest.raises(DataError, match="partition folders disagree"):
        resolve_dataset(str(tmp_path / "t"))


def test_a_delta_table_reads_its_current_version_only_with_typed_partition_columns(tmp_path: Path) -> None:
    deltalake = pytest.importorskip("deltalake")
    root = tmp_path / "delta"
    deltalake.write_deltalake(str(root), pa.table({"x": [1.0, 2.0], "day": [1, 2]}), partition_by=["day"])
    deltalake.write_deltalake(
        str(root), pa.table({"x": [5.0, 6.0, 7.0], "day": [3, 3, 4]}), partition_by=["day"], mode="overwrite"
    )
    dataset = resolve_dataset(str(root))
    assert dataset.format == "delta"
    assert dataset.hive
    assert len(dataset.files) == 2
    assert list(dataset.files) == sorted(dataset.files)
    info = dataset_table_info(dataset)
    assert info.columns == ["x", "day"]
    assert info.dtypes == {"x": "float", "day": "int"}
    head = dataset_head(dataset, 10, info)
    assert head.rows == 3
    assert head.columns["day"].values.tolist() == [3.0, 3.0, 4.0]
    assert sum(unit.rows or 0 for unit in dataset_units(dataset)) == 3


def test_a_file_uri_is_read_like_the_local_path(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "data" / "a.csv", "x,y\n1,a\n2,b\n")
    dataset = resolve_dataset(csv.as_uri())
    assert dataset.scheme == "file"
    assert dataset.files == (str(csv),)
    folder = resolve_dataset((tmp_path / "data").as_uri())
    assert folder.scheme == "file"
    assert folder.files == (str(csv),)
    info = dataset_table_info(folder)
    assert info.dtypes == {"x": "int", "y": "string"}
    assert dataset_head(folder, 5, info).rows == 2


def test_a_uri_lists_its_files_through_fsspec(tmp_path: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    table = pa.table({"x": [1.0, 2.0, 3.0]})
    for name in ("k=b/p.parquet", "k=a/p.parquet"):
        with memory.open(f"/sources-test/t/{name}", "wb") as handle:
            pq.write_table(table, handle)
    try:
        dataset = resolve_dataset("memory://sources-test/t")
        assert dataset.scheme == "memory"
        assert dataset.hive
        assert [f.rsplit("/", 2)[-2] for f in dataset.files] == ["k=a", "k=b"]
        info = dataset_table_info(dataset)
        assert info.columns == ["x", "k"]
        assert dataset_head(dataset, 100, info).rows == 6
        assert len(dataset_units(dataset)) == 2
    finally:
        memory.rm("/sources-test", recursive=True)


def test_an_s3_path_without_s3fs_keeps_no_files_and_reading_it_names_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)  # not importable, even where it is installed
    dataset = resolve_dataset("s3://bucket/data/part.parquet")
    assert dataset == Dataset(location="s3://bucket/data/part.parquet", format="parquet", scheme="s3")
    with pytest.raises(DataError) as raised:
        dataset_table_info(dataset)
    message = str(raised.value)
    assert message == "s3://bucket/data/part.parquet: reading s3:// paths needs s3fs: pip install s3fs"
    assert "\n" not in message


# -------------------------------------------------------------------------------------- dtypes and head


def test_csv_dtypes_come_from_the_first_block_as_the_local_scan_sees_them(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i / 2},v{i % 3},,2024-01-0{1 + i % 9}\n" for i in range(200))
    csv = write_csv(tmp_path / "a.csv", "i,f,s,empty,day\n" + rows)
    info = dataset_table_info(resolve_dataset(str(csv)))
    recorder = _Recorder()
    scan_table(csv, [recorder])
    assert info.dtypes == recorder.info.dtypes
    assert info.columns == recorder.info.columns
    assert info.path == recorder.info.path
    assert info.types["i"] == "int64"
    assert info.types["empty"] == "null"


def test_parquet_dtypes_come_from_the_schema_and_missing_columns_are_named(tmp_path: Path) -> None:
    parquet = write_parquet(tmp_path / "a.parquet", pa.table({"x": [1.5], "n": [1], "b": [True], "s": ["a"]}))
    dataset = resolve_dataset(str(parquet))
    assert dataset_table_info(dataset).dtypes == {"x": "float", "n": "int", "b": "bool", "s": "string"}
    assert dataset_table_info(dataset, ["s", "x"]).dtypes == {"s": "string", "x": "float"}
    with pytest.raises(DataError, match=r"a\.parquet: no column 'nope'"):
        dataset_table_info(dataset, ["x", "nope"])


def test_the_head_is_the_first_rows_in_read_order_across_files(tmp_path: Path) -> None:
    write_parquet(tmp_path / "d" / "b.parquet", pa.table({"x": [4.0, 5.0, 6.0]}), row_group_size=2)
    write_parquet(tmp_path / "d" / "a.parquet", pa.table({"x": [1.0, 2.0, 3.0]}), row_group_size=2)
    dataset = resolve_dataset(str(tmp_path / "d"))
    info = dataset_table_info(dataset)
    assert dataset_head(dataset, 4, info).columns["x"].values.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert dataset_head(dataset, 100, info).rows == 6


def test_the_head_of_csv_files_is_parsed_with_the_fixed_types(tmp_path: Path) -> None:
    write_csv(tmp_path / "d" / "a.csv", "x,s\n1,a\n2,b\n")
    write_csv(tmp_path / "d" / "b.csv", "x,s\n3,c\n")
    dataset = resolve_dataset(str(tmp_path / "d"))
    info = dataset_table_info(dataset)
    head = dataset_head(dataset, 3, info)
    assert head.columns["x"].values.tolist() == [1.0, 2.0, 3.0]
    assert head.columns["x"].dtype == "int"


# ---------------------------------------------------------------------------------- CSV lines, WiderTypes


def test_csv_lines_are_parsed_with_the_fixed_types() -> None:
    table = csv_text_table(b"1,a\n2,\n", b"x,s\n", {"x": "double", "s": "string"})
    assert table.schema.field("x").type == pa.float64()
    assert table.column("x").to_pylist() == [1.0, 2.0]
    assert table.column("s").to_pylist() == ["a", None]


def test_csv_lines_keep_only_the_selected_columns_the_header_names() -> None:
    table = csv_text_table(b"1,a,9\n", b"x,s,z\n", {"s": "string", "year": "string"})
    assert table.column_names == ["s"]


def test_a_value_that_does_not_fit_raises_wider_types_for_every_column() -> None:
    with pytest.raises(WiderTypes) as raised:
        csv_text_table(b"1.5,a\n", b"x,s\n", {"x": "int64", "s": "string"})
    assert raised.value.types == {"x": "double", "s": "string"}
    with pytest.raises(WiderTypes) as raised:
        csv_text_table(b"abc,a\n", b"x,s\n", {"x": "int64", "s": "string"})
    assert raised.value.types["x"] == "string"


def test_an_empty_column_that_gains_values_raises_wider_types() -> None:
    assert csv_text_table(b",a\n", b"x,s\n", {"x": "null", "s": "string"}).num_rows == 1
    with pytest.raises(WiderTypes) as raised:
        csv_text_table(b"3,a\n", b"x,s\n", {"x": "null", "s": "string"})
    assert raised.value.types == {"x": "int64", "s": "string"}


def test_empty_csv_text_is_an_empty_table_with_the_fixed_types() -> None:
    table = csv_text_table(b"", b"x,s\n", {"x": "int64", "s": "string"})
    assert table.num_rows == 0
    assert table.schema.field("x").type == pa.int64()
    assert csv_text_table(b"\n\n", b"x\n", {"x": "int64"}).num_rows == 0


def test_csv_text_with_too_many_values_is_a_data_error_naming_its_origin() -> None:
    with pytest.raises(DataError, match=r"^part-3\.csv: cannot read csv"):
        csv_text_table(b"1,2,3\n", b"x,y\n", {"x": "int64"}, origin="part-3.csv")


def test_wider_types_carry_their_types_in_their_message_and_are_recovered_from_a_wrapped_one() -> None:
    error = WiderTypes({"x": pa.float64(), "s": "string"})
    assert str(error).startswith(WIDER_TYPES_MARKER)
    assert error.types == {"x": "double", "s": "string"}
    wrapped = f"Py4JJavaError: job aborted\n  File worker.py\n  mlops_actions.engines.sources.WiderTypes: {error}\n\tat org"
    recovered = WiderTypes.from_text(wrapped)
    assert recovered is not None
    assert recovered.types == error.types
    assert WiderTypes.from_text("some other failure") is None
    assert WiderTypes.of(RuntimeError(wrapped)).types == error.types  # type: ignore[union-attr]
    assert pickle.loads(pickle.dumps(error)).types == error.types


def test_wider_types_widen_an_info_and_its_logical_dtypes() -> None:
    info = DatasetInfo(
        path="a.csv",
        format="csv",
        columns=["x", "s"],
        dtypes={"x": "int", "s": "string"},
        types={"x": "int64", "s": "string"},
    )
    wider = with_types(info, {"x": "double", "s": "string"})
    assert wider.dtypes == {"x": "float", "s": "string"}
    assert info_types(wider) == {"x": "double", "s": "string"}
    plain = TableInfo(path="a", format="csv", columns=["x"], dtypes={"x": "float"})
    assert info_types(plain) == {"x": "double"}


# ------------------------------------------------------------------------------------------- units, shards


def test_parquet_units_are_row_groups_in_read_order(tmp_path: Path) -> None:
    write_parquet(tmp_path / "d" / "a.parquet", pa.table({"x": list(range(5))}), row_group_size=2)
    write_parquet(tmp_path / "d" / "b.parquet", pa.table({"x": list(range(3))}), row_group_size=2)
    dataset = resolve_dataset(str(tmp_path / "d"))
    units = dataset_units(dataset)
    assert [(Path(u.file).name, u.row_group, u.rows, u.first_row) for u in units] == [
        ("a.parquet", 0, 2, 0),
        ("a.parquet", 1, 2, 2),
        ("a.parquet", 2, 1, 4),
        ("b.parquet", 0, 2, 0),
        ("b.parquet", 1, 1, 2),
    ]


def test_csv_units_are_byte_ranges_of_whole_lines_covering_every_row_once(tmp_path: Path) -> None:
    lines = [f"{i},{'v' * (i % 13)}\n" for i in range(500)]
    csv = write_csv(tmp_path / "a.csv", "x,s\n" + "".join(lines))
    dataset = resolve_dataset(str(csv))
    units = dataset_units(dataset, unit_bytes=300)
    assert len(units) > 10
    texts = [unit_text(unit) for unit in units]
    assert all(text.endswith(b"\n") for text in texts)
    assert b"".join(texts).decode() == "".join(lines)
    assert units[0].start == len(b"x,s\n")
    assert all(a.end == b.start for a, b in itertools.pairwise(units))
    info = dataset_table_info(dataset)
    total = sum(unit_table(dataset, unit, info).num_rows for unit in units)
    assert total == 500


def test_a_last_line_without_a_line_break_is_in_the_last_unit(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "a.csv", "x\n1\n2\n3")
    units = dataset_units(resolve_dataset(str(csv)), unit_bytes=2)
    assert b"".join(unit_text(unit) for unit in units) == b"1\n2\n3"


def test_a_gzip_csv_file_is_one_unit(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "a.csv.gz"
    path.write_bytes(gzip.compress(b"x\n1\n2\n"))
    dataset = resolve_dataset(str(path))
    units = dataset_units(dataset, unit_bytes=1)
    assert len(units) == 1
    assert unit_text(units[0]) == b"1\n2\n"


def test_shards_are_contiguous_shares_of_the_units_that_together_hold_each_once() -> None:
    units = list(range(10))
    shares = [shard_units(units, Shard(index, 3)) for index in (1, 2, 3)]  # type: ignore[arg-type]
    assert shares == [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]
    assert shard_units(units, None) == units  # type: ignore[arg-type]
    few = [shard_units([1, 2], Shard(index, 4)) for index in (1, 2, 3, 4)]  # type: ignore[list-item]
    assert sorted(x for share in few for x in share) == [1, 2]


def test_csv_and_parquet_of_the_same_rows_give_the_same_head(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    table = pa.table({"x": rng.normal(size=300), "n": rng.integers(0, 9, 300)})
    pcsv.write_csv(table, tmp_path / "a.csv")
    write_parquet(tmp_path / "a.parquet", table)
    heads = []
    for name in ("a.csv", "a.parquet"):
        dataset = resolve_dataset(str(tmp_path / name))
        heads.append(dataset_head(dataset, 100, dataset_table_info(dataset)))
    assert np.allclose(heads[0].columns["x"].values, heads[1].columns["x"].values, rtol=1e-15)
    assert heads[0].columns["n"].values.tolist() == heads[1].columns["n"].values.tolist()


def test_a_uri_with_nothing_there_is_a_data_error_naming_it() -> None:
    pytest.importorskip("fsspec")
    with pytest.raises(DataError, match=r"^memory://sources-test-none/x: no such data file or folder$"):
        resolve_dataset("memory://sources-test-none/x")


def test_a_delta_table_through_a_symlink_and_a_relative_path_keeps_its_escaped_partition_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deltalake = pytest.importorskip("deltalake")
    real = tmp_path / "real" / "delta"
    real.parent.mkdir()
    deltalake.write_deltalake(
        str(real), pa.table({"x": [1.0, 2.0, 3.0], "city": ["a b", "c/d", "a b"]}), partition_by=["city"]
    )
    (tmp_path / "link").symlink_to(real)
    monkeypatch.chdir(tmp_path)
    for location in ("link", "real/delta", str(tmp_path / "link")):
        dataset = resolve_dataset(location)
        info = dataset_table_info(dataset)
        assert info.columns == ["x", "city"]
        head = dataset_head(dataset, 10, info)
        city = head.columns["city"]
        assert sorted(city.names()[code] for code in city.codes) == ["a b", "a b", "c/d"]  # type: ignore[union-attr]


def test_the_hive_default_partition_is_a_missing_value(tmp_path: Path) -> None:
    write_parquet(tmp_path / "t" / "k=__HIVE_DEFAULT_PARTITION__" / "p.parquet", pa.table({"x": [1.0]}))
    write_parquet(tmp_path / "t" / "k=a" / "p.parquet", pa.table({"x": [2.0]}))
    dataset = resolve_dataset(str(tmp_path / "t"))
    head = dataset_head(dataset, 10, dataset_table_info(dataset))
    assert head.columns["k"].codes.tolist() == [-1, 0]  # type: ignore[union-attr]


def test_csv_text_that_neither_fits_nor_parses_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r"^a\.csv: cannot read csv"):
        csv_text_table(b"1.5,a\n1,2,3\n", b"x,s\n", {"x": "int64", "s": "string"}, origin="a.csv")


def test_a_run_restarts_with_wider_types_until_they_fit_and_stops_when_they_cannot_widen() -> None:
    from dataclasses import dataclass

    from mlops_actions.engines.sources import run_with_wider_types

    @dataclass(frozen=True)
    class Job:
        info: TableInfo
        reads: str = "rows"

    info = DatasetInfo(path="d", format="csv", columns=["x"], dtypes={"x": "int"}, types={"x": "int64"})
    seen: list[str] = []

    def run_once(job: Job) -> str:
        seen.append(job.info.dtypes["x"])
        if job.info.dtypes["x"] == "int":
            raise RuntimeError(f"worker failed: {WiderTypes({'x': 'double'})}")
        return "done"

    assert run_with_wider_types(Job(info), run_once) == "done"
    assert seen == ["int", "float"]

    def never_fits(job: Job) -> str:
        raise WiderTypes({"x": "int64"})

    with pytest.raises(DataError, match=r"^d: column types do not fit"):
        run_with_wider_types(Job(info), never_fits)
