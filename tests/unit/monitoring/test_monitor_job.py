"""The monitor as an engine job: the truth logs cut into 1, 7 or 64 batches, each summarised on its own and
the summaries merged in shuffled orders, give exactly the result of the monitor reading them in order
(counts equal, floats within 1e-9 relative, the same statuses and flagged columns), in every log format,
with labels, with eval outputs and with --since."""

from __future__ import annotations

import itertools
import math
import pickle
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlops_actions.engines.base import Batch, Dataset
from mlops_actions.monitoring.accumulate import WindowCounts, merge_window_counts
from mlops_actions.monitoring.job import MonitorJob, MonitorSummary, batch_chunk
from mlops_actions.monitoring.performance import LabelledRows, PerformancePartial
from mlops_actions.monitoring.reference import Reference, reference_from_file
from mlops_actions.monitoring.run import run_monitor
from tests.unit.monitoring.generate import SCENARIOS, generate_labels, generate_rows, write_flat

PARTS = (1, 7, 64)


def batches(path: Path, parts: int) -> list[Batch]:
    """The file's rows cut into ``parts`` contiguous batches, as an engine hands them to a "logs" job."""
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        table = pq.read_table(path)
        bounds = np.linspace(0, table.num_rows, parts + 1).astype(int)
        return [
            Batch(str(path), "parquet", table=table.slice(a, b - a), first_line=int(a) + 1)
            for a, b in itertools.pairwise(bounds)
        ]
    lines = path.read_bytes().splitlines(keepends=True)
    header = b""
    first = 1
    if path.suffix == ".csv":
        header, lines, first = lines[0], lines[1:], 2
    bounds = np.linspace(0, len(lines), parts + 1).astype(int)
    return [
        Batch(
            str(path),
            path.suffix.lstrip("."),
            text=b"".join(lines[a:b]),
            header=header or None,
            first_line=first + int(a),
        )
        for a, b in itertools.pairwise(bounds)
    ]


def shuffled_merge(job: MonitorJob, summaries: list[MonitorSummary], seed: int) -> MonitorSummary:
    """Merge the summaries two at a time, in a random order and a random grouping."""
    rng = random.Random(seed)
    pool = list(summaries)
    rng.shuffle(pool)
    while len(pool) > 1:
        i, j = sorted(rng.sample(range(len(pool)), 2))
        second, first = pool.pop(j), pool.pop(i)
        pool.append(job.merge(first, second) if rng.random() < 0.5 else job.merge(second, first))
    return pool[0]


class SplitEngine:
    """An engine that cuts every file into ``parts`` batches, pickles the job and each summary (as a
    cluster does), and merges the summaries in a shuffled order."""

    name = "split"

    def __init__(self, parts: int, seed: int = 0, *, numbered: bool = True):
        self.parts, self.seed, self.runs, self.numbered = parts, seed, 0, numbered

    def table_info(self, dataset: Dataset, columns: Any = None) -> Any:
        raise NotImplementedError

    def head(self, dataset: Dataset, rows: int, info: Any) -> Any:
        raise NotImplementedError

    def run(self, dataset: Dataset, job: Any, *, shard: Any = None) -> Any:
        self.runs += 1
        job = pickle.loads(pickle.dumps(job))
        summaries = [
            pickle.loads(
                pickle.dumps(job.summarise(batch if self.numbered else replace(batch, first_line=None)))
            )
            for name in dataset.files
            for batch in batches(Path(name), self.parts)
        ]
        return shuffled_merge(job, summaries, self.seed) if summaries else None

    def close(self) -> None:
        pass


def assert_same(found: Any, expected: Any, where: str = "result") -> None:
    """Equal, floats within 1e-9 relative."""
    if isinstance(expected, dict):
        assert isinstance(found, dict) and set(found) == set(expected), where
        for key in expected:
            assert_same(found[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, (list, tuple)):
        assert isinstance(found, (list, tuple)) and len(found) == len(expected), where
        for index, (a, b) in enumerate(zip(found, expected, strict=True)):
            assert_same(a, b, f"{where}[{index}]")
    elif isinstance(expected, float) and not isinstance(found, bool):
        assert isinstance(found, (int, float)), where
        if math.isnan(expected):
            assert math.isnan(found), where
        else:
            assert math.isclose(found, expected, rel_tol=1e-9, abs_tol=1e-12), (
                f"{where}: {found} != {expected}"
            )
    else:
        assert found == expected, f"{where}: {found!r} != {expected!r}"


@pytest.fixture(scope="module")
def reference(truth_logs) -> Reference:
    return reference_from_file(truth_logs["reference"])


@pytest.fixture(scope="module")
def in_order(truth_logs, example_config, reference) -> dict[str, Any]:
    return {
        fmt: run_monitor(example_config, str(truth_logs[fmt]), reference, window="1h").to_dict()
        for fmt in ("jsonl", "csv", "parquet")
    }


@pytest.mark.parametrize("parts", PARTS)
@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_the_job_on_any_partitioning_gives_the_result_of_the_monitor_read_in_order(
    fmt, parts, truth_logs, example_config, reference, in_order
):
    engine = SplitEngine(parts, seed=parts)
    found = run_monitor(example_config, str(truth_logs[fmt]), reference, window="1h", engine=engine)
    assert engine.runs == 1
    assert_same(found.to_dict(), in_order[fmt])
    assert [w.rows for w in found.windows] == [s.rows for s in SCENARIOS]


def test_merges_in_every_order_give_the_same_statuses_and_counts(truth_logs, example_config, reference):
    results = [
        run_monitor(
            example_config, str(truth_logs["parquet"]), reference, window="1h", engine=SplitEngine(7, seed)
        ).to_dict()
        for seed in range(4)
    ]
    for other in results[1:]:
        assert_same(other, results[0])


@pytest.fixture(scope="module")
def labels(tmp_path_factory, example_config):
    from mlops_actions.monitoring.labels import read_labels

    folder = tmp_path_factory.mktemp("labels")
    generate_labels(generate_rows()).to_csv(folder / "labels.csv", index=False)
    return read_labels(str(folder / "labels.csv"), example_config)


@pytest.mark.parametrize("parts", PARTS)
def test_labelled_windows_get_the_same_bootstrap_intervals_whatever_the_partitioning(
    parts, truth_logs, example_config, reference, labels
):
    """The bootstrap resamples the labelled rows by index: merged partials keep them in read order."""
    path = str(truth_logs["jsonl"])
    expected = run_monitor(example_config, path, reference, window="1h", labels=labels)
    found = run_monitor(
        example_config, path, reference, window="1h", labels=labels, engine=SplitEngine(parts, parts + 1)
    )
    assert expected.windows[0].finding("performance").figures["mode"] == "measured"
    assert_same(found.to_dict(), expected.to_dict())


def test_batches_without_line_numbers_keep_time_ordered_labelled_rows_in_read_order(
    truth_logs, example_config, reference, labels
):
    path = str(truth_logs["parquet"])
    expected = run_monitor(example_config, path, reference, window="1h", labels=labels)
    engine = SplitEngine(64, 5, numbered=False)
    found = run_monitor(example_config, path, reference, window="1h", labels=labels, engine=engine)
    assert_same(found.to_dict(), expected.to_dict())


@pytest.mark.parametrize("parts", PARTS)
def test_with_eval_outputs_the_estimate_and_prediction_drift_are_the_same(
    parts, truth_logs, example_config, reference
):
    from mlops_actions.domain.metrics import Predictions
    from mlops_actions.monitoring.performance import build_eval_outputs

    rng = np.random.default_rng(8)
    p = rng.beta(2, 5, size=4000)
    y = (rng.random(4000) < p).astype(int)
    outputs = build_eval_outputs(
        "binary", [0, 1], y, Predictions(labels=(p >= 0.5).astype(int), scores=p), ["roc_auc"], resamples=20
    )
    released = Reference(reference.profile, reference.source, outputs=outputs)
    path = str(truth_logs["csv"])
    expected = run_monitor(example_config, path, released, window="1h")
    found = run_monitor(example_config, path, released, window="1h", engine=SplitEngine(parts, parts))
    assert expected.windows[0].finding("performance").figures["mode"] == "estimated"
    assert_same(found.to_dict(), expected.to_dict())


@pytest.mark.parametrize("parts", PARTS)
def test_since_leaves_out_the_same_rows_and_bins_the_outputs_on_the_first_kept_rows(
    parts, truth_logs, example_config, reference
):
    path = str(truth_logs["parquet"])
    since = "2026-11-30T02:30:00Z"
    expected = run_monitor(example_config, path, reference, window="1h", since=since, chunk_rows=1000)
    found = run_monitor(
        example_config, path, reference, window="1h", since=since, chunk_rows=1000, engine=SplitEngine(parts)
    )
    assert expected.rows_before_since > 0 and expected.windows[0].start == "2026-11-30T02:00:00Z"
    assert_same(found.to_dict(), expected.to_dict())


def test_logs_in_several_files_are_read_in_file_order(tmp_path, example_config, reference):
    frame = generate_rows()
    folder = tmp_path / "logs"
    folder.mkdir()
    for index, part in enumerate(np.array_split(np.arange(len(frame)), 3)):
        write_flat(frame.iloc[part], folder / f"part-{index}.parquet")
    expected = run_monitor(example_config, str(folder), reference, window="1h")
    found = run_monitor(example_config, str(folder), reference, window="1h", engine=SplitEngine(7, 3))
    assert len(found.files) == 3
    assert_same(found.to_dict(), expected.to_dict())


def test_window_counts_merge_by_adding_every_count():
    a = WindowCounts(rows=3, nonfinite_rows=1, out_of_range={"x": 2}, wrong_type={"y": 1})
    b = WindowCounts(rows=5, sum_off_rows=2, out_of_range={"x": 1, "z": 4}, new_columns={"n": 5})
    merged = merge_window_counts(a, b)
    assert merged == WindowCounts(
        rows=8,
        nonfinite_rows=1,
        sum_off_rows=2,
        out_of_range={"x": 3, "z": 4},
        wrong_type={"y": 1},
        new_columns={"n": 5},
    )
    assert merge_window_counts(b, a) == merged and merge_window_counts(merged, WindowCounts()) == merged


def test_labelled_rows_merged_in_any_order_are_in_read_order():
    parts = [
        LabelledRows([np.array([f"l{i}"])], [np.array([f"p{i}"])], [{}], [("logs.jsonl", 1 + 10 * i, 0, 0)])
        for i in range(5)
    ]
    merged = PerformancePartial({0: parts[3]}).merge(PerformancePartial({0: parts[0]}))
    for i in (4, 1, 2):
        merged = PerformancePartial({0: parts[i]}).merge(merged)
    assert [part[0] for part in merged.labelled[0].labels] == [f"l{i}" for i in range(5)]
    assert [part[0] for part in merged.labelled[0].predictions] == [f"p{i}" for i in range(5)]


def test_summaries_merge_associatively_and_commutatively(truth_logs, example_config, reference):
    engine = SplitEngine(3)
    captured: list[Any] = []

    class Capture(SplitEngine):
        def run(self, dataset, job, *, shard=None):
            captured.append(job)
            return super().run(dataset, job)

    run_monitor(example_config, str(truth_logs["parquet"]), reference, window="1h", engine=Capture(1))
    job = captured[0]
    a, b, c = (job.summarise(batch) for batch in batches(truth_logs["parquet"], 3))
    left = job.merge(job.merge(a, b), c)
    right = job.merge(a, job.merge(c, b))
    assert engine.parts == 3
    for x, y in ((left, right),):
        assert x.rows_read == y.rows_read == sum(s.rows_read for s in (a, b, c))
        assert sorted(x.windows) == sorted(y.windows)
        for start in x.windows:
            assert x.windows[start].counts == y.windows[start].counts
    assert job.merge(a, MonitorSummary()).rows_read == a.rows_read


def test_a_batch_of_csv_lines_reads_as_the_streaming_reader_reads_the_file(truth_logs):
    from mlops_actions.monitoring.logs import read_log

    path = truth_logs["csv"]
    whole = next(iter(read_log(path)))
    pieces = [batch_chunk(batch) for batch in batches(path, 7)]
    assert sum(p.table.num_rows for p in pieces) == whole.table.num_rows
    assert pieces[0].table.slice(0, 5).to_pylist() == whole.table.slice(0, 5).to_pylist()
    assert pieces[3].first_row == batches(path, 7)[3].first_line


@pytest.mark.parametrize("partitions", [None, *PARTS])
@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_on_the_local_engine_any_partitioning_gives_the_result_of_the_monitor_read_in_order(
    fmt, partitions, truth_logs, example_config, reference, in_order
):
    from mlops_actions.engines.base import EngineOptions
    from mlops_actions.engines.local import LocalEngine

    engine = LocalEngine(EngineOptions(partitions=partitions))
    found = run_monitor(example_config, str(truth_logs[fmt]), reference, window="1h", engine=engine)
    assert_same(found.to_dict(), in_order[fmt])


def test_a_json_lines_log_being_written_leaves_out_its_last_line_on_an_engine(
    tmp_path, truth_logs, example_config, reference
):
    from mlops_actions.engines.base import EngineOptions
    from mlops_actions.engines.local import LocalEngine

    path = tmp_path / "predictions.jsonl"
    text = truth_logs["jsonl"].read_bytes()
    path.write_bytes(text + text.splitlines(keepends=True)[-1][:40])
    expected = run_monitor(example_config, str(path), reference, window="1h")
    assert expected.partial_lines == 1

    class Terminating(SplitEngine):
        """Hands every line with a newline, as an engine that reads lines and joins them does."""

        def run(self, dataset, job, *, shard=None):
            summaries = [
                job.summarise(replace(batch, text=batch.text + b"\n"))
                if not batch.text.endswith(b"\n")
                else job.summarise(batch)
                for batch in batches(Path(dataset.files[0]), self.parts)
            ]
            return shuffled_merge(job, summaries, 0)

    for engine in (LocalEngine(EngineOptions()), LocalEngine(EngineOptions(partitions=7)), Terminating(7)):
        found = run_monitor(example_config, str(path), reference, window="1h", engine=engine)
        assert_same(found.to_dict(), expected.to_dict())


def monitor_command(truth_logs, capsys, *extra: str) -> tuple[int, Any]:
    import json

    from mlops_actions.cli import main
    from tests.unit.monitoring.generate import CONFIG

    argv = ["monitor", "-c", str(CONFIG), "--logs", str(truth_logs["csv"])]
    argv += ["--reference", str(truth_logs["reference"]), "--window", "1h", "--no-record", "--json", *extra]
    code = main(argv)
    printed = capsys.readouterr().out
    return code, json.loads(printed) if printed.strip().startswith("{") else printed


def test_the_monitor_command_on_the_local_engine_in_partitions_prints_the_same_document(truth_logs, capsys):
    code, expected = monitor_command(truth_logs, capsys)
    found_code, found = monitor_command(truth_logs, capsys, "--engine", "local", "--partitions", "7")
    assert code == found_code == 1
    assert_same(found, expected)


def test_the_monitor_command_closes_its_engine_when_the_run_fails(truth_logs, capsys, monkeypatch):
    import mlops_actions.engines.base as base

    closed: list[str] = []

    class Failing(SplitEngine):
        def run(self, dataset, job, *, shard=None):
            raise RuntimeError("the cluster went away")

        def close(self) -> None:
            closed.append("closed")

    monkeypatch.setattr(base, "open_engine", lambda options: Failing(options.partitions or 1))
    with pytest.raises(RuntimeError, match="the cluster went away"):
        monitor_command(truth_logs, capsys, "--engine", "dask")
    assert closed == ["closed"]


def test_the_monitor_command_names_a_bad_partition_count(truth_logs, capsys):
    from mlops_actions.cli import main
    from tests.unit.monitoring.generate import CONFIG

    argv = ["monitor", "-c", str(CONFIG), "--logs", str(truth_logs["csv"]), "--partitions", "0"]
    assert main(argv) == 2
    assert "--partitions must be at least 1" in capsys.readouterr().err


def test_merges_in_any_order_give_window_profiles_with_their_categories_in_one_order(truth_logs):
    from mlops_actions.domain.data.profile import CategoricalProfile

    captured: list[Any] = []

    class Capture(SplitEngine):
        def run(self, dataset, job, *, shard=None):
            captured.append(job)
            return super().run(dataset, job)

    from mlops_actions.domain.config import load_config
    from tests.unit.monitoring.generate import CONFIG

    path = truth_logs["parquet"]
    run_monitor(
        load_config(CONFIG),
        str(path),
        reference_from_file(truth_logs["reference"]),
        window="1h",
        engine=Capture(1),
    )
    job = captured[0]
    summaries = [job.summarise(batch) for batch in batches(path, 64)]
    first, second = (job.collected(shuffled_merge(job, summaries, seed)) for seed in (1, 2))
    orders = [
        [
            (start, name, list(column.counts))
            for start, (inputs, outputs, _) in sorted(found.items())
            for profile in (inputs, outputs)
            for name, column in profile.columns.items()
            if isinstance(column, CategoricalProfile) and column.counts
        ]
        for found in (first, second)
    ]
    assert orders[0] == orders[1] and len(orders[0]) > 12


def without_files(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "files"}


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_logs_behind_a_uri_are_read_through_the_engine_with_the_same_result(
    fmt, truth_logs, example_config, reference, in_order
):
    """The driver reads the first rows (the output bins) of a URI unit by unit, the engine the rest."""
    import fsspec

    from mlops_actions.engines.base import EngineOptions
    from mlops_actions.engines.local import LocalEngine

    memory = fsspec.filesystem("memory")
    uri = f"memory://monitor-job/predictions.{fmt}"
    memory.pipe(uri, truth_logs[fmt].read_bytes())
    try:
        engine = LocalEngine(EngineOptions(partitions=7))
        found = run_monitor(example_config, uri, reference, window="1h", engine=engine)
    finally:
        memory.rm(uri)
    assert len(found.files) == 1 and found.files[0].endswith(f"monitor-job/predictions.{fmt}")
    assert_same(without_files(found.to_dict()), without_files(in_order[fmt]))


def test_logs_in_a_delta_table_give_the_result_of_its_parquet_files_read_in_order(
    tmp_path, truth_logs, example_config, reference
):
    import pyarrow.parquet as pq
    from deltalake import DeltaTable, write_deltalake

    from mlops_actions.engines.base import EngineOptions
    from mlops_actions.engines.local import LocalEngine

    write_deltalake(str(tmp_path / "logs"), pq.read_table(truth_logs["parquet"]))
    [file] = DeltaTable(str(tmp_path / "logs")).file_uris()
    expected = run_monitor(example_config, file, reference, window="1h")
    engine = LocalEngine(EngineOptions(partitions=7))
    found = run_monitor(example_config, str(tmp_path / "logs"), reference, window="1h", engine=engine)
    assert [w.rows for w in found.windows] == [s.rows for s in SCENARIOS]
    assert_same(found.to_dict(), expected.to_dict())


def test_the_monitor_command_reads_a_delta_table_on_the_default_engine(tmp_path, truth_logs, capsys):
    import json

    import pyarrow.parquet as pq
    from deltalake import write_deltalake

    from mlops_actions.cli import main
    from tests.unit.monitoring.generate import CONFIG

    write_deltalake(str(tmp_path / "logs"), pq.read_table(truth_logs["parquet"]))
    argv = ["monitor", "-c", str(CONFIG), "--logs", str(tmp_path / "logs"), "--window", "1h"]
    argv += ["--reference", str(truth_logs["reference"]), "--no-record", "--json"]
    assert main(argv) == 1
    document = json.loads(capsys.readouterr().out)
    assert [w["rows"] for w in document["windows"]] == [s.rows for s in SCENARIOS]
