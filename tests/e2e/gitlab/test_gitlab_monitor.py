"""The monitor and retrain job templates run for real under gitlab-ci-local, through the bundle, against the
contract-enforcing GitLab API stand-in.

A temporary git repository holds example_project and a ``.gitlab-ci.yml`` including the bundle with the
monitor set to fetch generated production logs (known truth: tests/unit/monitoring/generate.py) and to compare
them with the training data's profile. A scheduled pipeline runs the monitor job alone; a pipeline started with
``MLOPS_DISPATCH=retrain`` runs the retrain job alone, which pushes the refreshed data to a new branch with the
push options that open a merge request.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.gitlab.conftest import GitLabPrepared
from tests.e2e.gitlab.gitlab_harness import (
    TEMPLATES_PROJECT,
    TEMPLATES_REF,
    GitLabCiLocal,
    example_repository,
    git,
)
from tests.standins.gitlab import GitLabStandIn

pytestmark = pytest.mark.e2e

MODEL = "credit-default"
PRIVATE_TOKEN = "glpat-e2e-monitor-token-6e0f"
JOB_TOKEN = "glcbt-e2e-monitor-job-token-93c2"
REFERENCE = "monitoring/reference-profile.json"
REASON = "input_drift failed in 3 windows in a row"


@pytest.fixture(scope="module")
def api() -> Iterator[GitLabStandIn]:
    with GitLabStandIn(tokens={PRIVATE_TOKEN: "api"}, job_tokens={JOB_TOKEN}) as standin:
        yield standin


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the logs command fetches the generated production logs from (outside the repository)."""
    from tests.unit.monitoring.generate import generate_rows, write_jsonl

    folder = tmp_path_factory.mktemp("log-store")
    write_jsonl(generate_rows(), folder / "predictions.jsonl")
    return folder


@pytest.fixture(scope="module")
def pipelines(
    gitlab_prepared: GitLabPrepared, api: GitLabStandIn, store: Path, tmp_path_factory: pytest.TempPathFactory
) -> GitLabCiLocal:
    from mlops_actions.domain.data.profile import build_profile, save_profile

    repo = example_repository(tmp_path_factory.mktemp("gitlab-monitor") / "credit", {})
    pipeline = {
        "include": [
            {
                "project": TEMPLATES_PROJECT,
                "ref": TEMPLATES_REF,
                "file": "/templates/mlops-pipeline/template.yml",
                "inputs": {
                    "install": "mlops-actions --version",
                    "deploy_install": "mlops-actions --version",
                    "monitor_logs_command": f"mkdir -p mlops-logs && cp {store}/predictions.jsonl mlops-logs/",
                    "monitor_reference": REFERENCE,
                    "monitor_window": "1h",
                    "retrain_refresh_command": "date -u > data/refreshed-at.txt",
                },
            }
        ]
    }
    (repo / ".gitlab-ci.yml").write_text(yaml.safe_dump(pipeline, sort_keys=False), encoding="utf-8")
    (repo / REFERENCE).parent.mkdir()
    save_profile(build_profile(repo / "data" / "train.csv"), repo / REFERENCE)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "Monitor the model on a schedule", cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo)
    return GitLabCiLocal(repo, gitlab_prepared.venv, api.url, PRIVATE_TOKEN, JOB_TOKEN)


@pytest.fixture(autouse=True)
def _contract_kept(api: GitLabStandIn) -> Iterator[None]:
    yield
    assert api.violations == []


def monitor_has_alert_flag(venv: Path) -> bool:
    """Whether the installed monitor keeps the issue (its --alert option)."""
    done = subprocess.run(
        [str(venv / "bin" / "mlops-actions"), "monitor", "--help"], capture_output=True, text=True, check=True
    )
    return "--alert" in done.stdout


def origin_of(pipelines: GitLabCiLocal) -> Path:
    return pipelines.repo.parent / f"{pipelines.repo.name}-origin.git"


def test_a_scheduled_pipeline_runs_the_monitor_alone_and_keeps_its_report(pipelines, api):
    run = pipelines.run("main", variables={"CI_PIPELINE_SOURCE": "schedule"})
    assert not run.succeeded, run.output[-4000:]  # checks fail in the generated logs: the job fails
    assert "mlops-monitor" in run.output
    for job in ("mlops-check", "mlops-release", "mlops-deploy", "mlops-retrain"):
        assert job not in run.output, job
    document = json.loads(pipelines.job_file("mlops-monitor", "mlops-out/monitor.json").read_text())
    assert document["model"] == MODEL and document["status"] == "fail" and document["window"] == "1h"
    assert len(document["windows"]) == 12
    verdict = pipelines.job_file("mlops-monitor", "mlops-out/monitor.md").read_text().splitlines()[0]
    assert verdict.startswith(f"**{MODEL} v") and verdict in run.output
    assert PRIVATE_TOKEN not in run.output and JOB_TOKEN not in run.output
    if monitor_has_alert_flag(pipelines.venv):
        [issue] = api.issues.values()
        assert issue["state"] == "opened" and {"mlops", MODEL} <= set(issue["labels"])


def test_a_pipeline_started_for_the_retrain_pushes_the_refreshed_data_with_merge_request_options(pipelines):
    origin = origin_of(pipelines)
    git("config", "receive.advertisePushOptions", "true", cwd=origin)
    hook = origin / "hooks" / "post-receive"
    hook.write_text("#!/bin/sh\nenv | sed -n 's/^GIT_PUSH_OPTION_[0-9][0-9]*=//p' >> push-options.txt\n")
    hook.chmod(0o755)

    run = pipelines.run(
        "main", variables={"CI_PIPELINE_SOURCE": "api", "MLOPS_DISPATCH": "retrain", "MLOPS_REASON": REASON}
    )
    assert run.succeeded, run.output[-4000:]
    assert "mlops-retrain" in run.output and "mlops-monitor" not in run.output
    # beside main, only the retrain's branch (and the metadata store's data branch the recorded runs push)
    branches = git("branch", "--format=%(refname:short)", cwd=origin).split()
    [branch] = [b for b in branches if b not in ("main", "mlops-metadata")]
    assert branch.startswith("mlops-retrain/")
    assert git("log", "-1", "--format=%B", branch, cwd=origin).splitlines()[-1] == REASON
    changed = git("diff", "--name-only", f"main...{branch}", cwd=origin).split()
    assert changed == ["data/refreshed-at.txt"]
    options = (origin / "push-options.txt").read_text().splitlines()
    assert "merge_request.create" in options
    assert "merge_request.target=main" in options
    assert f"merge_request.description={REASON}" in options
