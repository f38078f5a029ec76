"""`mlops-actions loadtest` against the real model server on 127.0.0.1, with bounded loads (a few users,
at most 5 s each): a passing run, a slow server failing p99, a refusing server aborted on its error rate,
an unreachable URL, the JSON output, and a fast ``--help`` that never imports Locust."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_actions.cli import main
from mlops_actions.domain.loadtest import LoadTestResult
from tests.conftest import REPO_ROOT, TINY_CONFIG, TINY_MODEL, init_repo, write_tiny_data

LOAD = "loadtest:\n  users: 2\n  duration_s: 5\n  request_timeout_s: 2\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny project, trained once, with its reviewed data schema and a generous latency budget."""
    from mlops_actions.domain.config import load_config
    from mlops_actions.domain.data.profile import build_profile
    from mlops_actions.domain.data.schema import dump_schema, infer_schema
    from mlops_actions.domain.training import train

    folder = tmp_path_factory.mktemp("loadtest") / "tiny"
    folder.mkdir()
    (folder / "tiny_model.py").write_text(TINY_MODEL)
    write_tiny_data(folder)
    schema = infer_schema([build_profile(folder / "train.csv")], target="label", id_column="row_id")
    (folder / "schema.yaml").write_text(dump_schema(schema))
    (folder / "mlops.yaml").write_text(
        TINY_CONFIG.replace("  id: row_id\n", "  id: row_id\n  schema: schema.yaml\n")
        + "serve:\n  max_latency_ms: 3000\n"
    )
    (folder / ".gitignore").write_text("model/\nmlops-out/\n__pycache__/\n")
    init_repo(folder)
    train(load_config(folder / "mlops.yaml"), folder / "model")
    return folder


def config_with(project: Path, name: str, extra: str, *, eval_file: str = "eval.csv") -> Path:
    """A config beside the project's own, with ``extra`` appended and another eval file if given."""
    text = (project / "mlops.yaml").read_text().replace("  eval: eval.csv\n", f"  eval: {eval_file}\n")
    path = project / name
    path.write_text(text + extra)
    return path


class SlowEstimator:
    """Answers 50/50 after 30 ms, whatever the rows."""

    classes_ = (0, 1)

    def predict_proba(self, frame: Any) -> Any:
        import numpy as np

        time.sleep(0.03)
        return np.full((len(frame), 2), 0.5)


@pytest.fixture(scope="module")
def served(project: Path) -> Any:
    from mlops_actions.domain.config import load_config
    from mlops_actions.serving.source import load_served_model

    return load_served_model(load_config(project / "mlops.yaml"), model_dir=project / "model")


@pytest.fixture
def server(project: Path, served: Any) -> Iterator[str]:
    from mlops_actions.domain.config import load_config
    from mlops_actions.serving.server import start_server

    with start_server(served, load_config(project / "mlops.yaml").serve) as handle:
        yield handle.url


@pytest.fixture
def slow_server(project: Path, served: Any) -> Iterator[str]:
    from mlops_actions.domain.config import load_config
    from mlops_actions.serving.server import start_server

    slow = dataclasses.replace(served, estimator=SlowEstimator())
    with start_server(slow, load_config(project / "mlops.yaml").serve) as handle:
        yield handle.url


def loadtest(config: Path, url: str, out: Path, *args: str) -> int:
    return main(["loadtest", "--url", url, "-c", str(config), "--out", str(out), "--quiet", *args])


def test_a_run_within_the_thresholds_passes_and_writes_its_reports_and_the_job_summary(
    project, server, tmp_path, monkeypatch, capsys
):
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    config = config_with(project, "pass.yaml", LOAD + "  mix: [{rows: 1, weight: 3}, {rows: 20}]\n")
    started = time.monotonic()
    code = loadtest(config, server, tmp_path / "out", "--duration", "2", "--platform", "github")
    took = time.monotonic() - started
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert printed.startswith(f"**Load test passed** on `{server}`: ")
    result = LoadTestResult.from_dict(json.loads((tmp_path / "out" / "loadtest.json").read_text()))
    assert result.passed and result.requests > 20 and result.errors == 0 and result.users == 2
    assert 1.5 < result.duration_s < 3 and took < 15
    assert result.thresholds == {"p99_ms": 3000.0, "error_rate": 0.01}  # p99: serve.max_latency_ms
    assert (tmp_path / "out" / "loadtest.md").read_text() == printed
    assert summary.read_text() == printed
    assert "loadtest-passed<<" in outputs.read_text() and "\ntrue\n" in outputs.read_text()


def test_a_slow_server_fails_the_p99_threshold_with_exit_1(project, slow_server, tmp_path, capsys):
    config = config_with(project, "slow.yaml", LOAD + "  thresholds: {p99_ms: 5}\n")
    code = loadtest(config, slow_server, tmp_path / "out", "--duration", "2", "--platform", "local")
    printed = capsys.readouterr().out
    assert code == 1, printed
    result = json.loads((tmp_path / "out" / "loadtest.json").read_text())
    assert not result["passed"] and not result["aborted"] and result["errors"] == 0
    [failure] = result["failures"]
    assert failure.endswith("ms > 5 ms (loadtest.thresholds.p99_ms)") and result["p99_ms"] >= 30
    assert printed.startswith("**Load test failed** on ") and failure in printed.splitlines()[0]


def test_a_server_refusing_every_request_is_aborted_on_its_error_rate(project, server, tmp_path, capsys):
    import pandas as pd

    frame = pd.read_csv(project / "eval.csv")
    frame["group"] = "zz"  # a category the schema does not list: every request is refused with 422
    frame.to_csv(project / "refused_eval.csv", index=False)
    config = config_with(project, "refused.yaml", LOAD, eval_file="refused_eval.csv")
    code = loadtest(config, server, tmp_path / "out", "--json", "--platform", "local")
    result = json.loads(capsys.readouterr().out)
    assert code == 1
    assert result["aborted"] and not result["passed"]
    assert result["requests"] >= 200 and result["errors_by_kind"] == {"422": result["requests"]}
    assert result["duration_s"] < 4  # stopped early, not at loadtest.duration_s (5 s)
    assert "error rate 100% > 1% (loadtest.thresholds.error_rate)" in result["failures"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("url", ["http://127.0.0.1:{port}", "ftp://127.0.0.1:{port}"])
def test_an_unreachable_or_non_http_url_is_one_line_and_exit_2(project, tmp_path, capsys, url):
    code = loadtest(
        project / "mlops.yaml", url.format(port=free_port()), tmp_path / "out", "--platform", "local"
    )
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert code == 2 and captured.out == ""
    assert line.startswith("mlops-actions: error: ") and ("unreachable" in line or "--url" in line)
    assert not (tmp_path / "out").exists()


def test_the_json_output_is_the_result_and_the_url(project, server, tmp_path, capsys):
    config = config_with(project, "json.yaml", LOAD + "  max_requests: 40\n")
    code = loadtest(config, server, tmp_path / "out", "--json", "--users", "3", "--platform", "local")
    printed = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(printed) == {
        "url", "passed", "aborted", "failures", "requests", "errors", "error_rate", "rps", "p50_ms",
        "p95_ms", "p99_ms", "max_ms", "duration_s", "users", "errors_by_kind", "thresholds",
    }  # fmt: skip
    assert printed["url"] == server and printed["users"] == 3 and printed["requests"] == 40
    assert printed == json.loads((tmp_path / "out" / "loadtest.json").read_text())
    assert printed["p50_ms"] <= printed["p95_ms"] <= printed["p99_ms"] <= printed["max_ms"]


def test_help_is_fast_and_imports_no_locust():
    probe = (
        "import sys, time\n"
        "started = time.perf_counter()\n"
        "from mlops_actions.cli import build_parser\n"
        "parser = build_parser()\n"
        "parser.format_help()\n"
        "try:\n"
        "    parser.parse_args(['loadtest', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "took = time.perf_counter() - started\n"
        "heavy = sorted(m for m in ('locust', 'gevent', 'geventhttpclient') if m in sys.modules)\n"
        "print(heavy, took, file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    finished = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    heavy, took = finished.stderr.strip().rsplit(" ", 1)
    assert heavy == "[]"
    assert "loadtest.thresholds" in finished.stdout and float(took) < 1.0
