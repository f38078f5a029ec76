"""Two models in one repository, run for real under act: the reusable workflows with `configs` fan out as a
matrix over the models a change touched, against the GitHub API stand-in with releases.

The repository holds two small models, each in its own folder (``models/a``, ``models/b``), and the
copy-paste callers of ci_templates/github with ``configs: models/*/mlops.yaml``. A pull request that changes
model A only checks A (B is named as not checked, in the job summary and in A's sticky comment); the first
push to main then releases both, each with its own tag, release and deploy dispatch, and uploads the trend
dashboard as the Pages artifact. A pull request that changes no model succeeds with no check job.
"""

from __future__ import annotations

import itertools
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_actions.platforms.comments import sticky_marker
from tests.conftest import TINY_CONFIG, TINY_MODEL, write_tiny_data
from tests.e2e.act_harness import (
    REPO_ROOT,
    REPOSITORY,
    ActHarness,
    ActRun,
    Prepared,
    git,
    pull_request_payload,
)
from tests.standins.github_releases import GitHubReleasesStandIn

pytestmark = pytest.mark.e2e

TOKEN = "ghs_e2e-many-models-token-3b7e"
MODELS = ("a", "b")
CONFIGS = "models/*/mlops.yaml"
PR_WORKFLOW = ".github/workflows/mlops-pr.yml"
RELEASE_WORKFLOW = ".github/workflows/mlops-release.yml"
RUN_IDS = itertools.count(9900)
PR_NUMBER = 31


def model_config(name: str) -> str:
    """The tiny project's config for model ``name``: the GitHub Releases registry, no baseline, few resamples."""
    config = TINY_CONFIG.replace("name: tiny", f"name: {name}").replace("resamples: 300", "resamples: 200")
    registry = "registry:\n  backend: local\n  path: .registry\n"
    assert registry in config
    return config.replace(registry, "registry:\n  backend: github\nbaseline:\n  source: none\n")


def caller(name: str, **replacements: str) -> str:
    """The copy-paste caller ``name`` of ci_templates/github, with ``configs`` instead of ``config``."""
    text = (REPO_ROOT / "ci_templates" / "github" / name).read_text()
    replacements = {
        "      config: mlops.yaml\n": "",
        f"      # configs: {CONFIGS}": f"      configs: {CONFIGS}",
        **replacements,
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture
def repo(act_env: Prepared, tmp_path: Path) -> Path:
    """Two tiny models, models/a and models/b, on main, with the PR and release callers."""
    path = tmp_path / "two-models"
    for name in MODELS:
        folder = path / "models" / name
        folder.mkdir(parents=True)
        (folder / "tiny_model.py").write_text(TINY_MODEL)
        (folder / "mlops.yaml").write_text(model_config(name))
        write_tiny_data(folder, rows=400, seed=len(name) + ord(name))
    (path / ".gitignore").write_text(".registry/\nmlops-out/\n.mlops/\n__pycache__/\n")
    workflows = path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "mlops-pr.yml").write_text(caller("mlops-pr.yml"))
    (workflows / "mlops-release.yml").write_text(
        caller(
            "mlops-release.yml",
            **{
                "      # publish-dashboard: false": "      publish-dashboard: true\n      config: models/a/mlops.yaml #"
            },
        )
    )
    shutil.copy2(REPO_ROOT / "ci_templates" / "github" / "mlops-deploy.yml", workflows / "mlops-deploy.yml")
    git("init", "-q", "-b", "main", cwd=path)
    git("remote", "add", "origin", f"https://github.com/{REPOSITORY}.git", cwd=path)
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "Two models", cwd=path)
    return path


@pytest.fixture
def api(start_github_releases_standin: Callable[..., GitHubReleasesStandIn]) -> GitHubReleasesStandIn:
    return start_github_releases_standin(token=TOKEN, repository=REPOSITORY)


@pytest.fixture
def harness(act_env: Prepared, repo: Path, api: GitHubReleasesStandIn, tmp_path: Path) -> ActHarness:
    runner = ActHarness.in_folder(act_env, repo, tmp_path, api_url=api.url, token=TOKEN)
    return runner


def explain(run: ActRun, api: GitHubReleasesStandIn) -> str:
    requests = "\n".join(f"{r.method} {r.path} -> {r.status}" for r in api.log)
    return f"act exit {run.returncode} after {run.seconds:.0f}s\n{run.output[-8000:]}\nAPI:\n{requests}\n{api.violations}"


def artifacts_of(harness: ActHarness, run_id: int) -> set[str]:
    folder = harness.artifacts / str(run_id)
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def test_a_pull_request_checks_the_changed_model_only_and_the_first_push_releases_both(
    harness: ActHarness, repo: Path, api: GitHubReleasesStandIn
):
    base = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-b", "tune-a", cwd=repo)
    config_a = repo / "models" / "a" / "mlops.yaml"
    config_a.write_text(config_a.read_text().replace("params: {C: 1.0}", "params: {C: 0.5}"))
    git("commit", "-q", "-am", "Model a: C 0.5", cwd=repo)
    head = git("rev-parse", "HEAD", cwd=repo)
    api.add_pull_request(PR_NUMBER)
    payload = pull_request_payload(
        PR_NUMBER, repository=REPOSITORY, head_repository=REPOSITORY, head_ref="tune-a", head_sha=head
    )
    payload["pull_request"]["base"]["sha"] = base
    pr_run_id = next(RUN_IDS)
    pr_run = harness.run("pull_request", payload, workflow=PR_WORKFLOW, run_id=pr_run_id)
    assert pr_run.succeeded, explain(pr_run, api)
    uploaded = artifacts_of(harness, pr_run_id)
    assert "mlops-result-a" in uploaded and "mlops-result-b" not in uploaded, uploaded
    assert "not checked: `b` (no input changed" in pr_run.output  # the plan job's summary
    [comment] = api.comments(PR_NUMBER)
    assert comment["body"].startswith(sticky_marker("a"))
    not_checked = [line for line in comment["body"].splitlines() if "not checked" in line.lower()]
    assert not_checked and "`b`" in not_checked[0], comment["body"]
    assert api.violations == [], api.violations
    assert TOKEN not in pr_run.output

    git("checkout", "-q", "main", cwd=repo)
    git("merge", "-q", "--squash", "tune-a", cwd=repo)
    git("commit", "-q", "-m", f"Model a: C 0.5 (#{PR_NUMBER})", cwd=repo)
    merged = git("rev-parse", "HEAD", cwd=repo)
    push = {
        "ref": "refs/heads/main",
        "before": "0" * 40,  # the branch's first push: every model has changed since nothing
        "after": merged,
        "head_commit": {"id": merged, "message": git("log", "-1", "--format=%B", cwd=repo)},
        "repository": {"full_name": REPOSITORY, "default_branch": "main"},
        "sender": {"login": "octocat"},
    }
    release_run_id = next(RUN_IDS)
    release = harness.run("push", push, workflow=RELEASE_WORKFLOW, run_id=release_run_id)
    assert release.succeeded, explain(release, api)
    tags = {"a@v1.0.0", "b@v1.0.0"}
    assert api.refs == {f"refs/tags/{tag}": merged for tag in tags}
    assert {r["tag_name"] for r in api.published()} == tags and api.drafts() == []
    dispatched = sorted(d["inputs"]["version-tag"] for d in api.dispatches)
    assert dispatched == sorted(tags), explain(release, api)
    [pages] = (harness.artifacts / str(release_run_id)).glob("github-pages/artifact.tar")
    with tarfile.open(pages) as site:
        assert "./index.html" in site.getnames()
    assert api.violations == [], api.violations
    assert TOKEN not in release.output


def test_a_pull_request_that_changes_no_model_succeeds_and_the_summary_names_the_models_skipped(
    harness: ActHarness, repo: Path, api: GitHubReleasesStandIn
):
    base = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-b", "docs", cwd=repo)
    (repo / "README.md").write_text("Two models.\n")
    git("add", "README.md", cwd=repo)
    git("commit", "-q", "-m", "A README", cwd=repo)
    api.add_pull_request(PR_NUMBER + 1)
    payload = pull_request_payload(
        PR_NUMBER + 1,
        repository=REPOSITORY,
        head_repository=REPOSITORY,
        head_ref="docs",
        head_sha=git("rev-parse", "HEAD", cwd=repo),
    )
    payload["pull_request"]["base"]["sha"] = base
    run_id = next(RUN_IDS)
    run = harness.run("pull_request", payload, workflow=PR_WORKFLOW, run_id=run_id)
    assert run.succeeded, explain(run, api)
    for name in MODELS:
        assert f"not checked: `{name}` (no input changed" in run.output
    assert not any(name.startswith("mlops-result-") for name in artifacts_of(harness, run_id))
    assert api.comments(PR_NUMBER + 1) == [] and api.violations == []
