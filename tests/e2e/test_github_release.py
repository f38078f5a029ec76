"""The release workflow and the deploy workflow it dispatches, run for real under act against the
contract-enforcing GitHub API stand-in with releases (tests/standins/github_releases.py).

A temporary git repository holds example_project with the GitHub Releases registry and a deploy command,
and the copy-paste callers ci_templates/github/mlops-pr.yml, mlops-release.yml and mlops-deploy.yml. A push
to main runs the release; the workflow_dispatch it sends is then run as the deploy. A pull request's check
uploads its passing model, which the release after the merge promotes instead of retraining.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from mlops_actions.registry.described import parse_description
from tests.e2e.act_harness import (
    EXAMPLE,
    REPO_ROOT,
    REPOSITORY,
    ActHarness,
    ActRun,
    Prepared,
    example_repository,
    git,
    pull_request_payload,
)
from tests.standins.github_releases import GitHubReleasesStandIn

pytestmark = [pytest.mark.e2e]

MODEL = "credit-default"
TOKEN = "ghs_e2e-release-token-8d21"
RELEASE_WORKFLOW = ".github/workflows/mlops-release.yml"
DEPLOY_WORKFLOW = ".github/workflows/mlops-deploy.yml"
PR_WORKFLOW = ".github/workflows/mlops-pr.yml"
RUN_IDS = itertools.count(9700)
PR_NUMBER = 21


@pytest.fixture
def api(start_github_releases_standin: Callable[..., GitHubReleasesStandIn]) -> GitHubReleasesStandIn:
    return start_github_releases_standin(token=TOKEN, repository=REPOSITORY)


@pytest.fixture
def release_repo(act_env: Prepared, tmp_path: Path) -> Path:
    """example_project on main with the github registry, a deploy command and the release/deploy callers."""
    repo = example_repository(tmp_path / "credit", {})
    config_path = repo / "mlops.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["registry"] = {"backend": "github"}
    config["deploy"] = {
        "command": 'printf "%s %s\\n" {tag} "$MLOPS_MODEL_DIGEST" > "$MLOPS_E2E_ARTIFACTS/deployed.txt" '
        '&& ls {model_dir} >> "$MLOPS_E2E_ARTIFACTS/deployed.txt"'
    }
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    workflows = repo / ".github" / "workflows"
    for name in ("mlops-pr.yml", "mlops-release.yml", "mlops-deploy.yml"):
        shutil.copy2(REPO_ROOT / "ci_templates" / "github" / name, workflows / name)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", f"Release the model from GitHub (#{PR_NUMBER})", cwd=repo)
    return repo


@pytest.fixture
def harness(act_env: Prepared, release_repo: Path, api: GitHubReleasesStandIn, tmp_path: Path) -> ActHarness:
    runner = ActHarness.in_folder(act_env, release_repo, tmp_path, api_url=api.url, token=TOKEN)
    return runner


def explain(run: ActRun, api: GitHubReleasesStandIn) -> str:
    requests = "\n".join(f"{r.method} {r.path} -> {r.status}" for r in api.log)
    return f"act exit {run.returncode} after {run.seconds:.0f}s\n{run.output[-8000:]}\nAPI:\n{requests}\n{api.violations}"


def push_payload(repo: Path) -> dict:
    head = git("rev-parse", "HEAD", cwd=repo)
    return {
        "ref": "refs/heads/main",
        "before": "0" * 40,
        "after": head,
        "head_commit": {"id": head, "message": git("log", "-1", "--format=%B", cwd=repo)},
        "repository": {"full_name": REPOSITORY, "default_branch": "main"},
        "sender": {"login": "octocat"},
    }


def test_a_push_releases_the_model_and_the_dispatched_deploy_fetches_and_verifies_it(
    harness: ActHarness, release_repo: Path, api: GitHubReleasesStandIn
):
    api.add_pull_request(PR_NUMBER, state="closed")
    api.set_labels(PR_NUMBER, ["release:major"])
    head = git("rev-parse", "HEAD", cwd=release_repo)

    release = harness.run("push", push_payload(release_repo), workflow=RELEASE_WORKFLOW, run_id=next(RUN_IDS))
    assert release.succeeded, explain(release, api)
    tag = f"{MODEL}@v1.0.0"
    assert api.refs == {f"refs/tags/{tag}": head}
    [published] = api.published()
    assert published["tag_name"] == tag and api.drafts() == []
    _card, manifest, aliases = parse_description(published["body"])
    assert manifest is not None and manifest["state"] == "complete" and manifest["commit"] == head
    assert "production" in aliases
    assets = api.asset_bytes(published["id"])
    assert set(manifest["files"]) == {
        "model.skops",
        "metadata.json",
        "model-card.md",
        "mlops-result.json",
        "data-profile.json",
        "smoke.json",
        "eval-outputs.json",
    }
    for name, digest in manifest["files"].items():
        assert digest == "sha256:" + hashlib.sha256(assets[name]).hexdigest(), name
    lineage = json.loads(assets["metadata.json"])["release"]
    assert lineage["pull_request"] == PR_NUMBER and lineage["pull_request_labels"] == ["release:major"]
    assert lineage["bump"] == "major" and lineage["run_url"].endswith("/actions/runs/" + str(9700))
    assert api.dispatches == [
        {"workflow_id": "mlops-deploy.yml", "ref": "main", "inputs": {"version-tag": tag}}
    ], explain(release, api)
    assert api.violations == [], api.violations
    assert TOKEN not in release.output

    [dispatch] = api.dispatches
    payload = {
        "inputs": dispatch["inputs"],
        "ref": f"refs/heads/{dispatch['ref']}",
        "repository": {"full_name": REPOSITORY, "default_branch": "main"},
        "sender": {"login": "github-actions[bot]"},
        "workflow": DEPLOY_WORKFLOW,
    }
    deploy = harness.run("workflow_dispatch", payload, workflow=DEPLOY_WORKFLOW, run_id=next(RUN_IDS))
    assert deploy.succeeded, explain(deploy, api)
    deployed = (harness.artifacts / "deployed.txt").read_text().split("\n")
    assert deployed[0] == f"{tag} {manifest['digest']}"
    assert "model.skops" in deployed[1:]
    assert f"deployed {tag} ({manifest['digest']})" in deploy.output
    downloads = [r for r in api.log if "/releases/assets/" in r.path and r.method == "GET"]
    assert len(downloads) == len(manifest["files"]) and all(r.status == 302 for r in downloads)
    assert api.storage_tokens_seen == []
    assert api.violations == [], api.violations
    assert TOKEN not in deploy.output

    # A person (or an app) publishing a release or pushing a version tag deploys too; another model's is skipped.
    people = {
        "repository": {"full_name": REPOSITORY, "default_branch": "main"},
        "sender": {"login": "octocat"},
    }
    events = [
        ("release", {**people, "action": "published", "release": {"tag_name": tag, "draft": False}}, tag),
        ("push", {**people, "ref": f"refs/tags/{tag}", "after": head, "before": "0" * 40}, tag),
        ("release", {**people, "action": "published", "release": {"tag_name": "churn@v2.0.0"}}, None),
    ]
    for event, payload, deployed_tag in events:
        (harness.artifacts / "deployed.txt").unlink(missing_ok=True)
        run = harness.run(event, payload, workflow=DEPLOY_WORKFLOW, run_id=next(RUN_IDS))
        assert run.succeeded, explain(run, api)
        if deployed_tag is None:
            assert not (harness.artifacts / "deployed.txt").exists()
            assert "nothing to deploy: tag churn@v2.0.0 is of model 'churn'" in run.output
        else:
            deployed = (harness.artifacts / "deployed.txt").read_text().split("\n")
            assert deployed[0] == f"{deployed_tag} {manifest['digest']}", (event, run.output[-3000:])
    assert api.violations == [], api.violations


def zipped(folder: Path) -> bytes:
    """The zip GitHub serves for an artifact uploaded from ``folder`` (paths relative to it)."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            bundle.write(file, file.relative_to(folder).as_posix())
    return buffer.getvalue()


def test_the_release_after_a_merge_promotes_the_model_the_pull_requests_check_uploaded(
    harness: ActHarness, release_repo: Path, api: GitHubReleasesStandIn
):
    api.add_pull_request(PR_NUMBER, state="closed")
    first = harness.run("push", push_payload(release_repo), workflow=RELEASE_WORKFLOW, run_id=next(RUN_IDS))
    assert first.succeeded, explain(first, api)

    number = PR_NUMBER + 1
    api.add_pull_request(number)
    git("checkout", "-q", "-b", "debt-to-income", cwd=release_repo)
    git("apply", str(EXAMPLE / "changes" / "add-debt-to-income.patch"), cwd=release_repo)
    git("commit", "-q", "-am", "Add debt to income", cwd=release_repo)
    head = git("rev-parse", "HEAD", cwd=release_repo)
    git("checkout", "-q", "--detach", "main", cwd=release_repo)  # what refs/pull/N/merge holds
    git("merge", "-q", "--no-ff", "-m", f"Merge {head} into main", "debt-to-income", cwd=release_repo)
    payload = pull_request_payload(
        number, repository=REPOSITORY, head_repository=REPOSITORY, head_ref="debt-to-income", head_sha=head
    )
    pr_run_id = next(RUN_IDS)
    pr_run = harness.run("pull_request", payload, workflow=PR_WORKFLOW, run_id=pr_run_id)
    assert pr_run.succeeded, explain(pr_run, api)
    [uploaded] = (harness.artifacts / str(pr_run_id)).glob(f"mlops-candidate-{MODEL}-*")
    assert uploaded.name == f"mlops-candidate-{MODEL}-" + git("rev-parse", "HEAD^{tree}", cwd=release_repo)
    assert sorted(p.name for p in uploaded.iterdir()) == ["mlops-result.json", "model"]
    checked = json.loads((uploaded / "model" / "metadata.json").read_text())
    api.add_artifact(uploaded.name, zipped(uploaded), run_id=pr_run_id)

    git("checkout", "-q", "main", cwd=release_repo)
    git("merge", "-q", "--squash", "debt-to-income", cwd=release_repo)
    git("commit", "-q", "-m", f"Add debt to income (#{number})", cwd=release_repo)
    merged = git("rev-parse", "HEAD", cwd=release_repo)
    second = harness.run("push", push_payload(release_repo), workflow=RELEASE_WORKFLOW, run_id=next(RUN_IDS))
    assert second.succeeded, explain(second, api)
    published = {r["tag_name"]: r for r in api.published()}
    release = published[f"{MODEL}@v1.1.0"]
    _card, manifest, _aliases = parse_description(release["body"])
    assert manifest is not None and manifest["commit"] == merged
    assert manifest["digest"] == checked["model_digest"]
    lineage = json.loads(api.asset_bytes(release["id"])["metadata.json"])["release"]
    assert lineage["model_source"] == "promoted" and f"of run {pr_run_id}" in lineage["model_source_reason"]
    assert lineage["baseline"] == {"source": "registry", "version": "1.0.0"}
    assert api.storage_tokens_seen == [] and api.violations == [], api.violations
    assert TOKEN not in pr_run.output + second.output
