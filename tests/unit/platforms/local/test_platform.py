"""The local platform: the comment, the dispatches and the issues are files under .mlops/."""

from __future__ import annotations

import json

import pytest

from mlops_actions.errors import MlopsError
from mlops_actions.platforms.comments import sticky_marker
from mlops_actions.platforms.issues import issue_marker
from mlops_actions.platforms.local.platform import LocalPlatform


def test_a_laptop_has_no_change_request_no_links_and_no_job_summary(tmp_path):
    platform = LocalPlatform({}, state_dir=tmp_path)
    assert platform.change_request() is None and platform.links().as_dict() == {}
    assert platform.publish_job_summary({}, "md", {}) == {}
    assert platform.fetch_candidate("churn", "f" * 40, tmp_path / "c")[0] is None


def test_the_comment_is_a_file_per_model(tmp_path):
    platform = LocalPlatform({}, state_dir=tmp_path, echo=False)
    assert platform.post_sticky_comment("one", key="churn").action == "created"
    assert platform.post_sticky_comment("two", key="churn").action == "updated"
    assert (tmp_path / "comments" / "churn.md").read_text() == f"{sticky_marker('churn')}\ntwo"


def test_a_dispatch_is_recorded_as_a_json_file(tmp_path):
    platform = LocalPlatform({}, state_dir=tmp_path)
    sent = platform.dispatch("mlops-deploy.yml", ref="main", inputs={"version-tag": "churn@v1.2.0"})
    [recorded] = (tmp_path / "dispatches").iterdir()
    assert str(recorded) == sent.location and recorded.name.endswith("-mlops-deploy.yml.json")
    assert json.loads(recorded.read_text()) == {
        "target": "mlops-deploy.yml",
        "ref": "main",
        "inputs": {"version-tag": "churn@v1.2.0"},
    }
    platform.dispatch("mlops-deploy.yml", ref="main", inputs={})
    assert len(list((tmp_path / "dispatches").iterdir())) == 2


def test_the_issue_of_a_key_is_one_markdown_file_opened_updated_and_closed(tmp_path):
    platform = LocalPlatform({}, state_dir=tmp_path)
    assert platform.find_issue("churn") is None
    opened = platform.open_issue("churn", title="churn drifts", body="window 1", labels=("mlops",))
    platform.open_issue("churn", title="churn drifts", body="window 2")
    path = tmp_path / "issues" / "churn.md"
    text = path.read_text()
    assert text.startswith(issue_marker("churn")) and "window 2" in text and "window 1" not in text
    assert platform.find_issue("churn") == opened
    closed = platform.close_issue(opened, comment="back to normal")
    assert closed.state == "closed" and platform.find_issue("churn") is None
    assert "state: closed" in path.read_text() and path.read_text().rstrip().endswith("back to normal")


def test_an_issue_key_that_is_no_name_is_refused(tmp_path):
    with pytest.raises(MlopsError, match="issue key: expected a name"):
        LocalPlatform({}, state_dir=tmp_path).open_issue("../escape", title="t", body="b")


def test_a_scoped_issue_key_is_one_file_whose_labels_body_and_comments_are_kept(tmp_path):
    platform = LocalPlatform({}, state_dir=tmp_path)
    platform.open_issue(
        "monitor:churn", title="churn fails", body="window 1", labels=("mlops", "severity:high")
    )
    found = platform.find_issue("monitor:churn")
    assert found is not None and found.labels == ("mlops", "severity:high") and "window 1" in found.body
    platform.comment_on_issue(found, "newly failing: stability")
    path = tmp_path / "issues" / "monitor--churn.md"
    assert path.read_text().rstrip().endswith("newly failing: stability")
    with pytest.raises(MlopsError, match="issue key: expected a name"):
        platform.find_issue("../monitor:churn")
