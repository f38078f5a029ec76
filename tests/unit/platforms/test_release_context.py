"""What the release asks of the platform: the merged pull request's labels, the step outputs, the bump."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import E2E, GITHUB_TOKEN

from mlops_actions.errors import MlopsError
from mlops_actions.platforms.github.platform import GitHubPlatform
from mlops_actions.platforms.gitlab.platform import GitLabPlatform
from mlops_actions.platforms.local.platform import LocalPlatform
from mlops_actions.stages.release import choose_bump, pr_labels

sys.path.insert(0, str(E2E))
from github_releases_standin import GitHubReleasesStandIn


def test_the_labels_come_from_the_platform_given():
    with GitHubReleasesStandIn(token=GITHUB_TOKEN, repository="acme/app") as api:
        api.add_pull_request(3, state="closed")
        api.set_labels(3, ["release:patch"])
        env = {"GITHUB_API_URL": api.url, "GITHUB_REPOSITORY": "acme/app", "GITHUB_TOKEN": GITHUB_TOKEN}
        assert pr_labels(3, {}, GitHubPlatform(env)) == ["release:patch"]
        with pytest.raises(
            MlopsError, match=r"^release: cannot read the labels of pull request #9: .*pull-requests: read"
        ):
            pr_labels(9, {}, GitHubPlatform(env))
        assert api.violations == []
    merge_request = GitLabPlatform({"CI_MERGE_REQUEST_IID": "3", "CI_MERGE_REQUEST_LABELS": "release:major"})
    assert pr_labels(3, {}, merge_request) == ["release:major"]
    assert pr_labels(4, {}, merge_request) is None
    assert pr_labels(3, {}, LocalPlatform({})) is None


def test_the_step_outputs_and_summary_go_where_the_platform_keeps_them(tmp_path):
    outputs, summary = tmp_path / "outputs", tmp_path / "summary.md"
    github = GitHubPlatform({"GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary)})
    github.write_outputs({"tag": "churn@v1.2.0"}, "## Release churn@v1.2.0")
    assert "tag<<" in outputs.read_text() and "churn@v1.2.0" in outputs.read_text()
    assert summary.read_text() == "## Release churn@v1.2.0\n"
    LocalPlatform({}, state_dir=tmp_path / "s").write_outputs({"tag": "x"}, "summary")
    assert not (tmp_path / "s").exists()


def test_bump_commit_means_what_the_commit_says(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "--allow-empty",
         "-m", "x\n\nRelease-Bump: patch"],
        cwd=tmp_path,
        check=True,
    )  # fmt: skip
    assert choose_bump(tmp_path, {"MLOPS_BUMP": "commit"}, None, None) == (
        "patch",
        "the commit's Release-Bump trailer",
    )
    assert choose_bump(tmp_path, {}, "commit", ["release:major"])[0] == "patch"
