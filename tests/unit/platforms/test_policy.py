"""Who posts the sticky comment: one decision, a table of cases."""

from __future__ import annotations

import pytest

from mlops_actions.platforms import detect_platform
from mlops_actions.platforms.policy import comment_decision

GITHUB = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/app", "GITHUB_EVENT_NAME": "pull_request"}
GITLAB_MR = {"GITLAB_CI": "true", "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "3"}


@pytest.mark.parametrize(
    ("env", "event", "requested", "named", "post", "reason"),
    [
        (GITHUB, {}, "auto", False, True, "may write on #7"),
        (GITHUB, {"head_repository": "forker/app"}, "auto", False, False, "from a fork"),
        (
            {**GITHUB, "GITHUB_ACTOR": "dependabot[bot]"},
            {"author": "dependabot[bot]"},
            "auto",
            False,
            False,
            "started by Dependabot",
        ),
        (GITHUB, {"head_repository": "forker/app"}, "github", False, True, "--forge github"),
        (GITHUB, {}, "none", False, False, "--forge none"),
        (GITHUB, "workflow_run", "auto", True, True, "named explicitly"),
        (GITHUB, "push", "auto", False, True, "no change request"),
        (GITLAB_MR, None, "auto", False, False, "MLOPS_GITLAB_TOKEN is not set"),
        ({**GITLAB_MR, "MLOPS_GITLAB_TOKEN": "glpat-x"}, None, "auto", False, True, "may write on #3"),
        ({}, None, "auto", False, True, "the local platform's own comment"),
    ],
    ids=[
        "same-repository",
        "fork",
        "dependabot",
        "forced-github",
        "none",
        "comment-workflow",
        "push",
        "gitlab-without-token",
        "gitlab-with-token",
        "laptop",
    ],
)
def test_the_comment_decision(write_event, pr_event, env, event, requested, named, post, reason):
    """``event``: options of a pull_request event, or the name of another event."""
    if event == "workflow_run":
        env = {
            **env,
            "GITHUB_EVENT_NAME": "workflow_run",
            "GITHUB_EVENT_PATH": write_event({"workflow_run": {}}),
        }
    elif event == "push":
        env = {
            **env,
            "GITHUB_EVENT_NAME": "push",
            "GITHUB_EVENT_PATH": write_event({"ref": "refs/heads/main"}),
        }
    elif event is not None:
        env = {**env, "GITHUB_EVENT_PATH": write_event(pr_event(**event))}
    decision = comment_decision(detect_platform(env), requested, named=named)
    assert (decision.post, reason in decision.reason) == (post, True), decision.reason
