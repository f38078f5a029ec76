"""The GitLab CI templates run for real under gitlab-ci-local against the contract-enforcing API stand-in.

One temporary git repository holds example_project (main, with the gitlab registry, plus merge request
branches) and a ``.gitlab-ci.yml`` that includes the templates with ``include: project:``. The scenarios
share one stand-in, in order: the default branch releases v1.0.0 (so the merge requests are compared with
it), then merge request pipelines post and update their notes. Every request and response must match the
contract (``api.violations`` stays empty).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from mlops_actions.platforms.comments import sticky_marker
from tests.e2e.gitlab.conftest import GitLabPrepared
from tests.e2e.gitlab.gitlab_harness import SERVER_HOST, GitLabCiLocal, PipelineRun, example_repository
from tests.standins.gitlab import GitLabStandIn

pytestmark = pytest.mark.e2e

MODEL = "credit-default"
PRIVATE_TOKEN = "glpat-e2e-project-token-8c1d"
JOB_TOKEN = "glcbt-e2e-job-token-51aa"
TAG = f"{MODEL}@v1.0.0"
NOTE_OPERATIONS = {"listMergeRequestNotes", "createMergeRequestNote", "updateMergeRequestNote"}


@pytest.fixture(scope="module")
def api() -> Iterator[GitLabStandIn]:
    with GitLabStandIn(
        tokens={PRIVATE_TOKEN: "api"}, job_tokens={JOB_TOKEN}, merge_requests=(1, 2, 3), max_per_page=20
    ) as standin:
        yield standin


@pytest.fixture(scope="module")
def pipelines(
    gitlab_prepared: GitLabPrepared, api: GitLabStandIn, tmp_path_factory: pytest.TempPathFactory
) -> GitLabCiLocal:
    repo = example_repository(
        tmp_path_factory.mktemp("gitlab-repo") / "credit",
        {"retrain-same": ["retrain-same.patch"], "broken-feature": ["broken-feature.patch"]},
    )
    return GitLabCiLocal(repo, gitlab_prepared.venv, api.url, PRIVATE_TOKEN, JOB_TOKEN)


@pytest.fixture(scope="module")
def released(pipelines: GitLabCiLocal, api: GitLabStandIn) -> PipelineRun:
    """The default branch's pipeline, run once: it releases the first version."""
    return pipelines.run("main")


@pytest.fixture(autouse=True)
def _contract_kept(api: GitLabStandIn) -> Iterator[None]:
    yield
    assert api.violations == []


def sticky_notes(api: GitLabStandIn, iid: int) -> list[dict[str, object]]:
    return [n for n in api.mr_notes(iid) if str(n["body"]).startswith(sticky_marker(MODEL))]


def junit_cases(path: Path) -> dict[str, ET.Element]:
    return {case.get("name", ""): case for case in ET.parse(path).getroot().iter("testcase")}


def dotenv(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_the_default_branch_creates_the_tag_the_release_and_the_package_files(released, api, pipelines):
    assert released.succeeded, released.output[-4000:]
    assert "mlops-release" in released.output and "mlops-check" not in released.output
    head = subprocess.run(
        ["git", "rev-parse", "main"], cwd=pipelines.repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert api.tags[TAG]["sha"] == head
    release = api.releases[TAG]
    assert release["description"].startswith("# Model card") or MODEL in release["description"]
    files = api.package_files(MODEL, "1.0.0")
    assert set(files) == {
        "model.skops",
        "metadata.json",
        "model-card.md",
        "mlops-result.json",
        "data-profile.json",
        "smoke.json",
        "eval-outputs.json",
        "manifest.json",
    }
    assert {link["name"] for link in release["links"]} == set(files)
    assert all(
        link["url"].startswith(f"{api.url}/projects/42/packages/generic/{MODEL}/1.0.0/")
        for link in release["links"]
    )
    writes = [s for s in api.writes()]
    assert writes and {s.token_header for s in writes} == {"JOB-TOKEN"}


def test_history_and_the_production_alias_read_the_gitlab_registry(released, api, pipelines):
    assert released.succeeded
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CI_", "MLOPS_", "GITLAB_"))},
        "CI_API_V4_URL": api.url,
        "CI_PROJECT_ID": "42",
        "CI_JOB_TOKEN": JOB_TOKEN,
    }
    cli = str(pipelines.venv / "bin" / "mlops-actions")
    done = subprocess.run(
        [cli, "history", "--json"], cwd=pipelines.repo, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    [version] = json.loads(done.stdout)
    assert (version["tag"], version["aliases"]) == (TAG, ["production"])
    target = pipelines.repo.parent / "fetched"
    done = subprocess.run(
        [cli, "fetch", "production", "--output-dir", str(target)],
        cwd=pipelines.repo,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (target / "model.skops").read_bytes() == api.package_files(MODEL, "1.0.0")["model.skops"]


def test_a_merge_request_pipeline_creates_one_note_and_a_second_run_updates_it(released, api, pipelines):
    assert released.succeeded
    first = pipelines.run("retrain-same", merge_request_iid=1)
    assert first.succeeded, first.output[-4000:]
    assert "mlops-release" not in first.output
    [note] = sticky_notes(api, 1)
    body = str(note["body"])
    assert "## ✅ PASS: model credit-default" in body
    assert "| metric | baseline | candidate | Δ |" in body and "| **ROC AUC** · primary |" in body
    assert "the registry's production version 1.0.0" in body
    report = f"https://{SERVER_HOST}/acme/credit/-/jobs/"
    assert report in body and "/artifacts/file/mlops-out/report.html" in body
    junit = pipelines.job_file("mlops-check", "mlops-out/mlops-junit.xml")
    cases = junit_cases(junit)
    assert cases and all(case.find("failure") is None for case in cases.values())
    assert dotenv(pipelines.job_file("mlops-check", "mlops-out/mlops.env"))["MLOPS_VERDICT"] == "pass"

    second = pipelines.run("retrain-same", merge_request_iid=1)
    assert second.succeeded, second.output[-4000:]
    [again] = sticky_notes(api, 1)
    assert again["id"] == note["id"]
    assert again["updated_at"] != note["updated_at"]
    note_writes = [s.operation for s in api.writes() if s.operation in NOTE_OPERATIONS]
    assert note_writes == ["createMergeRequestNote", "updateMergeRequestNote"]


def test_a_degrading_branch_fails_the_job_and_the_junit_report_names_the_failed_rule(
    released, api, pipelines
):
    assert released.succeeded
    run = pipelines.run("broken-feature", merge_request_iid=2)
    assert not run.succeeded
    assert "FAIL  mlops-check" in run.output
    failed = {
        name: case.find("failure")
        for name, case in junit_cases(pipelines.job_file("mlops-check", "mlops-out/mlops-junit.xml")).items()
        if case.find("failure") is not None
    }
    # The overall rule fails; the east slice (Δ about −0.06) is one of 8 rules of the Holm family, and its
    # case is in the report with the slice's p-values.
    assert any(name.startswith("roc_auc change: Δ ≥ -0.0050") for name in failed), sorted(failed)
    cases = junit_cases(pipelines.job_file("mlops-check", "mlops-out/mlops-junit.xml"))
    assert any(name.startswith("roc_auc [region=east] change: Δ ≥ -0.0200") for name in cases), sorted(cases)
    assert dotenv(pipelines.job_file("mlops-check", "mlops-out/mlops.env"))["MLOPS_VERDICT"] == "fail"
    [note] = sticky_notes(api, 2)
    assert "## ❌ FAIL: model credit-default" in str(note["body"])


def test_the_api_answering_502_twice_still_ends_with_one_note(released, api, pipelines):
    assert released.succeeded
    api.fail_next(2, status=502, operations=NOTE_OPERATIONS, after_effect=True)
    run = pipelines.run("retrain-same", merge_request_iid=3)
    assert run.succeeded, run.output[-4000:]
    assert len(sticky_notes(api, 3)) == 1
    statuses = [s.status for s in api.seen if s.path.endswith("/merge_requests/3/notes")]
    assert statuses.count(502) == 2
