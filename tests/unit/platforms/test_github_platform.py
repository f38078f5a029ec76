"""The GitHub platform: the pull request of the event, the run link, the job outputs, issues, dispatch."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import E2E, GITHUB_TOKEN

from mlops_actions.errors import ForgeError, MlopsError
from mlops_actions.platforms.github.platform import GitHubPlatform
from mlops_actions.platforms.issues import issue_marker

sys.path.insert(0, str(E2E))
from github_releases_standin import GitHubReleasesStandIn


def platform_of(api, **env) -> GitHubPlatform:
    base = {"GITHUB_API_URL": api.url, "GITHUB_REPOSITORY": "acme/app", "GITHUB_TOKEN": GITHUB_TOKEN}
    return GitHubPlatform({**base, **env}, sleep=lambda seconds: None)


def test_the_change_request_comes_from_the_event_payload(write_event, pr_event):
    env = {"GITHUB_REPOSITORY": "acme/app", "GITHUB_ACTOR": "octocat"}
    event = write_event(pr_event(labels=("release:major", "docs")))
    change = GitHubPlatform({**env, "GITHUB_EVENT_PATH": event}).change_request()
    assert change is not None
    assert (change.number, change.title, change.labels) == (7, "Tune the model", ("release:major", "docs"))
    assert (change.base_ref, change.head_ref, change.head_sha) == ("main", "tune", "a" * 40)
    assert (change.from_fork, change.author, change.can_write) == (False, "octocat", True)


def test_a_fork_or_dependabot_gets_a_read_only_change_request(write_event, pr_event):
    fork = GitHubPlatform({"GITHUB_EVENT_PATH": write_event(pr_event(head_repository="forker/app"))})
    change = fork.change_request()
    assert change is not None and change.from_fork and not change.can_write
    assert "fork" in change.read_only_reason
    bot = GitHubPlatform(
        {
            "GITHUB_ACTOR": "dependabot[bot]",
            "GITHUB_EVENT_PATH": write_event(pr_event(author="dependabot[bot]")),
        }
    )
    change = bot.change_request()
    assert change is not None and not change.from_fork and not change.can_write
    assert "Dependabot" in change.read_only_reason


def test_a_push_has_no_change_request_unless_one_is_named(write_event):
    env = {"GITHUB_EVENT_PATH": write_event({"ref": "refs/heads/main"}), "GITHUB_REF_NAME": "main"}
    assert GitHubPlatform(env).change_request() is None
    assert GitHubPlatform(env).branch() == "main"
    named = GitHubPlatform({**env, "MLOPS_PR_NUMBER": "12"}).change_request()
    assert named is not None and named.number == 12


def test_the_run_link_is_this_run_or_the_triggering_run(write_event):
    env = {"GITHUB_SERVER_URL": "https://ghe.example", "GITHUB_REPOSITORY": "acme/app", "GITHUB_RUN_ID": "9"}
    assert GitHubPlatform(env).links().as_dict() == {"run_url": "https://ghe.example/acme/app/actions/runs/9"}
    triggered = {
        **env,
        "GITHUB_EVENT_NAME": "workflow_run",
        "GITHUB_EVENT_PATH": write_event(
            {"workflow_run": {"html_url": "https://ghe.example/acme/app/actions/runs/4"}}
        ),
    }
    assert GitHubPlatform(triggered).links().run_url == "https://ghe.example/acme/app/actions/runs/4"
    assert GitHubPlatform({}).links().as_dict() == {}


def test_the_job_summary_writes_the_step_outputs_and_the_candidate_artifact(tmp_path, capsys):
    outputs, summary = tmp_path / "outputs", tmp_path / "summary.md"
    platform = GitHubPlatform({"GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary)})
    result = {"verdict": "fail", "model": {"name": "churn"}, "reasons": ["accuracy fell"]}
    written = platform.publish_job_summary(
        result, "## report", {"result": str(tmp_path / "mlops-result.json")}
    )
    assert written["verdict"] == "fail" and written["candidate-artifact"] == ""
    assert "candidate-artifact<<" in outputs.read_text() and summary.read_text() == "## report\n"
    assert "::error title=mlops-actions%3A churn gate failed::accuracy fell" in capsys.readouterr().out


def test_outside_a_pull_request_the_comment_is_skipped(github_api):
    posted = platform_of(github_api).post_sticky_comment("body", key="churn")
    assert posted.action == "skipped"
    assert github_api.log == []


def test_the_issue_of_a_key_is_opened_once_then_updated_in_place(github_api):
    platform = platform_of(github_api)
    assert platform.find_issue("churn") is None
    opened = platform.open_issue("churn", title="churn drifts", body="window 1", labels=("mlops",))
    again = platform.open_issue("churn", title="churn still drifts", body="window 2")
    assert again.number == opened.number and again.state == "open"
    [issue] = github_api.issues()
    assert issue["body"] == f"{issue_marker('churn')}\nwindow 2" and issue["title"] == "churn still drifts"
    assert [label["name"] for label in issue["labels"]] == ["mlops"]
    assert platform.find_issue("churn") == again


def test_a_marker_in_someone_elses_issue_is_ignored(github_api):
    github_api.add_issue(40, f"{issue_marker('churn')}\nfake", author="mallory")
    platform = platform_of(github_api)
    assert platform.find_issue("churn") is None
    opened = platform.open_issue("churn", title="churn drifts", body="real")
    assert opened.number != 40
    assert [i["body"] for i in github_api.issues() if i["number"] == 40] == [f"{issue_marker('churn')}\nfake"]


def test_closing_the_issue_comments_on_it_first(github_api):
    platform = platform_of(github_api)
    opened = platform.open_issue("churn", title="churn drifts", body="window 1")
    closed = platform.close_issue(opened, comment="back to normal")
    assert closed.state == "closed"
    assert [c["body"] for c in github_api.comments(opened.number)] == ["back to normal"]
    assert platform.find_issue("churn") is None


def test_an_issue_create_whose_answer_was_lost_is_not_repeated(github_api):
    platform = platform_of(github_api)
    github_api.fail_next(1, 502, method="POST", kind="lost-response")
    platform.open_issue("churn", title="churn drifts", body="once")
    assert len(github_api.issues()) == 1


def test_a_refused_issue_write_is_one_line_naming_the_permission(github_api):
    github_api.read_only_tokens.add("ghs_read-only")
    platform = GitHubPlatform(
        {"GITHUB_API_URL": github_api.url, "GITHUB_REPOSITORY": "acme/app", "GITHUB_TOKEN": "ghs_read-only"}
    )
    with pytest.raises(ForgeError, match="issues: write"):
        platform.open_issue("churn", title="t", body="b")


def test_dispatch_starts_the_workflow_on_the_branch():
    with GitHubReleasesStandIn(token=GITHUB_TOKEN, repository="acme/app") as api:
        sent = platform_of(api).dispatch(
            "mlops-deploy.yml", ref="main", inputs={"version-tag": "churn@v1.2.0"}
        )
        assert sent.location == "acme/app" and sent.ref == "main"
        assert api.dispatches == [
            {"workflow_id": "mlops-deploy.yml", "ref": "main", "inputs": {"version-tag": "churn@v1.2.0"}}
        ]
        with pytest.raises(MlopsError, match="workflow file name"):
            platform_of(api).dispatch("../evil", ref="main", inputs={})
        assert api.violations == []


def test_there_is_no_candidate_without_an_artifact(tmp_path):
    with GitHubReleasesStandIn(token=GITHUB_TOKEN, repository="acme/app") as api:
        found, why = platform_of(api).fetch_candidate("churn", "f" * 40, tmp_path / "candidate")
        assert found is None and "no artifact mlops-candidate-churn-" in why
        assert not Path(tmp_path / "candidate").exists()
        assert api.violations == []
