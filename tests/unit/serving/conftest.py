"""A tiny trained model with a reviewed data schema, and a keep-alive HTTP client for the real server."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TINY_CONFIG, TINY_MODEL, init_repo, write_tiny_data


@pytest.fixture(scope="session")
def served_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(config path, model folder) of the tiny project, trained once, with data.schema inferred from its data."""
    from mlops_actions.domain.config import load_config
    from mlops_actions.domain.data.profile import build_profile
    from mlops_actions.domain.data.schema import dump_schema, infer_schema
    from mlops_actions.domain.training import train

    project = tmp_path_factory.mktemp("served") / "tiny"
    project.mkdir()
    (project / "tiny_model.py").write_text(TINY_MODEL)
    write_tiny_data(project)
    schema = infer_schema([build_profile(project / "train.csv")], target="label", id_column="row_id")
    (project / "schema.yaml").write_text(dump_schema(schema))
    (project / "mlops.yaml").write_text(
        TINY_CONFIG.replace("  id: row_id\n", "  id: row_id\n  schema: schema.yaml\n")
    )
    (project / ".gitignore").write_text("model/\n__pycache__/\n")
    init_repo(project)
    config = load_config(project / "mlops.yaml")
    train(config, project / "model")
    return project / "mlops.yaml", project / "model"


class Client:
    """One keep-alive connection to a server."""

    def __init__(self, url: str):
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.connection = http.client.HTTPConnection(host, int(port), timeout=10)

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        self.connection.request(
            method, path, body=data, headers={"content-type": "application/json", **(headers or {})}
        )
        response = self.connection.getresponse()
        raw = response.read()
        kind = response.getheader("content-type", "")
        return (
            response.status,
            dict(response.getheaders()),
            (json.loads(raw) if "json" in kind else raw.decode()),
        )

    def close(self) -> None:
        self.connection.close()


def metric_values(text: str) -> dict[str, float]:
    """``name{labels}`` -> value of a Prometheus text page."""
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            values[key] = float(value)
    return values
