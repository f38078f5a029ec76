"""The MLflow Tracking store keeps the store's contract against a real `mlflow server` on 127.0.0.1 (the
session's, tests/mlflow_server.py), and what is particular to MLflow: runs, tags and metrics, the record as an artifact, lost answers
re-checked, bounded calls. Skipped when mlflow is not installed."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow", reason="mlflow is not installed (pip install 'mlops-actions[mlflow]')")

from mlops_actions.domain.config import parse_config
from mlops_actions.errors import StoreError
from mlops_actions.metadata import open_store
from mlops_actions.metadata.base import MetadataStore
from mlops_actions.metadata.mlflow import (
    MAX_RECORD_TAG_CHARS,
    RECORD_ARTIFACT,
    TAG,
    MlflowStore,
    experiment_name,
)
from mlops_actions.metadata.records import record_line
from tests import mlflow_server
from tests.metadata_contract import StoreContract, sample_record
from tests.standins.fault_proxy import FaultProxy, Rule


@pytest.fixture
def tracking_uri(mlflow_server_uri: str) -> str:
    """The session's real mlflow server (tests/mlflow_server.py); each test's store has a namespace of its own."""
    return mlflow_server_uri


@pytest.fixture(autouse=True)
def _mlflows_own_retries_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)


def fresh_store(uri: str) -> MlflowStore:
    """A store of its own on the shared server: experiments under a namespace no other test uses."""
    return MlflowStore(tracking_uri=uri, namespace=f"test-{uuid.uuid4().hex[:12]}")


def experiment_id(store: MlflowStore, model: str = "churn") -> str:
    found = store.client.get_experiment_by_name(experiment_name(model, store.namespace))
    assert found is not None
    return str(found.experiment_id)


def runs_of(store: MlflowStore, model: str = "churn") -> list[Any]:
    return list(store.client.search_runs([experiment_id(store, model)]))


def plant_run(store: MlflowStore, tags: dict[str, str], *, finished: bool = True) -> str:
    """A run in the churn experiment carrying ``tags``, as another writer (or a damaged one) left it."""
    store._experiment_id("churn", create=True)
    run = store.client.create_run(experiment_id(store), tags=tags, run_name="planted")
    if finished:
        store.client.set_terminated(run.info.run_id, "FINISHED")
    return str(run.info.run_id)


def plant_unreadable_run(store: MetadataStore) -> None:
    """A finished run whose record tag was cut mid-value."""
    assert isinstance(store, MlflowStore)
    plant_run(store, {TAG["record_id"]: "f" * 32, TAG["record"]: '{"id": "ffff'})


class TestMlflowStore(StoreContract):
    records_per_writer = 5  # 4 threads x 5 records: every request goes to one real server

    @pytest.fixture
    def store(self, tracking_uri: str) -> Iterator[MetadataStore]:
        store = fresh_store(tracking_uri)
        yield store
        store.close()

    @pytest.fixture
    def open_again(self, store: MlflowStore) -> Callable[[], MetadataStore]:
        return lambda: MlflowStore(tracking_uri=store.tracking_uri, namespace=store.namespace)  # threads only

    @pytest.fixture
    def corrupt(self) -> Callable[[MetadataStore], None]:
        return plant_unreadable_run


def test_a_record_is_a_finished_run_of_its_models_experiment_with_its_tags_name_times_and_metrics(
    tracking_uri,
):
    store = fresh_store(tracking_uri)
    record = sample_record()
    store.append(record)
    [run] = runs_of(store)
    tags = run.data.tags
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "check #7"
    assert {key: tags.get(key) for key in TAG.values()} == {
        "mlops.record_id": record.id,
        "mlops.stage": "check",
        "mlops.model": "churn",
        "mlops.verdict": "pass",
        "mlops.pr": "7",
        "mlops.version": None,
        "mlops.commit": record.commit,
        "mlops.record": record_line(record).rstrip("\n"),
    }
    assert run.data.metrics == {
        "accuracy": 0.91,
        "accuracy.low": 0.88,
        "accuracy.high": 0.93,
        "accuracy.delta": 0.01,
        "f1": 0.8,
    }
    started = 1_796_205_600_000  # 2026-12-02T10:00:00Z
    assert (run.info.start_time, run.info.end_time) == (started, started + 12_500)


def test_a_release_run_is_named_after_its_version_and_tagged_with_it(tracking_uri):
    store = fresh_store(tracking_uri)
    store.append(sample_record(stage="release", verdict="released", version="1.2.0", pr=None))
    [run] = runs_of(store)
    assert run.info.run_name == "release 1.2.0"
    assert run.data.tags["mlops.version"] == "1.2.0"
    assert "mlops.pr" not in run.data.tags


def test_a_record_past_mlflows_tag_limit_is_kept_as_an_artifact_and_lists_back_the_same(tracking_uri):
    store = fresh_store(tracking_uri)
    record = sample_record(details={"log": "x" * (MAX_RECORD_TAG_CHARS + 100)})
    store.append(record)
    [run] = runs_of(store)
    assert TAG["record"] not in run.data.tags
    assert [f.path for f in store.client.list_artifacts(run.info.run_id)] == [RECORD_ARTIFACT]
    assert store.list_records().records == [record]
    store.append(record)  # found by its id, not written twice
    assert len(runs_of(store)) == 1


@pytest.mark.parametrize(
    ("tags", "said"),
    [
        ({TAG["record"]: json.dumps({"id": "e" * 32})}, "field 'started_at' is missing"),
        ({TAG["record"]: record_line(sample_record(id="d" * 32)).strip()}, "is not the run's"),
        ({}, f"no artifact {RECORD_ARTIFACT}"),
    ],
    ids=["invalid-record", "another-records-id", "no-record-at-all"],
)
def test_a_run_whose_record_cannot_be_read_is_skipped_with_a_warning_naming_the_run(tracking_uri, tags, said):
    store = fresh_store(tracking_uri)
    good = sample_record()
    store.append(good)
    run_id = plant_run(store, {TAG["record_id"]: "e" * 32, **tags})
    listing = store.list_records()
    assert listing.records == [good]
    [warning] = listing.warnings
    assert run_id in warning and "skipped" in warning and said in warning


def test_runs_that_are_not_records_are_left_out_silently(tracking_uri):
    store = fresh_store(tracking_uri)
    good = sample_record()
    store.append(good)
    plant_run(store, {"team": "someone's own run"})
    assert store.list_records() == store.list_records("churn")
    assert store.list_records().records == [good]
    assert store.list_records().warnings == []


def test_a_write_interrupted_after_its_run_was_created_is_finished_not_repeated(tracking_uri):
    store = fresh_store(tracking_uri)
    record = sample_record()
    line = record_line(record).rstrip("\n")
    plant_run(store, {TAG["record_id"]: record.id, TAG["record"]: line}, finished=False)
    assert store.list_records().records == []  # a run still RUNNING is no record yet
    store.append(record)
    [run] = runs_of(store)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["accuracy"] == 0.91
    assert store.list_records().records == [record]


@pytest.mark.parametrize("lost", ["/runs/create", "/runs/update"])
def test_a_write_whose_answer_was_lost_is_checked_not_repeated(tracking_uri, lost):
    store = fresh_store(tracking_uri)
    record = sample_record()
    with FaultProxy(tracking_uri) as proxy:
        rule = proxy.add(Rule("error-after", method="POST", path=rf"{lost}$", status=502))
        through = MlflowStore(tracking_uri=proxy.url, namespace=store.namespace)
        through.append(record)
        assert len(proxy.applied(rule.action)) == 1
        sent = [p for p in proxy.log if p.path.endswith(lost)]
    assert len(sent) == 1  # searched again, found, not sent again
    assert len(runs_of(store)) == 1
    assert store.list_records().records == [record]


def test_an_unreachable_server_is_a_store_error_naming_it_within_seconds():
    uri = f"http://127.0.0.1:{mlflow_server.free_port()}"
    store = MlflowStore(tracking_uri=uri)
    started = time.monotonic()
    with pytest.raises(StoreError, match=rf"mlflow store {uri}: recording the check run"):
        store.append(sample_record())
    with pytest.raises(StoreError, match=rf"mlflow store {uri}: listing the records"):
        store.list_records()
    assert time.monotonic() - started < 15  # MLflow alone would retry for minutes
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ  # the bounds are the store's calls' only


def test_the_environments_own_mlflow_bounds_are_kept(monkeypatch):
    from mlops_actions.metadata.mlflow import bounded_requests

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    with bounded_requests(), bounded_requests():
        assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "5"
        assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "5"
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ


def test_credentials_in_the_tracking_uri_stay_out_of_the_stores_name():
    store = MlflowStore(tracking_uri="https://user:s3cret@mlflow.example.invalid/")
    assert store.name == "mlflow store https://mlflow.example.invalid/"
    assert "s3cret" not in repr(store)


def config_of(tmp_path: Path, **registry: Any):  # type: ignore[no-untyped-def]
    doc = {
        "version": 1,
        "model": {"name": "churn", "task": "binary"},
        "train": {"entrypoint": "pkg.mod:fit"},
        "data": {"train": "train.csv", "target": "y"},
        "registry": {"backend": "mlflow", **registry},
    }
    return parse_config(doc, tmp_path / "mlops.yaml")


def test_the_mlflow_registry_records_its_runs_in_the_same_tracking_server(tmp_path, tracking_uri):
    from_config = open_store(config_of(tmp_path, tracking_uri=tracking_uri), {})
    assert isinstance(from_config, MlflowStore) and from_config.tracking_uri == tracking_uri
    from_env = open_store(config_of(tmp_path), {"MLFLOW_TRACKING_URI": tracking_uri})
    assert isinstance(from_env, MlflowStore) and from_env.tracking_uri == tracking_uri
    with pytest.raises(StoreError, match=r"registry\.tracking_uri in the config or MLFLOW_TRACKING_URI"):
        open_store(config_of(tmp_path), {})


def test_a_stages_record_reaches_the_tracking_server_and_an_unreachable_one_is_a_warning(
    tmp_path, tracking_uri
):
    from mlops_actions.metadata import record_run

    record = sample_record(model=f"churn-{uuid.uuid4().hex[:8]}")
    assert record_run(config_of(tmp_path, tracking_uri=tracking_uri), record, env={}) is None
    store = open_store(config_of(tmp_path, tracking_uri=tracking_uri), {})
    assert store is not None and store.list_records(record.model).records == [record]
    unreachable = f"http://127.0.0.1:{mlflow_server.free_port()}"
    warning = record_run(config_of(tmp_path, tracking_uri=unreachable), record, env={})
    assert warning is not None
    assert warning.startswith(f"warning: this check run was not recorded in mlflow store {unreachable}")
