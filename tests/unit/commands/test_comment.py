"""`mlops-actions comment`: post rendered results by hand and from the fork-safe workflow_run workflow."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_actions.commands import comment
from mlops_actions.errors import MlopsError
from mlops_actions.platforms.comments import sticky_marker
from tests.standins.github import GitHubStandIn

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "results"
TOKEN = "ghs_comment-test-token-5d1e"


def run_cli(*argv: str) -> int:
    """Parse ``argv`` as `mlops-actions comment ...` and run it."""
    parser = argparse.ArgumentParser(prog="mlops-actions")
    comment.register(parser.add_subparsers())
    args = parser.parse_args(["comment", *argv])
    return int(args.func(args))


def write_result(folder: Path, fixture: str = "pass_with_baseline.json", **changes: Any) -> Path:
    document = json.loads((FIXTURES / fixture).read_text())
    document.update(changes)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mlops-result.json"
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def api(start_github_standin: Callable[..., GitHubStandIn]) -> Iterator[GitHubStandIn]:
    standin = start_github_standin(token=TOKEN, repository="acme/app")
    standin.add_pull_request(7, author="octocat")
    standin.add_pull_request(8, author="forker")
    yield standin
    assert standin.violations == []


@pytest.fixture
def github_env(api: GitHubStandIn, monkeypatch: pytest.MonkeyPatch) -> GitHubStandIn:
    for name in (
        "GITHUB_EVENT_PATH",
        "GITHUB_EVENT_NAME",
        "MLOPS_PR_NUMBER",
        "MLOPS_FORGE",
        "MLOPS_GITHUB_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_API_URL", api.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/app")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    return api


def workflow_run_event(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, pull_requests: list[int]) -> None:
    event = {
        "workflow_run": {
            "id": 4321,
            "event": "pull_request",
            "html_url": "https://github.example/acme/app/actions/runs/4321",
            "pull_requests": [{"number": n} for n in pull_requests],
            "head_repository": {"full_name": "forker/app", "owner": {"login": "forker"}},
            "actor": {"login": "forker"},
        }
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "workflow_run")


def test_local_forge_writes_one_file_per_model_and_replaces_it(tmp_path, capsys):
    result = write_result(tmp_path / "out")
    comments = tmp_path / "comments"
    assert run_cli("--result", str(result), "--forge", "local", "--comment-dir", str(comments)) == 0
    assert run_cli("--result", str(result), "--forge", "local", "--comment-dir", str(comments)) == 0
    assert [p.name for p in comments.iterdir()] == ["churn.md"]
    assert (comments / "churn.md").read_text().startswith(sticky_marker("churn"))
    assert "comment updated for churn" in capsys.readouterr().out


def test_forge_none_prints_the_comment_and_posts_nothing(tmp_path, capsys, github_env):
    result = write_result(tmp_path / "out")
    assert run_cli("--result", str(result), "--forge", "none") == 0
    assert "| metric |" in capsys.readouterr().out
    assert github_env.log == []


def test_github_forge_posts_then_updates_the_sticky_comment(tmp_path, github_env):
    result = write_result(tmp_path / "out")
    assert run_cli("--result", str(result), "--forge", "github", "--pr", "7") == 0
    assert run_cli("--result", str(result), "--forge", "github", "--pr", "7") == 0
    [posted] = github_env.comments(7)
    assert posted["body"].startswith(sticky_marker("churn"))
    assert "| metric |" in posted["body"]


def test_a_directory_posts_one_comment_per_model(tmp_path, github_env):
    write_result(tmp_path / "artifacts" / "mlops-result-churn")
    write_result(tmp_path / "artifacts" / "mlops-result-house-prices", "regression.json")
    posted = comment.post_comments(tmp_path / "artifacts", forge_name="github", pr="7")
    assert sorted(p.model for p in posted) == ["churn", "house-prices"]
    markers = sorted(c["body"].splitlines()[0] for c in github_env.comments(7))
    assert markers == [sticky_marker("churn"), sticky_marker("house-prices")]


def test_an_invalid_result_posts_nothing_at_all(tmp_path, github_env):
    write_result(tmp_path / "artifacts" / "a")
    bad = write_result(tmp_path / "artifacts" / "b")
    document = json.loads(bad.read_text())
    del document["verdict"]
    bad.write_text(json.dumps(document))
    with pytest.raises(MlopsError, match="verdict") as error:
        comment.post_comments(tmp_path / "artifacts", forge_name="github", pr="7")
    assert error.value.exit_code == 2
    assert github_env.log == []


def test_a_hostile_model_name_is_refused_before_posting(tmp_path, github_env):
    result = write_result(tmp_path / "out", "hostile_strings.json")
    with pytest.raises(MlopsError, match="sticky comment key"):
        comment.post_comments(result, forge_name="github", pr="7")
    assert github_env.comments(7) == []


def test_workflow_run_posts_to_the_pull_request_the_artifact_names_after_checking_it(
    tmp_path, monkeypatch, github_env
):
    workflow_run_event(tmp_path, monkeypatch, pull_requests=[])
    artifact = tmp_path / "artifacts" / "mlops-result-churn"
    write_result(artifact, links={"run_url": "https://evil.example/phish"})
    (artifact / "pr-number").write_text("8\n")
    assert run_cli("--result", str(tmp_path / "artifacts"), "--forge", "github", "--pr-from-artifact") == 0
    [posted] = github_env.comments(8)
    assert "evil.example" not in posted["body"]
    assert "https://github.example/acme/app/actions/runs/4321" in posted["body"]


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("7", "opened by 'octocat'"),
        ("99", "HTTP 404"),
        ("7; curl evil", "positive integer"),
        ("-1", "positive integer"),
    ],
)
def test_workflow_run_refuses_a_pull_request_the_run_does_not_vouch_for(
    tmp_path, monkeypatch, github_env, number, message
):
    workflow_run_event(tmp_path, monkeypatch, pull_requests=[])
    artifact = tmp_path / "artifacts" / "mlops-result-churn"
    write_result(artifact)
    (artifact / "pr-number").write_text(number)
    with pytest.raises(MlopsError, match=message):
        comment.post_comments(tmp_path / "artifacts", forge_name="github", pr_from_artifact=True)
    assert github_env.writes() == []


def test_workflow_run_with_listed_pull_requests_trusts_only_those(tmp_path, monkeypatch, github_env):
    workflow_run_event(tmp_path, monkeypatch, pull_requests=[7])
    result = write_result(tmp_path / "out")
    with pytest.raises(MlopsError, match="not the triggering run's pull request"):
        comment.post_comments(result, forge_name="github", pr="8")
    comment.post_comments(result, forge_name="github", pr="7")
    assert len(github_env.comments(7)) == 1 and github_env.comments(8) == []


def test_workflow_run_without_a_pull_request_number_is_a_usage_error(tmp_path, monkeypatch, github_env):
    workflow_run_event(tmp_path, monkeypatch, pull_requests=[7])
    with pytest.raises(MlopsError, match="--pr: required in a workflow_run"):
        comment.post_comments(write_result(tmp_path / "out"), forge_name="github")


def test_artifacts_naming_different_pull_requests_are_refused(tmp_path, github_env):
    for name, number in (("a", "7"), ("b", "8")):
        write_result(tmp_path / "artifacts" / name)
        (tmp_path / "artifacts" / name / "pr-number").write_text(number)
    with pytest.raises(MlopsError, match="different pull requests"):
        comment.post_comments(tmp_path / "artifacts", forge_name="github", pr_from_artifact=True)


def test_a_missing_pr_number_file_is_named(tmp_path, github_env):
    write_result(tmp_path / "artifacts" / "a")
    with pytest.raises(MlopsError, match="pr-number: missing"):
        comment.post_comments(tmp_path / "artifacts", forge_name="github", pr_from_artifact=True)


def test_an_empty_artifact_folder_has_nothing_to_post(tmp_path, capsys, github_env):
    (tmp_path / "artifacts").mkdir()
    assert run_cli("--result", str(tmp_path / "artifacts"), "--forge", "github", "--pr-from-artifact") == 0
    assert "nothing to post" in capsys.readouterr().out
    assert github_env.log == []


def test_no_artifact_at_all_has_nothing_to_post(tmp_path, github_env):
    assert (
        comment.post_comments(tmp_path / "never-downloaded", forge_name="github", pr_from_artifact=True) == []
    )
    assert github_env.log == []


def test_a_missing_result_file_is_named(tmp_path):
    with pytest.raises(MlopsError, match=r"nope\.json: result file not found"):
        comment.post_comments(tmp_path / "nope.json", forge_name="none")


def test_pr_is_only_for_the_github_forge(tmp_path):
    with pytest.raises(MlopsError, match="--pr: only used with the github forge"):
        comment.post_comments(
            write_result(tmp_path / "out"), forge_name="local", pr="3", local_dir=tmp_path / "c"
        )


def test_options_default_from_the_environment(monkeypatch):
    monkeypatch.setenv("MLOPS_RESULT", "elsewhere/result.json")
    monkeypatch.setenv("MLOPS_PR_NUMBER", "12")
    monkeypatch.delenv("MLOPS_FORGE", raising=False)
    parser = argparse.ArgumentParser()
    comment.register(parser.add_subparsers())
    args = parser.parse_args(["comment"])
    assert (args.result, args.pr, args.forge) == ("elsewhere/result.json", "12", "auto")


def test_workflow_run_posts_an_error_result_over_the_pass_comment(tmp_path, monkeypatch, github_env):
    workflow_run_event(tmp_path, monkeypatch, pull_requests=[])
    artifact = tmp_path / "artifacts" / "mlops-result-churn"
    write_result(artifact)
    (artifact / "pr-number").write_text("8\n")
    assert run_cli("--result", str(tmp_path / "artifacts"), "--forge", "github", "--pr-from-artifact") == 0
    [passed] = github_env.comments(8)
    write_result(artifact, "error.json")
    assert run_cli("--result", str(tmp_path / "artifacts"), "--forge", "github", "--pr-from-artifact") == 0
    [posted] = github_env.comments(8)
    assert posted["id"] == passed["id"]
    assert posted["body"].startswith(sticky_marker("churn") + "\n## ⚠️ ERROR: model churn")
    assert "**Failed step:** training candidate" in posted["body"]
    assert "https://github.example/acme/app/actions/runs/4321" in posted["body"]
    assert "github.com/acme/churn" not in posted["body"]  # the artifact's own link is dropped
