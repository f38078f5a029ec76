"""The real server on 127.0.0.1: readiness, metadata, metrics, schema refusals, batching, the deadline path."""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import pytest

from mlops_actions.domain.config import load_config
from mlops_actions.errors import ModelError
from mlops_actions.serving.server import start_server
from mlops_actions.serving.source import load_served_model
from tests.unit.serving.conftest import Client, metric_values

ROW = {"x1": 0.3, "x2": -1.2, "group": "a"}


@pytest.fixture(scope="module")
def config(served_project):
    return load_config(served_project[0])


@pytest.fixture(scope="module")
def served(served_project, config):
    return load_served_model(config, model_dir=served_project[1])


@pytest.fixture
def server(served, config, tmp_path):
    handle = start_server(served, config.serve, log_dir=tmp_path / "log")
    yield handle
    handle.stop()


def metrics_of(url: str) -> dict[str, float]:
    client = Client(url)
    try:
        status, _, text = client.request("GET", "/metrics")
    finally:
        client.close()
    assert status == 200
    return metric_values(text)


def test_health_ready_and_metadata_describe_the_verified_model(server, served):
    client = Client(server.url)
    assert client.request("GET", "/health")[0] == 200
    status, _, ready = client.request("GET", "/ready")
    assert status == 200 and ready["ready"] is True and ready["digest"] == served.digest
    status, _, metadata = client.request("GET", "/metadata")
    assert status == 200
    assert metadata["model"] == "tiny" and metadata["digest"] == served.digest
    assert metadata["features"] == ["x1", "x2", "group"]
    assert metadata["schema"]["columns"]["group"]["categories"] == ["a", "b", "c"]
    assert metadata["schema_source"].startswith("data.schema")
    assert metadata["trained"]["commit"]


def test_a_prediction_carries_classes_probabilities_version_and_request_id(server, served):
    client = Client(server.url)
    status, headers, answer = client.request(
        "POST", "/predict", [ROW, {**ROW, "x1": 3.0}], {"x-request-id": "abc-1"}
    )
    assert status == 200
    assert answer["request_id"] == "abc-1" and headers["x-request-id"] == "abc-1"
    assert answer["version"] == served.label and answer["classes"] == [0, 1]
    expected = served.estimator.predict_proba(
        served._frame({k: [v, 3.0 if k == "x1" else v] for k, v in ROW.items()})
    )
    assert [p for row in answer["probabilities"] for p in row] == pytest.approx(expected.ravel().tolist())
    assert answer["predictions"] == [int(p[1] > p[0]) for p in expected]


def test_a_row_against_the_schema_is_refused_with_422_naming_field_and_row(server):
    client = Client(server.url)
    status, _, answer = client.request(
        "POST", "/predict", {"x1": [0.1, 0.2], "x2": [0.0, 0.0], "group": ["a", "zz"]}
    )
    assert status == 422
    assert {"row": 1, "field": "group"}.items() <= answer["problems"][0].items()
    assert "row 1, field 'group'" in answer["error"] and answer["request_id"]
    status, _, answer = client.request("POST", "/predict", {"x1": 0.1, "group": "a"})
    assert status == 422 and answer["problems"][0]["field"] == "x2"


def test_metrics_count_requests_by_status_and_name_the_model_version(server, served):
    client = Client(server.url)
    client.request("POST", "/predict", ROW)
    client.request("POST", "/predict", {"nope": 1})
    values = metrics_of(server.url)
    assert values['mlops_serve_requests_total{endpoint="/predict",status="200"}'] == 1
    assert values['mlops_serve_requests_total{endpoint="/predict",status="422"}'] == 1
    info = f'mlops_serve_model_info{{model="tiny",version="{served.label}",digest="{served.digest}"}}'
    assert values[info] == 1
    assert values["mlops_serve_request_duration_seconds_count"] == 2
    assert values["mlops_serve_batch_size_rows_count"] == 1
    assert values['mlops_serve_prediction_log_rows_total{outcome="dropped"}'] == 0


@pytest.fixture
def patient_server(served, config, tmp_path):
    """The server with a latency budget no scheduling stall of a shared test machine reaches: the clients
    below are threads of this process, contending with the server for the interpreter lock."""
    handle = start_server(
        served, dataclasses.replace(config.serve, max_latency_ms=30_000.0), log_dir=tmp_path / "log"
    )
    yield handle
    handle.stop()


def test_concurrent_requests_are_merged_into_batches(patient_server):
    server = patient_server
    clients, per_client = 12, 8
    statuses = []

    def load():
        client = Client(server.url)
        for _ in range(per_client):
            statuses.append(client.request("POST", "/predict", ROW)[0])
        client.close()

    threads = [threading.Thread(target=load) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    values = metrics_of(server.url)
    batches = values["mlops_serve_batch_size_rows_count"]
    assert statuses.count(200) == clients * per_client
    assert values["mlops_serve_batch_size_rows_sum"] == clients * per_client
    assert batches < clients * per_client * 0.75  # rows per predict call > 1
    assert values['mlops_serve_batch_size_rows_bucket{le="1"}'] < batches


def test_one_connection_gets_batches_of_one_and_waits_for_nothing_but_the_model(server):
    client = Client(server.url)
    metrics = server.state.metrics
    beyond_the_call = []
    for _ in range(30):
        request_before, batch_before = metrics.latency.total, metrics.batch_seconds.total
        assert client.request("POST", "/predict", ROW)[0] == 200
        request = metrics.latency.total - request_before
        beyond_the_call.append(request - (metrics.batch_seconds.total - batch_before))
    values = metrics_of(server.url)
    assert values["mlops_serve_batch_size_rows_count"] == 30
    assert values['mlops_serve_batch_size_rows_bucket{le="1"}'] == 30
    assert sorted(beyond_the_call)[15] < 0.002  # the rest is parsing and checking, no waiting


class SlowEstimator:
    """Answers 50/50 after 60 ms, whatever the rows."""

    classes_ = (0, 1)

    def predict_proba(self, frame):
        import numpy as np

        time.sleep(0.06)
        return np.full((len(frame), 2), 0.5)


def test_a_request_that_would_miss_its_deadline_gets_503_with_retry_after(served, config, tmp_path):
    slow = dataclasses.replace(served, estimator=SlowEstimator())
    settings = dataclasses.replace(config.serve, max_batch_size=1, max_latency_ms=150.0)
    statuses, retry = [], []
    with start_server(slow, settings, log_dir=tmp_path) as handle:

        def call():
            client = Client(handle.url)
            status, headers, answer = client.request("POST", "/predict", ROW)
            statuses.append(status)
            if status == 503:
                retry.append(headers.get("retry-after"))
                assert "serve.max_latency_ms" in answer["error"]

        threads = [threading.Thread(target=call) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        values = metrics_of(handle.url)
    assert statuses.count(503) >= 4 and statuses.count(200) >= 1
    assert all(value is not None and int(value) >= 1 for value in retry)
    assert values["mlops_serve_overloaded_total"] == statuses.count(503)


def test_predictions_reach_the_log_off_the_request_path(served, config, tmp_path):
    with start_server(served, config.serve, log_dir=tmp_path / "log") as handle:
        client = Client(handle.url)
        _, _, answer = client.request("POST", "/predict", [ROW, ROW], {"x-request-id": "logged"})
    lines = [
        json.loads(line)
        for path in (tmp_path / "log").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert [(line["request_id"], line["row"]) for line in lines] == [("logged", 0), ("logged", 1)]
    assert lines[0]["inputs"] == ROW and lines[0]["prediction"] == answer["predictions"][0]


def test_a_model_folder_whose_digest_differs_is_refused_before_serving(served_project, config, tmp_path):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(served_project[1], folder)
    metadata = json.loads((folder / "metadata.json").read_text())
    metadata["model_digest"] = "sha256:" + "0" * 64
    (folder / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelError, match="sha256 digest mismatch"):
        load_served_model(config, model_dir=folder)


def test_a_full_disk_under_the_log_drops_records_counted_in_metrics_and_requests_still_succeed(
    served, config, tmp_path
):
    from pathlib import Path

    from mlops_actions.serving.prediction_log import PredictionLog
    from mlops_actions.serving.server import build_state

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    state = build_state(served, dataclasses.replace(config.serve, log_enabled=False))
    state.log = PredictionLog(
        tmp_path,
        max_bytes=10**6,
        max_seconds=3600,
        max_records=100,
        opener=lambda path: open("/dev/full", "w"),  # noqa: SIM115
    )
    with start_server(served, config.serve, state=state) as handle:
        client = Client(handle.url)
        statuses = [client.request("POST", "/predict", [ROW, ROW, ROW])[0] for _ in range(5)]
        deadline = time.monotonic() + 5
        while state.log.dropped < 15 and time.monotonic() < deadline:
            time.sleep(0.01)
        values = metrics_of(handle.url)
    assert statuses == [200] * 5
    assert values['mlops_serve_prediction_log_rows_total{outcome="dropped"}'] == 15
    assert values['mlops_serve_prediction_log_rows_total{outcome="written"}'] == 0


def test_predictions_reach_a_parquet_log_when_the_config_asks_for_it(served, config, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    settings = dataclasses.replace(config.serve, log_format="parquet")
    with start_server(served, settings, log_dir=tmp_path / "log") as handle:
        client = Client(handle.url)
        _, _, answer = client.request("POST", "/predict", [ROW, ROW], {"x-request-id": "logged"})
    rows = [row for path in (tmp_path / "log").glob("*.parquet") for row in pq.read_table(path).to_pylist()]
    assert [(row["request_id"], row["row"]) for row in rows] == [("logged", 0), ("logged", 1)]
    assert rows[0]["inputs"] == ROW and rows[0]["prediction"] == answer["predictions"][0]


def test_an_overloaded_server_refuses_before_reading_the_body(served, config, tmp_path):
    slow = dataclasses.replace(served, estimator=SlowEstimator())
    settings = dataclasses.replace(config.serve, max_batch_size=1, max_latency_ms=150.0)
    with start_server(slow, settings, log_dir=tmp_path) as handle:
        handle.state.batcher._busy_until = time.perf_counter() + 10  # a call that will take 10 s more
        client = Client(handle.url)
        status, headers, answer = client.request("POST", "/predict", {"not": "a valid row"})
        handle.state.batcher._busy_until = 0.0
        after = client.request("POST", "/predict", ROW)[0]  # the same keep-alive connection
    assert status == 503 and "serve.max_latency_ms" in answer["error"]  # not 422: the body was never checked
    assert int(headers["retry-after"]) >= 1
    assert after == 200


def test_a_foreground_worker_freezes_its_warm_heap_out_of_the_collector(served, config):
    import gc

    from mlops_actions.serving.server import _warmed_state

    before = gc.get_freeze_count()
    try:
        _warmed_state(served, dataclasses.replace(config.serve, log_enabled=False), log_dir=None)
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
