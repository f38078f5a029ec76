"""The data checks as engine jobs: any partitioning and merge order gives the one-pass answer."""

from __future__ import annotations

import itertools
import pickle
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops_actions.domain.data.chunks import (
    CategoricalColumn,
    Chunk,
    NumericColumn,
    OtherColumn,
    TableInfo,
    scan_table,
)
from mlops_actions.domain.data.drift import drift_files, drift_to_dict
from mlops_actions.domain.data.profile import build_profile, load_profile, profile_to_dict, save_profile
from mlops_actions.domain.data.profile.job import ProfileJob
from mlops_actions.domain.data.schema import schema_from_dict
from mlops_actions.domain.data.validate import (
    ValidationJob,
    merge_validation_states,
    new_validation_state,
    update_validation_state,
    validate_file,
)
from mlops_actions.engines.base import Dataset, EngineOptions, Shard, tree_merge
from mlops_actions.engines.data_jobs import (
    bins_profile,
    check_shards,
    data_dataset,
    drift_dataset,
    merge_profile_documents,
    profile_dataset,
    select_columns,
    shard_profile_document,
    single_pass_file,
    validate_dataset,
)
from mlops_actions.errors import DataError

ROWS = 3000


def table(seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1, ROWS)
    x[::97] = np.nan
    y = x * 2 + rng.normal(0, 0.5, ROWS)
    y[5] = np.inf
    return pd.DataFrame(
        {
            "x": x,
            "y": y,
            "n": rng.integers(-5, 200, ROWS),
            "plan": rng.choice(["basic", "pro", "gold", "free"], ROWS),
            "flag": rng.choice([True, False], ROWS),
            "when": pd.date_range("2024-01-01", periods=ROWS, freq="h"),
            "empty": [None] * ROWS,
        }
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("data")
    paths = {}
    for name, frame in (("reference", table(0)), ("current", table(1, shift=0.8))):
        paths[f"{name}.csv"] = folder / f"{name}.csv"
        frame.to_csv(paths[f"{name}.csv"], index=False)
        paths[f"{name}.parquet"] = folder / f"{name}.parquet"
        frame.to_parquet(paths[f"{name}.parquet"], index=False)
    return paths


def slice_chunk(chunk: Chunk, start: int, stop: int) -> Chunk:
    """Rows start..stop of a chunk (positions within it)."""
    columns: dict[str, Any] = {}
    for name, column in chunk.columns.items():
        if isinstance(column, NumericColumn):
            columns[name] = NumericColumn(column.values[start:stop], column.dtype)
        elif isinstance(column, CategoricalColumn):
            columns[name] = CategoricalColumn(column.codes[start:stop], column.dictionary, column.dtype)
        else:
            assert isinstance(column, OtherColumn)
            values = None if column.values is None else column.values[start:stop]
            columns[name] = OtherColumn(column.missing[start:stop], column.dtype, values=values)
    return Chunk(start=chunk.start + start, rows=stop - start, columns=columns)


class _Chunks:
    def start(self, info: TableInfo) -> None:
        self.info = info
        self.chunks: list[Chunk] = []

    def update(self, chunk: Chunk) -> None:
        self.chunks.append(chunk)


@dataclass
class PartitionEngine:
    """An engine over one local file: its rows cut into ``partitions`` contiguous partitions (small scan
    chunks, so partitions span chunks), every partition summarised apart, the summaries merged in a
    shuffled order as a tree."""

    partitions: int
    seed: int = 0
    name: str = "test"
    runs: list[int] = field(default_factory=list)

    def table_info(self, dataset: Dataset, columns: Any = None) -> TableInfo:
        reader = _Chunks()
        scan_table(dataset.location, [reader], columns=columns, chunk_rows=256, chunk_bytes=8192)
        self.chunks = reader.chunks
        return reader.info

    def _rows(self, dataset: Dataset, info: TableInfo) -> list[Chunk]:
        reader = _Chunks()
        scan_table(dataset.location, [reader], columns=list(info.dtypes), chunk_rows=256, chunk_bytes=8192)
        return reader.chunks

    def head(self, dataset: Dataset, rows: int, info: TableInfo) -> Chunk:
        chunks = self._rows(dataset, info)
        parts = []
        taken = 0
        for chunk in chunks:
            if taken >= rows:
                break
            part = slice_chunk(chunk, 0, min(chunk.rows, rows - taken))
            parts.append(part)
            taken += part.rows
        return concat_chunks(parts)

    def run(self, dataset: Dataset, job: Any, *, shard: Shard | None = None) -> Any:
        job = pickle.loads(pickle.dumps(job))
        chunks = self._rows(dataset, job.info)
        total = sum(chunk.rows for chunk in chunks)
        low, high = 0, total
        if shard is not None:
            low, high = total * (shard.index - 1) // shard.count, total * shard.index // shard.count
        bounds = [int(b) for b in np.linspace(low, high, self.partitions + 1)]
        summaries = []
        for first, last in itertools.pairwise(bounds):
            pieces = []
            for chunk in chunks:
                a, b = max(first, chunk.start), min(last, chunk.start + chunk.rows)
                if a < b:
                    pieces.append(job.summarise(slice_chunk(chunk, a - chunk.start, b - chunk.start)))
            summaries.append(tree_merge(job, pieces))
        self.runs.append(len(summaries))
        random.Random(self.seed).shuffle(summaries)
        return tree_merge(job, summaries)

    def close(self) -> None:
        pass


def concat_chunks(chunks: list[Chunk]) -> Chunk:
    """One chunk of consecutive chunks (categorical dictionaries unified)."""
    columns: dict[str, Any] = {}
    for name, first in chunks[0].columns.items():
        parts = [chunk.columns[name] for chunk in chunks]
        if isinstance(first, NumericColumn):
            columns[name] = NumericColumn(np.concatenate([p.values for p in parts]), first.dtype)
        elif isinstance(first, CategoricalColumn):
            names: list[str] = []
            codes = []
            for part in parts:
                own = part.names()
                for value in own:
                    if value not in names:
                        names.append(value)
                remap = np.array([names.index(v) for v in own] + [-1], dtype=np.int64)
                codes.append(remap[part.codes])
            columns[name] = CategoricalColumn(np.concatenate(codes), names, first.dtype)
        else:
            columns[name] = OtherColumn(np.concatenate([p.missing for p in parts]), first.dtype)
    return Chunk(start=chunks[0].start, rows=sum(c.rows for c in chunks), columns=columns)


def assert_close(left: Any, right: Any, where: str = "") -> None:
    """Equal documents: integers and texts exactly, floats within 1e-9 relative, exact values as sets."""
    if isinstance(left, dict):
        assert isinstance(right, dict) and set(left) == set(right), where
        for key in left:
            a, b = left[key], right[key]
            if key == "values" and a is not None and b is not None:
                a, b = sorted(a), sorted(b)
            assert_close(a, b, f"{where}.{key}")
    elif isinstance(left, list):
        assert isinstance(right, list) and len(left) == len(right), where
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            assert_close(a, b, f"{where}[{index}]")
    elif isinstance(left, float) and not isinstance(left, bool):
        assert right == pytest.approx(left, rel=1e-9, abs=1e-9), where
    else:
        assert left == right, where


def dataset(path: Path) -> Dataset:
    return data_dataset(str(path))


@pytest.mark.parametrize("name", ["reference.csv", "reference.parquet"])
@pytest.mark.parametrize("partitions", [1, 7, 64])
def test_profile_of_partitions_in_any_merge_order_equals_the_one_pass_profile(files, name, partitions):
    engine = PartitionEngine(partitions, seed=partitions)
    profile = profile_dataset(engine, dataset(files[name]), edge_rows=500)
    whole = build_profile(files[name], edge_rows=500)
    assert engine.runs == [partitions]
    assert_close(profile_to_dict(profile), profile_to_dict(whole))


def test_profile_job_is_plain_data_that_pickles(files):
    info = PartitionEngine(1).table_info(dataset(files["reference.csv"]))
    job = ProfileJob(info, edge_rows=10)
    again = pickle.loads(pickle.dumps(job))
    assert (again.reads, again.edge_rows, again.info) == ("rows", 10, info)


def test_numeric_bins_come_from_the_reference_and_the_head_for_columns_it_lacks(files):
    engine = PartitionEngine(3)
    data = dataset(files["reference.csv"])
    reference = build_profile(files["current.csv"], columns=["x"], edge_rows=200)
    info = engine.table_info(data)
    bins, same_info = bins_profile(engine, data, info, reference, 200)
    assert same_info is info
    whole = build_profile(files["reference.csv"], edge_rows=200)
    assert bins is not None
    assert np.array_equal(bins.columns["x"].edges, reference.columns["x"].edges)
    assert np.array_equal(bins.columns["y"].edges, whole.columns["y"].edges)
    assert not np.array_equal(bins.columns["x"].edges, whole.columns["x"].edges)


def test_no_head_is_read_when_the_reference_gives_every_bin(files):
    class NoHead(PartitionEngine):
        def head(self, dataset: Dataset, rows: int, info: TableInfo) -> Chunk:
            raise AssertionError("head read")

    reference = build_profile(files["reference.csv"])
    engine = NoHead(2)
    profile = profile_dataset(engine, dataset(files["current.csv"]), edges_from=reference)
    whole = build_profile(files["current.csv"], edges_from=reference)
    assert_close(profile_to_dict(profile), profile_to_dict(whole))


def test_shards_merged_equal_the_whole_and_an_empty_shard_still_merges(files, tmp_path):
    data = dataset(files["reference.parquet"])
    engine = PartitionEngine(2)
    parts = [
        (
            f"part-{i}.json",
            shard_profile_document(profile_dataset(engine, data, shard=Shard(i, 3)), Shard(i, 3), data),
        )
        for i in (3, 1, 2)
    ]
    merged = merge_profile_documents(parts)
    assert merged.sources == [str(files["reference.parquet"])]
    assert_close(profile_to_dict(merged), profile_to_dict(build_profile(files["reference.parquet"])))

    class Empty(PartitionEngine):
        def run(self, dataset: Dataset, job: Any, *, shard: Shard | None = None) -> Any:
            return None

    empty = profile_dataset(Empty(1), data, shard=Shard(4, 4))
    assert empty.rows == 0
    assert (
        merge_profile_documents([("a", profile_to_dict(merged)), ("b", profile_to_dict(empty))]).rows == ROWS
    )
    with pytest.raises(DataError, match="no rows"):
        profile_dataset(Empty(1), data)


def shard_documents(*shards: str, dataset_name: str = "data") -> list[tuple[str, dict[str, str]]]:
    return [(f"part-{i}.json", {"shard": text, "dataset": dataset_name}) for i, text in enumerate(shards)]


def test_merge_of_shards_names_the_missing_shard():
    with pytest.raises(DataError, match=r"shard 2/3 missing"):
        check_shards(shard_documents("1/3", "3/3"))


def test_merge_of_shards_names_the_repeated_shard():
    with pytest.raises(DataError, match=r"shard 1/2 appears twice: part-0.json and part-1.json"):
        check_shards(shard_documents("1/2", "1/2", "2/2"))


def test_merge_of_shards_refuses_mixed_counts_datasets_and_plain_profiles():
    with pytest.raises(DataError, match="different counts"):
        check_shards(shard_documents("1/2", "2/3"))
    with pytest.raises(DataError, match="different datasets"):
        check_shards(shard_documents("1/2") + shard_documents("2/2", dataset_name="other"))
    with pytest.raises(DataError, match=r"plain\.json: not a shard profile"):
        check_shards([*shard_documents("1/1"), ("plain.json", {})])
    check_shards([("a.json", {}), ("b.json", {})])
    check_shards(shard_documents("2/2", "1/2"))


SCHEMA = {
    "version": 1,
    "rows": {"min": 10, "max": 2000},
    "columns": {
        "x": {"dtype": "float", "nullable": False, "min": -2.0, "max": 2.0},
        "y": {"dtype": "float", "nullable": True, "max_null_share": 0.0},
        "n": {"dtype": "int", "nullable": False, "min": 0, "max": 100},
        "plan": {"dtype": "category", "nullable": False, "categories": ["basic", "pro"]},
        "flag": {"dtype": "bool", "nullable": False},
        "when": {"dtype": "datetime", "nullable": True},
        "gone": {"dtype": "int", "nullable": True},
    },
}


@pytest.mark.parametrize("name", ["reference.csv", "reference.parquet"])
@pytest.mark.parametrize("partitions", [1, 7, 64])
def test_validation_of_partitions_gives_validate_file_verdicts(files, name, partitions):
    schema = schema_from_dict(SCHEMA)
    engine = PartitionEngine(partitions, seed=partitions)
    result = validate_dataset(engine, dataset(files[name]), schema)
    whole = validate_file(files[name], schema)
    assert whole.violations and not result.passed
    assert (result.path, result.rows) == (whole.path, whole.rows)
    found = [(v.column, v.kind, v.count, v.message) for v in result.violations]
    assert found == [(v.column, v.kind, v.count, v.message) for v in whole.violations]
    for mine, theirs in zip(result.violations, whole.violations, strict=True):
        assert len(mine.examples) == len(theirs.examples)


def test_merged_validation_counts_add_and_examples_keep_the_first_ones():
    schema = schema_from_dict(
        {"version": 1, "columns": {"a": {"dtype": "int", "nullable": False, "min": 0, "max": 10}}}
    )
    info = TableInfo(path="t", format="csv", columns=["a", "b"], dtypes={"a": "int", "b": "string"})

    def state(values: list[float], names: list[str]) -> Any:
        chunk = Chunk(
            0,
            len(values),
            {
                "a": NumericColumn(np.array(values, dtype=float), "int"),
                "b": CategoricalColumn(np.arange(len(names), dtype=np.int64), names, "string"),
            },
        )
        result = new_validation_state(schema, info)
        update_validation_state(result, chunk)
        return result

    first = state([11, 12, 13, np.nan], ["p", "q", "r", "s"])
    second = state([-1, 12, 14, 15, 16, 17], ["q", "t", "u", "v", "w", "x"])
    merged = merge_validation_states(first, second)
    column = merged.columns["a"]
    assert (merged.rows, column.out_of_range, column.missing) == (10, 9, 1)
    assert column.range_examples.items == ["11", "12", "13", "-1", "14"]
    assert (column.lowest, column.highest) == (-1.0, 17.0)
    assert merged.new_examples["b"].items == ["p", "q", "r", "t", "u"]
    job = ValidationJob(schema, info)
    (new, out_of_range, nan) = job.violations(merged)
    assert (new.kind, new.examples) == ("new_column", ["p", "q", "r"])
    assert "lowest -1, highest 17" in out_of_range.message
    assert (nan.kind, nan.count) == ("nan_or_inf", 1)


def test_validation_states_of_different_columns_do_not_merge():
    schema = schema_from_dict({"version": 1, "columns": {"a": {"dtype": "int"}}})
    one = new_validation_state(schema, TableInfo("t", "csv", ["a"], {"a": "int"}))
    two = new_validation_state(schema, TableInfo("t", "csv", ["a", "b"], {"a": "int", "b": "int"}))
    with pytest.raises(DataError, match="different columns"):
        merge_validation_states(one, two)


def test_validation_of_no_rows_judges_an_empty_state(files):
    class Empty(PartitionEngine):
        def run(self, dataset: Dataset, job: Any, *, shard: Shard | None = None) -> Any:
            return None

    result = validate_dataset(Empty(1), dataset(files["reference.csv"]), schema_from_dict(SCHEMA))
    assert result.rows == 0 and "too_few_rows" in [v.kind for v in result.violations]


def drift_document(report: Any) -> dict[str, Any]:
    document = drift_to_dict(report)
    del document["reference"]["path"], document["current"]["path"]
    return document


@pytest.mark.parametrize("partitions", [1, 7, 64])
def test_drift_of_partitions_gives_the_drift_files_report(files, partitions):
    engine = PartitionEngine(partitions, seed=partitions)
    report = drift_dataset(engine, dataset(files["reference.csv"]), dataset(files["current.parquet"]))
    whole = drift_files(files["reference.csv"], files["current.parquet"])
    assert [c.column for c in report.columns if c.drifted] == ["x", "y"]
    assert [c.column for c in whole.columns if c.drifted] == ["x", "y"]
    assert_close(drift_to_dict(report), drift_to_dict(whole))


def test_drift_of_a_current_profile_built_on_the_reference_bins(files, tmp_path):
    reference = tmp_path / "reference.json"
    save_profile(build_profile(files["reference.csv"]), reference)
    current = tmp_path / "current.json"
    save_profile(build_profile(files["current.csv"], edges_from=load_profile(reference)), current)
    engine = PartitionEngine(3)
    report = drift_dataset(engine, reference, current, columns=["x", "plan"])
    whole = drift_files(reference, files["current.csv"], columns=["x", "plan"])
    assert [c.column for c in report.columns] == ["x", "plan"]
    assert_close(drift_document(report), drift_document(whole))
    assert report.current == str(current)
    unbinned = tmp_path / "unbinned.json"
    save_profile(build_profile(files["current.csv"]), unbinned)
    with pytest.raises(DataError, match="not built on the reference's bins"):
        drift_dataset(engine, reference, unbinned)


def test_select_columns_keeps_the_pairs_of_the_kept_columns(files):
    profile = build_profile(files["reference.csv"])
    kept = select_columns(profile, ["y", "x"])
    assert list(kept.columns) == ["y", "x"]
    assert kept.correlation is not None and kept.correlation.columns == ["x", "y"]
    both = build_profile(files["reference.csv"], columns=["x", "y"])
    assert both.correlation is not None
    assert np.allclose(kept.correlation.matrix(), both.correlation.matrix(), rtol=1e-12)


def test_one_whole_local_file_on_the_local_engine_takes_the_single_pass_path(files):
    @dataclass
    class Local:
        options: EngineOptions
        name: str = "local"

    data = dataset(files["reference.csv"])
    assert single_pass_file(Local(EngineOptions()), data) == str(files["reference.csv"])
    assert single_pass_file(Local(EngineOptions(partitions=3)), data) is None
    assert single_pass_file(Local(EngineOptions()), data, Shard(1, 2)) is None
    assert single_pass_file(PartitionEngine(1), data) is None
    folder = Dataset(
        location=str(files["reference.csv"].parent), format="csv", files=(str(files["reference.csv"]),)
    )
    assert single_pass_file(Local(EngineOptions()), folder) is None


def test_a_missing_data_file_is_named_as_the_single_file_commands_name_it(tmp_path):
    with pytest.raises(DataError, match=r"missing.csv: data file not found"):
        data_dataset(str(tmp_path / "missing.csv"))
    (tmp_path / "x.csv").write_text("a\n1\n")
    assert data_dataset(f"{tmp_path}/./x.csv") == Dataset(
        location=str(tmp_path / "x.csv"), format="csv", files=(str(tmp_path / "x.csv"),)
    )


def local_engine(partitions: int | None, unit_bytes: int = 16384) -> Any:
    from mlops_actions.engines.local import LocalEngine

    return LocalEngine(EngineOptions(partitions=partitions), unit_bytes=unit_bytes)


@pytest.mark.parametrize("name", ["reference.csv", "reference.parquet"])
@pytest.mark.parametrize("partitions", [1, 7, 64])
def test_local_engine_partitions_give_the_one_pass_profile_validation_and_drift(files, name, partitions):
    engine = local_engine(partitions)
    data = dataset(files[name])
    assert single_pass_file(engine, data) is None
    assert_close(
        profile_to_dict(profile_dataset(engine, data, edge_rows=700)),
        profile_to_dict(build_profile(files[name], edge_rows=700)),
    )
    schema = schema_from_dict(SCHEMA)
    result, whole = validate_dataset(engine, data, schema), validate_file(files[name], schema)
    assert [(v.column, v.kind, v.count, v.message) for v in result.violations] == [
        (v.column, v.kind, v.count, v.message) for v in whole.violations
    ]
    current = dataset(files[name.replace("reference", "current")])
    assert_close(
        drift_to_dict(drift_dataset(engine, data, current)),
        drift_to_dict(drift_files(files[name], files[name.replace("reference", "current")])),
    )


def test_local_engine_shards_of_a_csv_file_merge_into_the_whole(files):
    engine = local_engine(None, unit_bytes=8192)
    data = dataset(files["current.csv"])
    parts = []
    for index in (2, 3, 1):
        profile = profile_dataset(engine, data, shard=Shard(index, 3))
        assert 0 < profile.rows < ROWS
        parts.append((f"part-{index}.json", shard_profile_document(profile, Shard(index, 3), data)))
    merged = merge_profile_documents(parts)
    assert_close(profile_to_dict(merged), profile_to_dict(build_profile(files["current.csv"])))


def test_local_engine_on_a_folder_of_parquet_files_profiles_them_in_path_order(files, tmp_path):
    frame = table(2)
    folder = tmp_path / "parts"
    folder.mkdir()
    for index, start in enumerate(range(0, ROWS, 700)):
        frame.iloc[start : start + 700].to_parquet(folder / f"part-{index:02d}.parquet", index=False)
    frame.to_parquet(tmp_path / "whole.parquet", index=False)
    profile = profile_dataset(local_engine(None), data_dataset(str(folder)), edge_rows=1000)
    whole = build_profile(tmp_path / "whole.parquet", edge_rows=1000)
    assert profile.sources == [str(folder)]
    whole.sources = profile.sources
    assert_close(profile_to_dict(profile), profile_to_dict(whole))


def test_the_empty_summaries_are_the_identity_of_the_merges(files):
    engine = PartitionEngine(1)
    data = dataset(files["reference.csv"])
    info = engine.table_info(data)
    chunk = engine.head(data, 400, info)
    profiles = ProfileJob(info, edges_from=bins_profile(engine, data, info, None, 400)[0], edge_rows=400)
    one = profiles.summarise(chunk)
    for merged in (profiles.merge(profiles.empty(), one), profiles.merge(one, profiles.empty())):
        assert profile_to_dict(merged) == profile_to_dict(one)
    validation = ValidationJob(schema_from_dict(SCHEMA), info)
    state = validation.summarise(chunk)
    for merged_state in (
        validation.merge(validation.empty(), state),
        validation.merge(state, validation.empty()),
    ):
        assert [v.to_dict() for v in validation.violations(merged_state)] == [
            v.to_dict() for v in validation.violations(state)
        ]


@pytest.mark.parametrize("edge_rows", [100, 2500])
@pytest.mark.parametrize("partitions", [None, 3])
def test_a_csv_column_empty_in_its_first_block_gets_the_one_pass_bins(tmp_path, edge_rows, partitions):
    rng = np.random.default_rng(0)
    late = rng.normal(size=ROWS)
    late[:2000] = np.nan
    path = tmp_path / "late.csv"
    pd.DataFrame({"a": rng.normal(size=ROWS), "late": late}).to_csv(path, index=False)
    engine = local_engine(partitions, unit_bytes=8192)
    profile = profile_dataset(engine, data_dataset(str(path)), edge_rows=edge_rows)
    whole = build_profile(path, chunk_bytes=8192, edge_rows=edge_rows)
    assert profile.columns["late"].dtype == "float"
    assert (len(whole.columns["late"].edges) > 0) == (edge_rows > 2000)
    assert_close(profile_to_dict(profile), profile_to_dict(whole))
