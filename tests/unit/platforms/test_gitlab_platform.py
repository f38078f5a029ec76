"""The GitLab platform: the merge request of the variables, the job links, the reports, issues, pipelines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import GITLAB_JOB_TOKEN, GITLAB_TOKEN

from mlops_actions.errors import ForgeError
from mlops_actions.platforms.gitlab.job import DOTENV_FILE, JUNIT_FILE
from mlops_actions.platforms.gitlab.platform import GitLabPlatform
from mlops_actions.platforms.issues import issue_marker

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "results"
MERGE_REQUEST = {
    "GITLAB_CI": "true",
    "CI_PROJECT_ID": "42",
    "CI_MERGE_REQUEST_IID": "3",
    "CI_MERGE_REQUEST_TITLE": "Tune the model",
    "CI_MERGE_REQUEST_LABELS": "release:patch,docs",
    "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "tune",
    "CI_MERGE_REQUEST_PROJECT_ID": "42",
    "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "42",
}


def platform_of(api, **env) -> GitLabPlatform:
    return GitLabPlatform(
        {"CI_API_V4_URL": api.url, "CI_PROJECT_ID": "42", "MLOPS_GITLAB_TOKEN": GITLAB_TOKEN, **env}
    )


def test_the_change_request_comes_from_the_merge_request_variables():
    change = GitLabPlatform({**MERGE_REQUEST, "MLOPS_GITLAB_TOKEN": "glpat-x"}).change_request()
    assert change is not None
    assert (change.number, change.title, change.labels) == (3, "Tune the model", ("release:patch", "docs"))
    assert (change.base_ref, change.head_ref, change.from_fork, change.can_write) == (
        "main",
        "tune",
        False,
        True,
    )
    forked = GitLabPlatform({**MERGE_REQUEST, "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "77"}).change_request()
    assert forked is not None and forked.from_fork


def test_without_a_write_token_the_change_request_says_why_it_is_read_only():
    change = GitLabPlatform({**MERGE_REQUEST, "CI_JOB_TOKEN": GITLAB_JOB_TOKEN}).change_request()
    assert change is not None and not change.can_write
    assert "MLOPS_GITLAB_TOKEN is not set" in change.read_only_reason
    assert GitLabPlatform({"GITLAB_CI": "true", "CI_COMMIT_BRANCH": "main"}).change_request() is None


def test_the_links_name_the_job_and_the_html_report_among_its_artifacts(tmp_path):
    env = {
        "CI_JOB_URL": "https://gitlab.example.com/acme/credit/-/jobs/5",
        "CI_PIPELINE_URL": "https://gitlab.example.com/acme/credit/-/pipelines/2",
        "CI_PROJECT_DIR": str(tmp_path),
    }
    links = GitLabPlatform(env).links({"html": str(tmp_path / "mlops-out" / "report.html")})
    assert links.run_url == "https://gitlab.example.com/acme/credit/-/pipelines/2"
    assert links.as_dict() == {
        "run_url": "https://gitlab.example.com/acme/credit/-/jobs/5",
        "html_report": "https://gitlab.example.com/acme/credit/-/jobs/5/artifacts/file/mlops-out/report.html",
    }


def test_the_job_reports_carry_the_links_the_result_was_rendered_with(tmp_path):
    result = json.loads((FIXTURES / "pass_with_baseline.json").read_text())
    result["links"] = {"html_report": "https://gitlab.example.com/j/5/artifacts/file/report.html"}
    written = GitLabPlatform({}).publish_job_summary(
        result, "md", {"result": str(tmp_path / "mlops-result.json")}
    )
    assert set(written) == {"junit", "dotenv"} and (tmp_path / JUNIT_FILE).is_file()
    assert "MLOPS_REPORT_URL=https://gitlab.example.com/j/5" in (tmp_path / DOTENV_FILE).read_text()


def test_the_issue_of_a_key_is_opened_once_updated_and_closed_with_a_note(gitlab_api):
    platform = platform_of(gitlab_api)
    gitlab_api.add_issue(f"{issue_marker('churn')}\nsomeone else's")  # a marker by another user: ignored
    for n in range(3):
        gitlab_api.add_issue(f"churn issue {n}")  # more than a page of search hits
    opened = platform.open_issue("churn", title="churn drifts", body="window 1", labels=("mlops", "drift"))
    again = platform.open_issue("churn", title="churn still drifts", body="window 2")
    assert again.number == opened.number == 5
    issue = gitlab_api.issues[5]
    assert issue["description"] == f"{issue_marker('churn')}\nwindow 2" and issue["labels"] == [
        "mlops",
        "drift",
    ]
    closed = platform.close_issue(again, comment="back to normal")
    assert closed.state == "closed" and gitlab_api.issues[5]["state"] == "closed"
    assert [n["body"] for n in gitlab_api.issue_notes[5]] == ["back to normal"]
    assert platform.find_issue("churn") is None
    assert gitlab_api.issues[1]["state"] == "opened"


def test_issues_need_the_write_token(gitlab_api):
    platform = GitLabPlatform(
        {"CI_API_V4_URL": gitlab_api.url, "CI_PROJECT_ID": "42", "CI_JOB_TOKEN": GITLAB_JOB_TOKEN}
    )
    with pytest.raises(
        ForgeError, match=r"^MLOPS_GITLAB_TOKEN: not set; needed to keep the monitoring issue"
    ):
        platform.find_issue("churn")
    assert gitlab_api.seen == []


def test_dispatch_starts_a_pipeline_with_the_inputs_as_variables(gitlab_api):
    sent = platform_of(gitlab_api).dispatch("deploy", ref="main", inputs={"version-tag": "churn@v1.2.0"})
    [pipeline] = gitlab_api.pipelines
    assert pipeline["ref"] == "main"
    assert pipeline["variables"] == {"MLOPS_DISPATCH": "deploy", "MLOPS_VERSION_TAG": "churn@v1.2.0"}
    assert sent.location == pipeline["web_url"]


def test_a_pipeline_whose_answer_was_lost_is_not_started_twice(gitlab_api):
    gitlab_api.fail_next(1, status=502, operations={"createPipeline"}, after_effect=True)
    with pytest.raises(ForgeError, match="HTTP 502"):
        platform_of(gitlab_api).dispatch("deploy", ref="main", inputs={})
    assert len(gitlab_api.pipelines) == 1


def test_there_is_no_candidate_artifact_on_gitlab(tmp_path):
    found, why = GitLabPlatform({}).fetch_candidate("churn", "f" * 40, tmp_path)
    assert found is None and "retrains" in why
