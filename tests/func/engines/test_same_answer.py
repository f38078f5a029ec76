"""The same answer on every engine: the drift truth set (benchmarks/drift_truth.py: 20 columns, exactly 6 of
them drifted) checked on the local engine, a Dask LocalCluster of 2 workers and Spark local[2], each at 1, 7
and 64 partitions, gives the single-pass answer of today's commands: counts equal, floats within 1e-9
relative, the same drifted columns and verdicts, the same violations; and so does the monitor on the truth
logs. One cluster and one session serve the whole module. Run alone with ``pytest -m engines``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyarrow")

from benchmarks.drift_truth import COLUMNS, DRIFTED, write_truth
from mlops_actions.engines.base import EngineOptions
from tests.unit.engines.equality import assert_same_document, assert_same_profile

pytestmark = pytest.mark.engines

ROWS = 20_000  # the claims are about partitioning, not size; the 6 drifted columns show at this size too
ROW_GROUP_ROWS = 2_500
PARTITIONS = (1, 7, 64)
ENGINES = ("local", "dask", "spark")
FAST_START = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"  # short Spark jobs: compile less, collect simply
COMBINATIONS = [(engine, partitions) for engine in ENGINES for partitions in PARTITIONS]


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The reference and current tables of the drift truth set as Parquet (row groups of 2 500 rows)."""
    folder = tmp_path_factory.mktemp("drift-truth")
    return write_truth(folder, ROWS, formats=["parquet"], batch_rows=ROW_GROUP_ROWS)["parquet"]


@pytest.fixture(scope="module")
def single_pass(truth: tuple[Path, Path]) -> dict[str, Any]:
    """Today's answers, from the single-pass functions the commands call on one file."""
    from mlops_actions.domain.data.drift import drift_files, drift_to_dict
    from mlops_actions.domain.data.profile import build_profile
    from mlops_actions.domain.data.schema import infer_schema
    from mlops_actions.domain.data.validate import validate_file

    reference, current = truth
    reference_profile = build_profile(reference)
    schema = infer_schema([reference_profile])
    for name in DRIFTED:  # tighter than inferred, so the current rows break them
        column = schema.columns[name]
        if column.categories is not None:
            column.categories = column.categories[1:]
        else:
            column.max = 2.0
    return {
        "drift": drift_to_dict(drift_files(reference, current)),
        "profile": build_profile(current),
        "schema": schema,
        "validation": validate_file(current, schema).to_dict(),
    }


@pytest.fixture(scope="module")
def dask_cluster() -> Any:
    """One Dask LocalCluster of 2 worker processes for the module."""
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    )
    yield cluster
    cluster.close()


@pytest.fixture(scope="module")
def spark_session() -> Any:
    """One Spark local[2] session for the module (the engines use it as the active session)."""
    pytest.importorskip("pyspark")
    from pyspark import cloudpickle

    from mlops_actions.engines.spark_engine import create_session

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the counting job travels to the workers
    session = create_session("local[2]", java_options=FAST_START)
    yield session
    session.stop()


@pytest.fixture
def open_engine(request: pytest.FixtureRequest) -> Any:
    """open_engine(name, partitions): the engine on the module's cluster or session, closed after the test."""
    opened: list[Any] = []

    def opening(name: str, partitions: int) -> Any:
        if name == "local":
            from mlops_actions.engines.local import LocalEngine

            engine: Any = LocalEngine(EngineOptions(partitions=partitions))
        elif name == "dask":
            from mlops_actions.engines.dask_engine import DaskEngine

            cluster = request.getfixturevalue("dask_cluster")
            options = EngineOptions(
                name="dask", dask_scheduler=cluster.scheduler_address, partitions=partitions
            )
            engine = DaskEngine(options)
        else:
            from mlops_actions.engines.spark_engine import SparkEngine

            request.getfixturevalue("spark_session")
            engine = SparkEngine(EngineOptions(name="spark", partitions=partitions))
            assert not engine.created, "the engine runs on the module's session"
        opened.append(engine)
        return engine

    yield opening
    for engine in opened:
        engine.close()


def dataset(path: Path) -> Any:
    """DATA as the commands resolve it."""
    from mlops_actions.engines.data_jobs import data_dataset

    return data_dataset(str(path))


@dataclass(frozen=True)
class CountingJob:
    """A "rows" job that counts the batches an engine hands it and their rows, to see the partitioning
    happen (its summaries are plain tuples, which a worker pickles without importing this module)."""

    info: Any
    reads: str = "rows"

    def summarise(self, chunk: Any) -> tuple[int, int]:
        return 1, chunk.rows

    def merge(self, first: tuple[int, int], second: tuple[int, int]) -> tuple[int, int]:
        return first[0] + second[0], first[1] + second[1]


@pytest.mark.parametrize(("name", "partitions"), [(e, p) for e, p in COMBINATIONS if p > 1])
def test_every_engine_reads_every_row_once_in_at_least_as_many_batches_as_partitions(
    name, partitions, truth, open_engine
):
    engine = open_engine(name, partitions)
    current = dataset(truth[1])
    batches, rows = engine.run(current, CountingJob(engine.table_info(current)))
    assert rows == ROWS
    assert batches >= partitions


@pytest.mark.parametrize(("name", "partitions"), COMBINATIONS)
def test_data_drift_flags_exactly_the_six_shifted_columns_with_the_single_pass_scores(
    name, partitions, truth, single_pass, open_engine
):
    from mlops_actions.domain.data.drift import drift_to_dict
    from mlops_actions.engines.data_jobs import drift_dataset

    engine = open_engine(name, partitions)
    found = drift_to_dict(drift_dataset(engine, dataset(truth[0]), dataset(truth[1])))
    flagged = {column["column"] for column in found["columns"] if column["drifted"]}
    assert flagged == set(DRIFTED)
    assert found["compared_columns"] == COLUMNS
    assert found["drifted"] is single_pass["drift"]["drifted"]
    assert_same_document(found, single_pass["drift"])


@pytest.mark.parametrize(("name", "partitions"), COMBINATIONS)
def test_data_profile_on_bins_from_the_first_rows_is_the_single_pass_profile(
    name, partitions, truth, single_pass, open_engine
):
    from mlops_actions.engines.data_jobs import profile_dataset

    found = profile_dataset(open_engine(name, partitions), dataset(truth[1]))
    assert_same_profile(found, single_pass["profile"])


def without_examples(validation: dict[str, Any]) -> dict[str, Any]:
    """A validation document without its violations' examples: they are the first ones the merge met, so
    their order may differ between partitionings (docs/scale.md); everything else may not."""
    violations = [
        {k: v for k, v in violation.items() if k != "examples"} for violation in validation["violations"]
    ]
    return {**validation, "violations": violations}


@pytest.mark.parametrize(("name", "partitions"), COMBINATIONS)
def test_data_validate_finds_the_single_pass_violations(name, partitions, truth, single_pass, open_engine):
    from mlops_actions.engines.data_jobs import validate_dataset

    found = validate_dataset(open_engine(name, partitions), dataset(truth[1]), single_pass["schema"])
    expected = single_pass["validation"]
    assert {v["kind"] for v in expected["violations"]} == {"out_of_range", "unseen_category"}
    assert_same_document(without_examples(found.to_dict()), without_examples(expected))


@pytest.fixture(scope="module")
def truth_logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The monitor's truth logs (tests/unit/monitoring/generate.py) in every log format, the release's
    profile and the monitor's answers reading them in order."""
    from mlops_actions.domain.config import load_config
    from mlops_actions.domain.data.profile import build_profile, save_profile
    from mlops_actions.monitoring.reference import reference_from_file
    from mlops_actions.monitoring.run import run_monitor
    from tests.unit.monitoring.generate import CONFIG, TRAIN, generate_rows, write_flat, write_jsonl

    folder = tmp_path_factory.mktemp("truth-logs")
    frame = generate_rows()
    save_profile(build_profile(TRAIN), folder / "data-profile.json")
    logs = {
        "jsonl": write_jsonl(frame, folder / "predictions.jsonl"),
        "csv": write_flat(frame, folder / "predictions.csv"),
        "parquet": write_flat(frame, folder / "predictions.parquet"),
    }
    config = load_config(CONFIG)
    reference = reference_from_file(folder / "data-profile.json")
    in_order = {
        fmt: run_monitor(config, str(path), reference, window="1h").to_dict() for fmt, path in logs.items()
    }
    return {"logs": logs, "config": config, "reference": reference, "in_order": in_order}


MONITOR_RUNS = [(engine, partitions, "parquet") for engine, partitions in COMBINATIONS] + [
    (engine, 7, fmt) for engine in ENGINES for fmt in ("jsonl", "csv")
]


@pytest.mark.parametrize(("name", "partitions", "fmt"), MONITOR_RUNS)
def test_the_monitor_on_an_engine_judges_every_window_as_the_monitor_reading_in_order(
    name, partitions, fmt, truth_logs, open_engine
):
    from mlops_actions.monitoring.run import run_monitor

    engine = open_engine(name, partitions)
    found = run_monitor(
        truth_logs["config"],
        str(truth_logs["logs"][fmt]),
        truth_logs["reference"],
        window="1h",
        engine=engine,
    ).to_dict()
    expected = truth_logs["in_order"][fmt]
    assert any(window["status"] != "ok" for window in expected["windows"]), "the truth logs hold bad windows"
    assert_same_document(found, expected)
