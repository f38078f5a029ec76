"""`mlops-actions deploy` end to end on example_project: the built-in server and a deploy.command target started
for real on 127.0.0.1, smoke-tested against the answers recorded at release, load-tested for a few seconds,
then promoted, or rolled back to the previous version (which is checked to be serving again)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mlops_actions.cli import main
from tests.conftest import EXAMPLE_PROJECT, REPO_ROOT, init_repo, run_git
from tests.unit.serving.conftest import Client

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("locust") is None or importlib.util.find_spec("uvicorn") is None,
    reason="needs the serve and loadtest extras",
)  # found, never imported here: Locust patches the process it is imported in

VARIANTS = '''"""Versions of the loan features that serve badly: too slowly, or with answers that depend on the batch."""
import time

from credit_model.features import RATIO_FEATURES, LoanFeatures
from credit_model.train import build_pipeline


class SlowFeatures(LoanFeatures):
    """Right answers, half a second late."""

    def transform(self, X):
        time.sleep(0.5)
        return super().transform(X)


class BatchFeatures(LoanFeatures):
    """Wrong answers: income relative to the mean of the rows given, so a row alone is scored differently."""

    def transform(self, X):
        out = super().transform(X)
        out["income"] = out["income"] / out["income"].mean()
        return out


def _with(features, X, y, params):
    pipeline = build_pipeline(params)
    pipeline.steps[0] = ("features", features(ratios=RATIO_FEATURES))
    return pipeline.fit(X, y)


def train_slow(X, y, params):
    return _with(SlowFeatures, X, y, params)


def train_batch(X, y, params):
    return _with(BatchFeatures, X, y, params)
'''

GOOD, SLOW, BROKEN = "1.0.0", "2.0.0", "3.0.0"
LOAD = {
    "users": 4,
    "spawn_rate": 4,
    "duration_s": 2,
    "thresholds": {"p99_ms": 400, "error_rate": 0.05},
}


def _edit_config(project: Path, **changes: object) -> None:
    path = project / "mlops.yaml"
    config = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def _release(project: Path, entrypoint: str, bump: str) -> None:
    config = yaml.safe_load((project / "mlops.yaml").read_text())
    config["train"]["entrypoint"] = entrypoint
    _edit_config(project, train=config["train"])
    run_git(project, "commit", "-q", "--allow-empty", "-am", f"train with {entrypoint}")
    args = [
        "release",
        "-c",
        str(project / "mlops.yaml"),
        "-o",
        str(project / "mlops-out"),
        "--bump",
        bump,
        "-q",
    ]
    assert main(args) == 0


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """example_project with three released versions: 1.0.0 good, 2.0.0 slow, 3.0.0 answering wrongly."""
    project = tmp_path_factory.mktemp("deploy-flow") / "credit"
    shutil.copytree(
        EXAMPLE_PROJECT, project, ignore=shutil.ignore_patterns(".mlops", "mlops-out", "__pycache__")
    )
    (project / "variants.py").write_text(VARIANTS)
    config = yaml.safe_load((project / "mlops.yaml").read_text())
    config["train"]["trusted_types"] += ["variants.SlowFeatures", "variants.BatchFeatures"]
    _edit_config(
        project,
        train=config["train"],
        tests=None,  # the project's own tests are not what this file is about
        deploy={"smoke": {"rows": 12}},
        serve={"max_latency_ms": 5000},
        loadtest=LOAD,
    )
    init_repo(project)
    _release(project, "credit_model.train:train_model", "minor")
    _release(project, "variants:train_slow", "major")
    _release(project, "variants:train_batch", "major")
    return project


@pytest.fixture
def project(released: Path, tmp_path: Path) -> Path:
    """A copy of the released project (its registry included), for one test to change."""
    copy = tmp_path / "credit"
    shutil.copytree(released, copy, symlinks=True)
    return copy


def set_production(project: Path, version: str) -> None:
    from mlops_actions.domain.config import load_config
    from mlops_actions.registry import open_registry

    open_registry(load_config(project / "mlops.yaml")).set_alias("production", version)


def production(project: Path) -> str | None:
    from mlops_actions.domain.config import load_config
    from mlops_actions.registry import open_registry

    found = open_registry(load_config(project / "mlops.yaml")).resolve("production")
    return found.version if found is not None else None


def records(project: Path) -> list[dict]:
    from mlops_actions.domain.config import load_config
    from mlops_actions.registry import open_registry

    return open_registry(load_config(project / "mlops.yaml")).deploy_records()  # type: ignore[no-any-return]


def deploy(project: Path, version: str, *args: str) -> int:
    command = ["deploy", "-c", str(project / "mlops.yaml"), "-o", str(project / "deploy-out")]
    return main([*command, "--version-tag", f"credit-default@v{version}", "--load-duration", "2", *args])


def result(project: Path, output: str = "deploy-out") -> dict:
    return json.loads((project / output / "deploy-result.json").read_text())  # type: ignore[no-any-return]


def first_line(project: Path, output: str = "deploy-out") -> str:
    return (project / output / "deploy-report.md").read_text().splitlines()[0].replace("&#8203;", "")


def deployed_good_version(project: Path, *args: str) -> None:
    """1.0.0 released and deployed, the way a release and its deploy leave it (``args`` go to the deploy)."""
    set_production(project, GOOD)
    assert deploy(project, GOOD, *args) == 0


def test_a_good_release_is_served_smoke_and_load_tested_then_promoted_and_recorded(project, capsys):
    set_production(project, GOOD)
    assert deploy(project, GOOD, "--json") == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == result(project)
    assert (
        printed["outcome"] == "deployed" and printed["deployed"] is True and printed["target"] == "built-in"
    )
    smoke = printed["attempt"]["smoke"]
    assert smoke["source"] == "smoke.json" and smoke["passed"] and smoke["requests"] == 13
    load = printed["attempt"]["load"]
    assert load["passed"] and load["requests"] > 0
    assert production(project) == GOOD
    [record] = records(project)
    assert record["version"] == GOOD and record["outcome"] == "deployed" and record["target"] == "built-in"
    assert record["smoke"] == {"rows": 12, "mismatches": 0} and record["load"]["rps"] > 0
    assert first_line(project).startswith("## ✅ credit-default@v1.0.0 deployed: smoke 13/13, load ")


def wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)


def test_a_slow_version_breaks_the_p99_threshold_and_the_previous_version_serves_again(project):
    deployed_good_version(project, "--no-load")  # its load test is the first test's
    set_production(project, SLOW)  # as the release of 2.0.0 left it
    command = [sys.executable, "-m", "mlops_actions", "deploy", "-c", str(project / "mlops.yaml")]
    command += ["-o", str(project / "slow-out"), "--version-tag", f"credit-default@v{SLOW}"]
    command += ["--load-duration", "3", "--keep-serving"]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(project / "slow-out" / "deploy-result.json", proc)
        done = result(project, "slow-out")
        rollback = done["rollback"]
        client = Client(rollback["url"])
        status, _, metadata = client.request("GET", "/metadata")
        assert status == 200 and metadata["version"] == GOOD  # the previous version is the one serving
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert done["outcome"] == "rolled_back" and done["version"] == SLOW
    assert "p99" in done["reason"] and "loadtest.thresholds.p99_ms" in done["reason"]
    assert rollback["version"] == GOOD and rollback["passed"] and rollback["smoke"]["passed"]
    assert production(project) == GOOD
    assert [r["outcome"] for r in records(project)] == ["deployed", "rolled_back"]
    assert records(project)[-1]["previous"] == GOOD and records(project)[-1]["version"] == SLOW
    assert first_line(project, "slow-out").startswith(
        "## ↩️ credit-default@v2.0.0 rolled back to v1.0.0: load p99 "
    )
    assert "rolled back to v1.0.0" in err.splitlines()[-1] and err.splitlines()[-1].startswith(
        "mlops-actions: error"
    )


def test_a_version_answering_differently_alone_fails_its_smoke_test_and_is_rolled_back(project, capsys):
    deployed_good_version(project, "--no-load")  # its load test is the first test's
    set_production(project, BROKEN)
    capsys.readouterr()
    assert deploy(project, BROKEN) == 1
    assert "rolled back to v1.0.0: smoke " in capsys.readouterr().err
    done = result(project)
    assert (
        done["outcome"] == "rolled_back" and done["attempt"]["load"] is None
    )  # no load after a failed smoke
    smoke = done["attempt"]["smoke"]
    assert not smoke["passed"] and smoke["mismatches"] > 0
    assert all(
        check["batch"] == check["expected"] for check in smoke["checks"]
    )  # all rows at once: as recorded
    assert done["rollback"]["version"] == GOOD and done["rollback"]["smoke"]["passed"]
    assert production(project) == GOOD
    assert records(project)[-1]["outcome"] == "rolled_back"
    assert records(project)[-1]["smoke"]["mismatches"] == smoke["mismatches"]
    assert first_line(project).startswith("## ↩️ credit-default@v3.0.0 rolled back to v1.0.0: smoke ")


def test_a_failing_version_with_nothing_to_roll_back_to_is_recorded_as_failed(project, capsys):
    set_production(project, BROKEN)
    assert deploy(project, BROKEN, "--no-load") == 1
    assert "no previous version to roll back to" in capsys.readouterr().err
    done = result(project)
    assert done["outcome"] == "failed" and done["rollback"] is None
    assert production(project) == BROKEN and "still names 3.0.0" in done["production"]["note"]
    assert [r["outcome"] for r in records(project)] == ["failed"]
    assert first_line(project).startswith("## ❌ credit-default@v3.0.0 failed: smoke ")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SERVE_IN_BACKGROUND = (
    'if [ -f serve.pid ]; then kill "$(cat serve.pid)" 2>/dev/null; '
    'while kill -0 "$(cat serve.pid)" 2>/dev/null; do sleep 0.1; done; fi; '
    "nohup python -m mlops_actions serve -c mlops.yaml --version-tag {tag} -o serve-out --port PORT --no-log "
    "> serve-{version}.log 2>&1 & echo $! > serve.pid"
)


def test_a_command_target_with_a_url_is_smoke_tested_and_rolled_back_by_running_the_command_again(
    project, monkeypatch, capsys
):
    port = free_port()
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    _edit_config(
        project,
        deploy={
            "command": SERVE_IN_BACKGROUND.replace("PORT", str(port)),
            "url": f"http://127.0.0.1:{port}",
            "smoke": {"rows": 12},
        },
    )
    try:
        deployed_good_version(project)
        assert result(project)["target"] == "command" and records(project)[-1]["target"] == "command"
        set_production(project, BROKEN)
        assert deploy(project, BROKEN) == 1
        done = result(project)
        assert done["outcome"] == "rolled_back" and done["rollback"]["smoke"]["passed"]
        client = Client(f"http://127.0.0.1:{port}")
        status, _, metadata = client.request("GET", "/metadata")
        assert status == 200 and metadata["version"] == GOOD  # the command started 1.0.0 again
        client.close()
        assert production(project) == GOOD
    finally:
        pid = project / "serve.pid"
        if pid.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid.read_text()), signal.SIGTERM)
