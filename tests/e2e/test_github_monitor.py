"""The scheduled monitor workflow runs for real under act against the contract-enforcing GitHub API stand-in.

A temporary git repository holds example_project with the copy-paste caller ci_templates/github/mlops-monitor.yml,
set to fetch generated production logs (known truth: tests/unit/monitoring/generate.py) with its logs command
and to compare them with the training data's profile. A `schedule` event runs it: the monitor fails on the
broken windows, and its report is still the job summary and the artifact, and the logs command saw no token.
The retrain starter ci_templates/github/mlops-retrain.yml, dispatched with a reason, pushes the refreshed data
to a new branch and opens the pull request with the GitHub CLI (a recording stand-in on PATH).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.act_harness import REPO_ROOT, REPOSITORY, ActHarness, ActRun, Prepared, example_repository, git
from tests.standins.github import GitHubStandIn

pytestmark = pytest.mark.e2e

MODEL = "credit-default"
TOKEN = "ghs_e2e-monitor-token-3b7e"
MONITOR_WORKFLOW = ".github/workflows/mlops-monitor.yml"
REFERENCE = "monitoring/reference-profile.json"
RUN_IDS = itertools.count(9900)
# What the caller is set to in the test project (the template's own lines, then what replaces them).
CALLER_SETTINGS = {
    '      logs-command: ""\n': (
        '      logs-command: mkdir -p mlops-logs && cp "$MLOPS_E2E_ARTIFACTS/store/predictions.jsonl" '
        'mlops-logs/ && env > "$MLOPS_E2E_ARTIFACTS/logs-command.env"\n'
        f"      reference: {REFERENCE}\n"
    ),
    "      window: 1d\n": "      window: 1h\n",
}


@pytest.fixture
def api(start_github_standin: Callable[..., GitHubStandIn]) -> GitHubStandIn:
    return start_github_standin(token=TOKEN, repository=REPOSITORY)


@pytest.fixture
def monitor_repo(act_env: Prepared, tmp_path: Path) -> Path:
    """example_project with the monitor caller (fetching the generated logs) and a reference profile."""
    from mlops_actions.domain.data.profile import build_profile, save_profile

    repo = example_repository(tmp_path / "credit", {})
    caller = (REPO_ROOT / "ci_templates" / "github" / "mlops-monitor.yml").read_text()
    for line, replacement in CALLER_SETTINGS.items():
        assert caller.count(line) == 1, line
        caller = caller.replace(line, replacement)
    (repo / MONITOR_WORKFLOW).write_text(caller)
    (repo / REFERENCE).parent.mkdir()
    save_profile(build_profile(repo / "data" / "train.csv"), repo / REFERENCE)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "Monitor the model every day", cwd=repo)
    return repo


@pytest.fixture
def harness(act_env: Prepared, monitor_repo: Path, api: GitHubStandIn, tmp_path: Path) -> ActHarness:
    from tests.unit.monitoring.generate import generate_rows, write_jsonl

    runner = ActHarness.in_folder(act_env, monitor_repo, tmp_path, api_url=api.url, token=TOKEN)
    (runner.artifacts / "store").mkdir()
    write_jsonl(generate_rows(), runner.artifacts / "store" / "predictions.jsonl")
    return runner


def schedule_payload() -> dict[str, Any]:
    return {
        "schedule": "17 6 * * *",
        "repository": {"full_name": REPOSITORY, "default_branch": "main"},
        "sender": {"login": "github-actions[bot]"},
    }


def explain(run: ActRun, api: GitHubStandIn) -> str:
    requests = "\n".join(f"{r.method} {r.path} -> {r.status}" for r in api.log)
    return f"act exit {run.returncode} after {run.seconds:.0f}s\n{run.output[-8000:]}\nAPI:\n{requests}"


def monitor_artifact(harness: ActHarness, run_id: int) -> Path:
    [folder] = (harness.artifacts / str(run_id)).glob("mlops-monitor-*")
    return folder


def monitor_has_alert_flag(venv: Path) -> bool:
    """Whether the installed monitor keeps the issue (its --alert option)."""
    done = subprocess.run(
        [str(venv / "bin" / "mlops-actions"), "monitor", "--help"], capture_output=True, text=True, check=True
    )
    return "--alert" in done.stdout


def test_a_scheduled_run_on_broken_logs_fails_and_still_reports_the_verdict(harness, api, act_env):
    run_id = next(RUN_IDS)
    run = harness.run("schedule", schedule_payload(), workflow=MONITOR_WORKFLOW, run_id=run_id)
    assert not run.succeeded, explain(run, api)  # checks fail in the generated logs: the job fails

    folder = monitor_artifact(harness, run_id)
    assert {"monitor.json", "monitor.md", "monitor.html"} <= {p.name for p in folder.iterdir()}
    document = json.loads((folder / "monitor.json").read_text())
    assert document["model"] == MODEL and document["window"] == "1h"
    assert len(document["windows"]) == 12
    failing = {f["check"] for w in document["windows"] for f in w["findings"] if f["status"] == "fail"}
    assert {"stability", "range", "input_drift", "schema", "prediction_drift"} <= failing
    verdict = (folder / "monitor.md").read_text().splitlines()[0]
    assert verdict.startswith(f"**{MODEL}") and "fail" in verdict, verdict
    assert document["status"] == "fail"
    assert f"Summary - **{MODEL} v" in run.output  # the report went to the job summary

    # The logs command fetched the logs without any forge token.
    seen = dict(
        line.split("=", 1)
        for line in (harness.artifacts / "logs-command.env").read_text().splitlines()
        if "=" in line
    )
    assert "GITHUB_TOKEN" not in seen and TOKEN not in "\n".join(seen.values())
    assert seen["MLOPS_PREDICTION_LOGS"] == "mlops-logs"

    assert api.violations == [], api.violations
    assert TOKEN not in run.output
    if monitor_has_alert_flag(act_env.venv):
        [issue] = api.issues()
        assert issue["state"] == "open" and MODEL in issue["title"]
        assert {"mlops", MODEL} <= {label["name"] for label in issue["labels"]}


RETRAIN_WORKFLOW = ".github/workflows/mlops-retrain.yml"
REASON = "input_drift failed in 3 windows in a row (utilisation)"
FAKE_GH = """#!/bin/sh
# Test stand-in for the GitHub CLI: records its arguments and whether it got a token.
{ echo "call: $*"; echo "token: ${GH_TOKEN:+set}"; } >> "$MLOPS_E2E_ARTIFACTS/gh-calls.txt"
"""


def test_the_retrain_starter_pushes_the_refreshed_data_and_opens_a_pull_request_with_the_reason(
    act_env, api, tmp_path, monkeypatch
):
    repo = example_repository(tmp_path / "credit", {})
    (repo / RETRAIN_WORKFLOW).write_text(
        (REPO_ROOT / "ci_templates" / "github" / "mlops-retrain.yml").read_text()
    )
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "Retrain on fresh data", cwd=repo)
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    (fake_bin / "gh").write_text(FAKE_GH)
    (fake_bin / "gh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")  # act runs steps on the host
    harness = ActHarness.in_folder(act_env, repo, tmp_path, api_url=api.url, token=TOKEN)
    refresh = 'date -u > data/refreshed-at.txt && env > "$MLOPS_E2E_ARTIFACTS/refresh-command.env"'
    payload = {
        "inputs": {"reason": REASON, "refresh-command": refresh},
        "ref": "refs/heads/main",
        "repository": {"full_name": REPOSITORY, "default_branch": "main"},
        "sender": {"login": "github-actions[bot]"},
    }
    run_id = next(RUN_IDS)
    run = harness.run("workflow_dispatch", payload, workflow=RETRAIN_WORKFLOW, run_id=run_id)
    assert run.succeeded, explain(run, api)

    branch = f"mlops-retrain/{run_id}"
    assert git("log", "-1", "--format=%B", branch, cwd=repo).splitlines()[-1] == REASON
    assert git("diff", "--name-only", f"main...{branch}", cwd=repo).split() == ["data/refreshed-at.txt"]
    calls = (harness.artifacts / "gh-calls.txt").read_text().splitlines()
    assert calls[0] == "call: auth setup-git"
    assert calls[2] == (
        f"call: pr create --base main --head {branch} --title Retrain on refreshed data --body {REASON}"
    )
    assert set(calls[1::2]) == {"token: set"}
    seen = (harness.artifacts / "refresh-command.env").read_text()
    assert "GH_TOKEN=" not in seen and "GITHUB_TOKEN=" not in seen and TOKEN not in seen
    assert TOKEN not in run.output
