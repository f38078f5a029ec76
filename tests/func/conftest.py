"""Shared, expensive set-ups of the functional tests, built once per session and copied for each test."""

from __future__ import annotations

import csv
import signal
from pathlib import Path

import pytest

from tests.conftest import make_tiny_project

REQUEST_ROWS = 30
# What the autouse fixture of tests/conftest.py clears for each test, cleared here for the session's set-ups.
CI_VARIABLES = (
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "GITHUB_BASE_REF",
    "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
    "MLOPS_REGISTRY_PATH",
)


@pytest.fixture(scope="session")
def served_tiny_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny project released once (its registry holds 1.0.0), with the prediction log of the real server
    answering every row of its training data (inside the trained range) in ``log/``; never changed: tests
    work on a copy."""
    from mlops_actions.cli import main
    from tests.func.test_serve_cli import start, wait_listening
    from tests.unit.serving.conftest import Client

    project = make_tiny_project(tmp_path_factory.mktemp("served"))
    with pytest.MonkeyPatch.context() as patch:
        for name in CI_VARIABLES:
            patch.delenv(name, raising=False)
        config = project / "mlops.yaml"
        assert main(["release", "--config", str(config), "--output-dir", str(project / "mlops-out")]) == 0
    with open(project / "train.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    proc = start(project, "--ref", "production", "-o", "out", "--log-dir", "log")
    try:
        client = Client(wait_listening(proc))
        for begin in range(0, len(rows), REQUEST_ROWS):
            part = rows[begin : begin + REQUEST_ROWS]
            body = {
                "row_id": [int(r["row_id"]) for r in part],
                "x1": [float(r["x1"]) for r in part],
                "x2": [float(r["x2"]) for r in part],
                "group": [r["group"] for r in part],
            }
            assert client.request("POST", "/predict", body)[0] == 200
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    return project
