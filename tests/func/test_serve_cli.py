"""`mlops-actions serve` as a real process: a released version served by tag, and refusals before serving."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_actions.cli import main
from tests.conftest import REPO_ROOT
from tests.unit.serving.conftest import Client, metric_values

ROW = {"x1": 0.3, "x2": -1.2, "group": "a"}
LISTENING = re.compile(r"on http://127\.0\.0\.1:(\d+) ")


@pytest.fixture
def released(tiny_project: Path) -> Path:
    config = tiny_project / "mlops.yaml"
    assert main(["release", "--config", str(config), "--output-dir", str(tiny_project / "mlops-out")]) == 0
    return tiny_project


def start(project: Path, *args: str) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "mlops_actions",
        "serve",
        "-c",
        str(project / "mlops.yaml"),
        "--port",
        "0",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [*command, *args], cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_listening(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    line = proc.stderr.readline()
    found = LISTENING.search(line)
    assert found, line + proc.stderr.read()
    url = f"http://127.0.0.1:{found.group(1)}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if Client(url).request("GET", "/ready")[0] == 200:
                return url
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("the server never became ready")


def test_a_released_version_is_served_by_tag_logged_and_stopped_cleanly(released):
    proc = start(released, "--version-tag", "tiny@v1.0.0", "-o", "out", "--log-dir", "log")
    try:
        url = wait_listening(proc)
        client = Client(url)
        status, _, answer = client.request(
            "POST", "/predict", {"x1": [0.3, 2.0], "x2": [0.0, 0.0], "group": ["a", "b"]}
        )
        assert status == 200 and answer["version"] == "1.0.0" and len(answer["predictions"]) == 2
        status, _, refused = client.request("POST", "/predict", {**ROW, "group": "zz"})
        assert status == 422 and refused["problems"][0]["field"] == "group"
        _, _, metadata = client.request("GET", "/metadata")
        manifest = json.loads(
            (released / ".registry" / "tiny" / "versions" / "1.0.0" / "manifest.json").read_text()
        )
        assert metadata["digest"] == manifest["digest"] and metadata["tag"] == "tiny@v1.0.0"
        assert "roc_auc" in metadata["metrics"]
        assert "training-data profile" in metadata["schema_source"]
        _, _, text = client.request("GET", "/metrics")
        assert metric_values(text)['mlops_serve_requests_total{endpoint="/predict",status="422"}'] == 1
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    lines = [
        json.loads(line)
        for path in (released / "log").glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert [(line["version"], line["row"]) for line in lines] == [("1.0.0", 0), ("1.0.0", 1)]


def test_production_is_served_when_no_version_is_named(released):
    proc = start(released, "--ref", "production", "-o", "out", "--no-log")
    try:
        url = wait_listening(proc)
        assert Client(url).request("POST", "/predict", ROW)[2]["version"] == "1.0.0"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    assert not (released / ".mlops" / "predictions").exists()


def tamper(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", ["registry", "folder"])
def test_a_model_whose_digest_differs_is_refused_before_anything_listens(released, where):
    if where == "registry":
        tamper(released / ".registry" / "tiny" / "versions" / "1.0.0" / "model.skops")
        args = ["--version-tag", "tiny@v1.0.0", "-o", "out"]
    else:
        folder = released / "mlops-out" / "model"
        assert (folder / "model.skops").is_file()
        tamper(folder / "model.skops")
        args = ["--model-dir", str(folder)]
    proc = start(released, *args)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.startswith("mlops-actions: error: ") and "sha256 digest mismatch" in err
    assert len(err.strip().splitlines()) == 1 and "serving" not in err


def test_bad_options_are_one_line_usage_errors(released):
    proc = start(released, "--version-tag", "other@v1.0.0")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "serves 'tiny'" in err


def test_two_workers_share_the_port_and_stop_together(released):
    proc = start(released, "--ref", "production", "-o", "out", "--workers", "2", "--log-dir", "log")
    try:
        url = wait_listening(proc)
        clients = [Client(url) for _ in range(4)]
        assert all(client.request("POST", "/predict", ROW)[0] == 200 for client in clients)
        _, _, text = clients[0].request("GET", "/metrics")
        assert re.search(r'mlops_serve_model_info\{worker="[01]",model="tiny"', text)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    logged = sum(len(path.read_text().splitlines()) for path in (released / "log").glob("*.jsonl"))
    assert logged == 4


def test_a_released_version_is_guarded_by_its_profile_and_a_folder_without_one_says_so_once(released):
    profile = json.loads(
        (released / ".registry" / "tiny" / "versions" / "1.0.0" / "data-profile.json").read_text()
    )
    proc = start(released, "--version-tag", "tiny@v1.0.0", "-o", "out", "--no-log")
    try:
        url = wait_listening(proc)
        client = Client(url)
        schema = client.request("GET", "/metadata")[2]["schema"]["columns"]
        beyond = (profile["columns"]["x1"]["max"] + schema["x1"]["max"]) / 2
        assert client.request("POST", "/predict", [ROW, {**ROW, "x1": beyond}])[0] == 200
        values = metric_values(client.request("GET", "/metrics")[2])
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    err = proc.stderr.read()  # what follows the first line (read by wait_listening, so not communicate)
    labels = 'model="tiny",version="1.0.0"'
    assert values[f"mlops_serve_input_guards_enabled{{{labels}}}"] == 1
    assert values[f'mlops_serve_input_out_of_range_total{{{labels},column="x1"}}'] == 1
    assert values[f'mlops_serve_input_out_of_range_total{{{labels},column="x2"}}'] == 0
    assert values[f"mlops_serve_input_rows_total{{{labels}}}"] == 2
    assert "live guards: 2 numeric range(s) and 1 category set(s)" in err

    folder = released / "mlops-out" / "model"
    proc = start(released, "--model-dir", str(folder), "--workers", "2", "--no-log")
    try:
        url = wait_listening(proc)
        text = Client(url).request("GET", "/metrics")[2]
        assert "# mlops_serve_input guards off: the model folder has no data-profile.json" in text
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    err = proc.stderr.read()
    assert err.count("input guards off") == 1, err
