"""One real `mlflow server` (SQLite backend, artifacts served by the server) on 127.0.0.1 for the whole test
session, started by the first test that asks for it and stopped when the session ends (registered in
tests/conftest.py). Every test module using it names its own registered models, so they share it safely.

The server runs without MLflow's job execution (a job runner and its worker processes the registry never
uses): starting them costs more than the server itself on a busy machine, and they are slow to stop.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

STARTUP_SECONDS = 180
STOP_SECONDS = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mlflow_command() -> Path:
    """The mlflow CLI of this Python environment, else one on PATH; skips the test when there is none."""
    pytest.importorskip("mlflow", reason="mlflow is not installed (pip install 'mlops-actions[mlflow]')")
    local = Path(sys.executable).parent / "mlflow"
    if local.is_file():
        return local
    found = shutil.which("mlflow")
    if found is None:
        pytest.skip("the mlflow command is not installed")
    return Path(found)


@pytest.fixture(scope="session")
def mlflow_server_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The tracking (and registry) URI of the session's real mlflow server."""
    import requests

    mlflow_cli = mlflow_command()
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = open(root / "server.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [
            str(mlflow_cli),
            "server",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": "", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if server.poll() is not None:
                pytest.fail(f"mlflow server exited: {(root / 'server.log').read_text()[-2000:]}")
            try:
                if requests.get(f"{uri}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"mlflow server not up after {STARTUP_SECONDS}s: {(root / 'server.log').read_text()[-2000:]}"
                )
            time.sleep(0.2)
        yield uri
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
