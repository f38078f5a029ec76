"""The release stage's pure parts: bump choice, pull request lineage, version tags, and the workflow files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_actions import __version__
from mlops_actions.errors import MlopsError
from mlops_actions.stages.deploy import dispatch_deploy, parse_version_tag
from mlops_actions.stages.release import choose_bump, pr_labels, pr_number_of
from tests.conftest import run_git
from tests.standins.github_releases import GitHubReleasesStandIn

ROOT = Path(__file__).resolve().parents[3]
RELEASE = ROOT / ".github" / "workflows" / "mlops-release.yml"
DEPLOY = ROOT / ".github" / "workflows" / "mlops-deploy.yml"
TEMPLATES = ROOT / "ci_templates" / "github"
PINNED = re.compile(r"^\s*(?:-\s*)?uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40})\s+#\s*v\d+(\.\d+){0,2}\s*$")
TOKEN = "ghs_unit-release-token-5e0a"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "README").write_text("x\n")
    run_git(tmp_path, "init", "-q", "-b", "main")
    run_git(tmp_path, "add", "-A")
    run_git(tmp_path, "commit", "-q", "-m", "initial")
    return tmp_path


def commit(repo: Path, message: str) -> None:
    run_git(repo, "commit", "-q", "--allow-empty", "-m", message)


@pytest.mark.parametrize(
    ("message", "env", "labels", "expected"),
    [
        ("plain", {}, None, ("minor", "the default")),
        ("x\n\nRelease-Bump: patch", {}, ["release:major"], ("patch", "the commit's Release-Bump trailer")),
        ("x\n\nrelease-bump: MAJOR", {}, None, ("major", "the commit's Release-Bump trailer")),
        ("plain", {"MLOPS_BUMP": "major"}, ["release:patch"], ("major", "--bump / MLOPS_BUMP")),
        ("plain", {}, ["bug", "Release:Patch"], ("patch", "the pull request label release:patch")),
        ("plain", {}, ["release:minor"], ("minor", "the pull request label release:minor")),
    ],
)
def test_the_bump_comes_from_flag_then_trailer_then_label_then_minor(repo, message, env, labels, expected):
    commit(repo, message)
    assert choose_bump(repo, env, None, labels) == expected


def test_conflicting_labels_and_unknown_bumps_are_refused(repo):
    commit(repo, "plain")
    with pytest.raises(MlopsError, match="several bump labels"):
        choose_bump(repo, {}, None, ["release:major", "release:patch"])
    commit(repo, "x\n\nRelease-Bump: huge")
    with pytest.raises(MlopsError, match="'huge'"):
        choose_bump(repo, {}, None, None)


@pytest.mark.parametrize(
    ("message", "env", "expected"),
    [
        ("Merge pull request #42 from acme/feature\n\nAdd it", {}, 42),
        ("Add the feature (#17)\n\n* details", {}, 17),
        ("Add it\n\nSee merge request group/app!9", {}, 9),
        ("Direct push", {}, None),
        ("Add the feature (#17)", {"MLOPS_PR_NUMBER": "5"}, 5),
    ],
)
def test_the_pull_request_comes_from_the_environment_or_the_merge_message(repo, message, env, expected):
    commit(repo, message)
    assert pr_number_of(repo, env) == expected


def test_labels_come_from_the_environment_or_from_github(tmp_path):
    assert pr_labels(3, {"MLOPS_PR_LABELS": " a, release:patch ,"}) == ["a", "release:patch"]
    assert pr_labels(3, {}) is None  # outside GitHub Actions
    with GitHubReleasesStandIn(token=TOKEN, repository="acme/app") as api:
        api.add_pull_request(3, state="closed")
        api.set_labels(3, ["release:major", "docs"])
        env = {"GITHUB_ACTIONS": "true", "GITHUB_API_URL": api.url, "GITHUB_REPOSITORY": "acme/app"}
        assert pr_labels(3, {**env, "GITHUB_TOKEN": TOKEN}) == ["release:major", "docs"]
        with pytest.raises(MlopsError, match="pull-requests: read"):
            pr_labels(404, {**env, "GITHUB_TOKEN": TOKEN})
        assert api.violations == []


def test_version_tags_are_parsed_strictly():
    assert parse_version_tag("churn@v1.2.0") == ("churn", "1.2.0")
    assert parse_version_tag("refs/tags/churn-2@v10.0.3") == ("churn-2", "10.0.3")
    for bad in ("churn@1.2.0", "churn@v1.2", "Churn@v1.0.0", "churn@v01.0.0", "$(id)@v1.0.0"):
        with pytest.raises(MlopsError, match="expected <model>@v"):
            parse_version_tag(bad)


def test_dispatch_sends_the_tag_to_the_deploy_workflow():
    with GitHubReleasesStandIn(token=TOKEN, repository="acme/app") as api:
        env = {"GITHUB_API_URL": api.url, "GITHUB_REPOSITORY": "acme/app", "GITHUB_TOKEN": TOKEN}
        sent = dispatch_deploy("mlops-deploy.yml", "churn@v1.2.0", git_ref="main", env=env)
        assert sent["repository"] == "acme/app"
        assert api.dispatches == [
            {"workflow_id": "mlops-deploy.yml", "ref": "main", "inputs": {"version-tag": "churn@v1.2.0"}}
        ]
        with pytest.raises(MlopsError, match="workflow file name"):
            dispatch_deploy("../evil", "churn@v1.2.0", git_ref="main", env=env)
        assert api.violations == []


# -- the workflow files ----------------------------------------------------------------------------------


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    if True in document:
        document["on"] = document.pop(True)
    return document  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", [RELEASE, DEPLOY], ids=lambda p: p.name)
def test_reusable_workflows_grant_least_privilege_per_job_and_pin_actions(path):
    document = load(path)
    assert document["permissions"] == {}
    for name, job in document["jobs"].items():
        assert job["permissions"] and all(v in ("read", "write") for v in job["permissions"].values()), name
        assert "group" in job["concurrency"] and job["concurrency"]["cancel-in-progress"] is False, name
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step
    for line in path.read_text().splitlines():
        own = "uses: mlops-actions/mlops-actions/.github/actions/install@v0 " in line  # this project's own
        if line.strip().startswith(("uses:", "- uses:")) and not own:
            assert PINNED.match(line), line
    extras = "[serve,loadtest]" if path == DEPLOY else ""  # the deploy serves and load-tests the model
    assert (
        document["on"]["workflow_call"]["inputs"]["install"]["default"]
        == f"mlops-actions{extras}=={__version__}"
    )


def test_only_the_release_job_can_write_contents_and_only_the_dispatch_job_can_start_workflows():
    jobs = load(RELEASE)["jobs"]
    writers = {name for name, job in jobs.items() if job["permissions"].get("contents") == "write"}
    assert writers == {"release"}
    assert jobs["dispatch-deploy"]["permissions"] == {"actions": "write"}
    assert jobs["dispatch-deploy"]["needs"] == "release"
    assert "--dispatch" in jobs["dispatch-deploy"]["steps"][-1]["run"]
    assert jobs["release"]["steps"][0]["with"] == {"fetch-depth": 0, "persist-credentials": False}


def test_deploy_runs_on_call_dispatch_tag_pushes_and_published_releases():
    triggers = load(DEPLOY)["on"]
    assert set(triggers) == {"workflow_call", "workflow_dispatch", "push", "release"}
    assert triggers["push"] == {"tags": ["*@v*"]} and triggers["release"] == {"types": ["published"]}
    assert triggers["workflow_dispatch"]["inputs"]["version-tag"]["required"] is True
    [job] = load(DEPLOY)["jobs"].values()
    # github registry: the deploy record and moving `production` back are release-description writes
    assert job["permissions"] == {"contents": "write"}


@pytest.mark.parametrize("name", ["mlops-release.yml", "mlops-deploy.yml"])
def test_callers_grant_what_the_reusable_jobs_need_and_link_the_docs(name):
    caller = load(TEMPLATES / name)
    assert caller["permissions"] == {}
    assert "docs/releases.md" in (TEMPLATES / name).read_text().split("\nname:")[0]
    [job] = caller["jobs"].values()
    assert job["uses"] == f"mlops-actions/mlops-actions/.github/workflows/{name}@v0"
    rank = {"none": 0, "read": 1, "write": 2}
    for reusable_job in load(ROOT / ".github" / "workflows" / name)["jobs"].values():
        for scope, level in reusable_job["permissions"].items():
            assert rank[job["permissions"].get(scope, "none")] >= rank[level], (name, scope)


def test_the_release_caller_dispatches_the_deploy_caller_by_its_file_name():
    release = load(TEMPLATES / "mlops-release.yml")
    assert release["on"] == {"push": {"branches": ["main"]}}
    [job] = release["jobs"].values()
    assert (TEMPLATES / job["with"]["deploy-workflow"]).is_file()


def test_the_model_card_shows_lineage_and_the_configured_description_escaped():
    import json

    from mlops_actions.render.model_card import render_model_card

    result = json.loads((ROOT / "tests" / "fixtures" / "results" / "pass_with_baseline.json").read_text())
    lineage = {
        "pull_request": 12,
        "bump": "patch",
        "bump_from": "the pull request label release:patch",
        "model_source": "trained",
        "model_source_reason": "no checked model",
        "tree": "f" * 40,
        "config": {
            "path": "mlops.yaml",
            "sha256": "sha256:" + "0" * 64,
            "content": {"model": {"description": "Scores <b>churn</b> | risk"}},
        },
        "libraries": {"scikit-learn": "1.9.1"},
        "run_url": "https://github.example/acme/app/actions/runs/1",
    }
    card = render_model_card(result, version="1.2.3", lineage=lineage)
    assert "| Pull request | #12 |" in card
    assert "| Version bump | patch (the pull request label release:patch) |" in card
    assert "| scikit-learn | 1.9.1 |" in card
    assert "<b>" not in card and "Scores" in card
    assert "v1.2.3" in card.splitlines()[0]
