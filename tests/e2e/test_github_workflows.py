"""The GitHub workflows run for real under act against the contract-enforcing GitHub API stand-in.

A temporary git repository holds example_project (main plus pull-request branches) with its caller
workflows, which are copies of ci_templates/github. Each test gets a fresh API stand-in; every request and
response must match the OpenAPI contract (``api.violations`` stays empty).
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlops_actions.platforms.comments import sticky_marker
from tests.e2e.act_harness import (
    REPO_ROOT,
    REPOSITORY,
    ActHarness,
    ActRun,
    Prepared,
    example_repository,
    git,
    pinned_actions,
    prepare_venv,
    pull_request_payload,
    workflow_run_payload,
)
from tests.standins.github import GitHubStandIn

pytestmark = pytest.mark.e2e

MODEL = "credit-default"
WRITE_TOKEN = "ghs_e2e-write-token-4f9a1c"
FORK_TOKEN = "ghs_e2e-fork-read-only-77b2"
PR_WORKFLOW = ".github/workflows/mlops-pr.yml"
COMMENT_WORKFLOW = ".github/workflows/mlops-pr-comment.yml"
RUN_IDS = itertools.count(9100)


@pytest.fixture
def api(start_github_standin: Callable[..., GitHubStandIn]) -> GitHubStandIn:
    standin = start_github_standin(token=WRITE_TOKEN, repository=REPOSITORY)
    standin.read_only_tokens.add(FORK_TOKEN)
    return standin


@pytest.fixture
def harness(act_env: Prepared, act_example_repo: Path, api: GitHubStandIn, tmp_path: Path) -> ActHarness:
    return ActHarness(
        act=act_env.act,
        repo=act_example_repo,
        venv=act_env.venv,
        artifacts=act_env.root / "artifacts",
        cache=tmp_path / "act",
        api_url=api.url,
        token=WRITE_TOKEN,
    )


def run_pr(harness: ActHarness, number: int, branch: str, *, fork: bool = False) -> tuple[ActRun, int]:
    """Run the example's PR workflow (the caller of mlops-pr.yml) for ``branch`` as pull request ``number``."""
    git("checkout", "-q", branch, cwd=harness.repo)
    head = git("rev-parse", "HEAD", cwd=harness.repo)
    head_repository = "forker/credit" if fork else REPOSITORY
    payload = pull_request_payload(
        number,
        repository=REPOSITORY,
        head_repository=head_repository,
        head_ref=branch,
        head_sha=head,
        author="forker" if fork else "octocat",
    )
    run_id = next(RUN_IDS)
    run = harness.run(
        "pull_request", payload, workflow=PR_WORKFLOW, run_id=run_id, token=FORK_TOKEN if fork else None
    )
    return run, run_id


def artifact_dir(harness: ActHarness, run_id: int) -> Path:
    return harness.artifacts / str(run_id) / f"mlops-result-{MODEL}"


def result_of(harness: ActHarness, run_id: int) -> dict[str, Any]:
    return json.loads((artifact_dir(harness, run_id) / "mlops-result.json").read_text())


def candidate_artifacts(harness: ActHarness, run_id: int) -> list[str]:
    """The models a run offered for promotion (artifacts mlops-candidate-*)."""
    return sorted(p.name for p in (harness.artifacts / str(run_id)).glob("mlops-candidate-*"))


def tree_of(harness: ActHarness) -> str:
    return git("rev-parse", "HEAD^{tree}", cwd=harness.repo)


def sticky_comments(api: GitHubStandIn, number: int) -> list[dict[str, Any]]:
    return [c for c in api.comments(number) if c["body"].startswith(sticky_marker(MODEL))]


def has_metrics_table(body: str, result: dict[str, Any]) -> bool:
    from mlops_actions.render import escape_md

    rows = [line for line in body.splitlines() if line.startswith("|")]
    labels = [str(escape_md(m["label"])) for m in result["metrics"]]
    return bool(labels) and all(any(label in row for row in rows) for label in labels)


def explain(run: ActRun, api: GitHubStandIn) -> str:
    requests = "\n".join(f"{r.method} {r.path} -> {r.status}" for r in api.log)
    return f"act exit {run.returncode} after {run.seconds:.0f}s\n{run.output[-6000:]}\nAPI:\n{requests}"


def assert_clean(run: ActRun, api: GitHubStandIn) -> None:
    assert api.violations == [], api.violations
    for token in (WRITE_TOKEN, FORK_TOKEN):
        assert token not in run.output


def test_harness_runs_the_composite_action_with_a_local_install(
    act_env, act_example_repo, api, harness, tmp_path
):
    """action.yml installs the helper from a local wheel (a fresh venv) and runs `comment` on a result."""
    repo = example_repository(tmp_path / "action-proof", {})
    fixtures = repo / "fixtures"
    fixtures.mkdir()
    shutil.copy2(
        REPO_ROOT / "tests" / "fixtures" / "results" / "pass_with_baseline.json",
        fixtures / "mlops-result.json",
    )
    [checkout] = [ref for ref in pinned_actions() if ref.startswith("actions/checkout@")]
    workflow = repo / ".github" / "workflows" / "action-proof.yml"
    workflow.write_text(
        f"""name: action proof
on: pull_request
permissions: {{}}
jobs:
  proof:
    runs-on: ubuntu-latest
    permissions:
      contents: read
      pull-requests: write
    steps:
      - uses: {checkout}
        with:
          persist-credentials: false
      - id: mlops
        uses: mlops-actions/mlops-actions@v0
        with:
          install: {act_env.wheel}
          command: comment --result fixtures/mlops-result.json --forge github
"""
    )
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "action proof", cwd=repo)
    bare_venv = prepare_venv(tmp_path / "bare", act_env.wheel, install=False)
    harness.repo = repo
    api.add_pull_request(3)
    payload = pull_request_payload(
        3,
        repository=REPOSITORY,
        head_repository=REPOSITORY,
        head_ref="main",
        head_sha=git("rev-parse", "HEAD", cwd=repo),
    )
    run = harness.run(
        "pull_request",
        payload,
        workflow=".github/workflows/action-proof.yml",
        run_id=next(RUN_IDS),
        env={"MLOPS_E2E_VENV": str(bare_venv)},
    )
    assert run.succeeded, explain(run, api)
    assert (bare_venv / "bin" / "mlops-actions").is_file()  # installed from the local wheel by action.yml
    [comment] = api.comments(3)
    assert comment["body"].startswith(sticky_marker("churn"))
    assert_clean(run, api)


def test_first_run_creates_one_comment_and_the_second_updates_it(api, harness):
    number = 11
    api.add_pull_request(number)
    for i in range(120):  # the sticky comment lands on the second page of comments
        api.add_comment(number, f"review remark {i}", user="reviewer")

    first, first_id = run_pr(harness, number, "docs-only")
    assert first.succeeded, explain(first, api)
    [comment] = sticky_comments(api, number)
    result = result_of(harness, first_id)
    assert result["verdict"] == "pass"
    assert has_metrics_table(comment["body"], result), comment["body"]
    assert [r.method for r in api.writes()] == ["POST"]
    assert (artifact_dir(harness, first_id) / "pr-number").read_text().strip() == str(number)
    assert candidate_artifacts(harness, first_id) == [f"mlops-candidate-{MODEL}-{tree_of(harness)}"]
    assert "Job succeeded" in first.output
    assert "Summary - ## " in first.output  # the report went to the job summary
    assert "::error title=" not in first.output
    assert_clean(first, api)

    git("checkout", "-q", "docs-only", cwd=harness.repo)
    git("commit", "-q", "--allow-empty", "-m", "Another push to the pull request", cwd=harness.repo)
    second, second_id = run_pr(harness, number, "docs-only")
    assert second.succeeded, explain(second, api)
    [updated] = sticky_comments(api, number)
    assert updated["id"] == comment["id"]
    assert updated["body"] != comment["body"]
    assert has_metrics_table(updated["body"], result_of(harness, second_id))
    assert [r.method for r in api.writes()] == ["POST", "PATCH"]
    assert len(api.comments(number)) == 121
    assert_clean(second, api)


def test_a_degrading_branch_fails_the_job_and_the_comment_states_the_failed_rule(api, harness):
    number = 12
    api.add_pull_request(number)
    run, run_id = run_pr(harness, number, "broken-feature")
    assert not run.succeeded, explain(run, api)
    result = result_of(harness, run_id)
    assert result["verdict"] == "fail"
    assert candidate_artifacts(harness, run_id) == []  # a failing model is never offered for promotion
    assert any(rule["status"] == "fail" for rule in result["rules"])
    [comment] = sticky_comments(api, number)
    from mlops_actions.render import escape_md

    for reason in result["reasons"]:
        assert str(escape_md(reason)) in comment["body"]
    annotation = f"::error title=mlops-actions%3A {MODEL} gate failed::"
    assert run.output.count(annotation) == min(len(result["reasons"]), 10)
    assert "Summary - ## " in run.output  # the report went to the job summary
    assert_clean(run, api)


def test_a_fork_run_posts_nothing_and_the_comment_workflow_posts_from_the_artifact(api, harness):
    number = 13
    api.add_pull_request(number, author="forker")
    api.add_pull_request(14, author="maintainer")
    pr_run, run_id = run_pr(harness, number, "fork-docs", fork=True)
    assert pr_run.succeeded, explain(pr_run, api)
    assert api.log == []  # the read-only fork token was not even tried
    assert (artifact_dir(harness, run_id) / "mlops-result.json").is_file()
    assert result_of(harness, run_id)["verdict"] == "pass"
    assert candidate_artifacts(harness, run_id) == []  # a fork's model is never offered for promotion

    payload = workflow_run_payload(
        run_id,
        repository=REPOSITORY,
        head_repository="forker/credit",
        head_branch="fork-docs",
        head_sha=git("rev-parse", "fork-docs", cwd=harness.repo),
        actor="forker",
        conclusion="success",
    )
    comment_run = harness.run("workflow_run", payload, workflow=COMMENT_WORKFLOW, run_id=next(RUN_IDS))
    assert comment_run.succeeded, explain(comment_run, api)
    assert "checkout stand-in" not in comment_run.output  # no pull-request code was checked out
    [comment] = sticky_comments(api, number)
    assert has_metrics_table(comment["body"], result_of(harness, run_id))
    assert api.comments(14) == []
    assert_clean(comment_run, api)

    # An artifact that names another pull request is refused, and nothing is posted there.
    (artifact_dir(harness, run_id) / "pr-number").write_text("14\n")
    tampered = harness.run("workflow_run", payload, workflow=COMMENT_WORKFLOW, run_id=next(RUN_IDS))
    assert not tampered.succeeded, explain(tampered, api)
    assert "refusing to comment" in tampered.output
    assert api.comments(14) == []
    assert len(sticky_comments(api, number)) == 1
    assert_clean(tampered, api)


def test_two_bad_gateways_then_success_still_end_with_exactly_one_comment(api, harness):
    number = 15
    api.add_pull_request(number)
    api.fail_next(2, 502)
    run, _ = run_pr(harness, number, "docs-only")
    assert run.succeeded, explain(run, api)
    assert [r.status for r in api.log[:2]] == [502, 502]
    assert len(sticky_comments(api, number)) == 1
    assert len(api.comments(number)) == 1
    assert_clean(run, api)
