"""The sticky comment belongs to us: a marker counts only on a comment written by the token's own identity.

Against the GitHub and GitLab stand-ins, through ``mlops-actions comment`` as CI runs it. Anyone who can
comment on a pull request can type the hidden marker; such a comment is never edited or deleted, and ours
is created beside it. Two jobs racing to post end with one comment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_actions.errors import ForgeError
from mlops_actions.platforms.comments import sticky_marker
from mlops_actions.platforms.github.comments import GitHubForge
from mlops_actions.platforms.gitlab.api import GitLabClient, Token
from mlops_actions.platforms.gitlab.comments import GitLabForge
from tests.hostile.conftest import assert_nothing_written, assert_one_line_error, run_cli, tree_snapshot
from tests.standins.fault_proxy import FaultProxy, Rule
from tests.standins.forge_sides import (
    MARKER,
    GitHubSide,
    Side,
    comment_args,
    side_of,
)

SPOOFED = f"{MARKER}\n| roc_auc | 0.999 |\n\n**Promoted: yes** (this comment was not written by the bot)"


def post(side: Side, result: Path, api_url: str | None = None, **env: str):
    return run_cli(
        comment_args(result, side), cwd=result.parent, env={**side.env(api_url or side.url), **env}
    )


def test_a_planted_marker_from_another_author_is_never_edited(side, result):
    planted = side.plant(SPOOFED, as_mallory=True)
    before = tree_snapshot(result.parent)
    run = post(side, result)
    assert run.code == 0, run.stderr
    assert "comment created" in run.stdout
    [spoofed] = [c for c in side.sticky() if c.id == planted]
    assert spoofed.body == SPOOFED and spoofed.author == "mallory"
    [ours] = side.ours()
    assert ours.id != planted and "0.999" not in ours.body
    assert side.writes() == ["POST", "POST"]  # mallory's plant, then ours: no edit, no delete
    assert_nothing_written(before, result.parent)


def test_a_planted_marker_newer_than_ours_is_not_deleted_as_a_duplicate(side, result):
    assert post(side, result).code == 0
    planted = side.plant(SPOOFED, as_mallory=True)
    run = post(side, result)
    assert run.code == 0, run.stderr
    assert "comment updated" in run.stdout
    assert [c.id for c in side.sticky()][1:] == [planted]
    assert [c.body for c in side.sticky() if c.id == planted] == [SPOOFED]
    assert "DELETE" not in side.writes()


def test_our_comment_is_edited_in_place_when_an_older_planted_marker_precedes_it(side, result):
    planted = side.plant(SPOOFED, as_mallory=True)
    ours = side.plant(f"{MARKER}\nan older report of ours", as_mallory=False)
    run = post(side, result)
    assert run.code == 0, run.stderr
    assert "comment updated" in run.stdout
    assert [c.id for c in side.sticky()] == [planted, ours]
    assert side.sticky()[0].body == SPOOFED
    assert "an older report" not in side.sticky()[1].body
    assert side.writes().count("POST") == 2  # the two plants; the post edited ours


def test_two_racing_comment_jobs_end_with_one_comment(side, result):
    with FaultProxy(side.url) as proxy:
        # Every create waits, so that both jobs list the thread before either comment exists.
        proxy.add(Rule("delay", method="POST", path=r"/(comments|notes)$", occurrences=None, seconds=3))
        env = {**side.env(proxy.url), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        jobs = [
            subprocess.Popen(
                [sys.executable, "-m", "mlops_actions", *comment_args(result, side)],
                cwd=result.parent,
                env={**os.environ, **env},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outcomes = [job.communicate(timeout=120) for job in jobs]
        assert [job.returncode for job in jobs] == [0, 0], outcomes
        assert len(proxy.applied("delay")) == 2  # both jobs created a comment: they raced
    assert len(side.ours()) == 1
    assert "DELETE" in side.writes()  # the younger duplicate was removed


def test_a_personal_token_recognises_its_own_comments_through_get_user(result):
    with side_of("github") as side:
        assert isinstance(side, GitHubSide)
        side.standin.user_tokens["ghp_release-manager-token-777"] = "release-manager"
        bot = side.plant(f"{MARKER}\nwritten by the Actions bot", as_mallory=False)
        side.standin.add_comment(7, f"{MARKER}\nan older report", user="release-manager")
        run = post(side, result, GITHUB_TOKEN="ghp_release-manager-token-777")
        assert run.code == 0, run.stderr
        assert "comment updated" in run.stdout
        by_id = {c.id: c for c in side.sticky()}
        assert by_id[bot].body.endswith("written by the Actions bot")
        [mine] = [c for c in side.sticky() if c.author == "release-manager"]
        assert "an older report" not in mine.body
        assert any(r.path == "/user" for r in side.standin.log)


def test_an_app_installation_token_named_by_its_slug_recognises_its_comments(result):
    with side_of("github") as side:
        assert isinstance(side, GitHubSide)
        side.standin.app_tokens["ghs_ci-app-installation-token-888"] = "ci-app"
        bot = side.plant(f"{MARKER}\nwritten by the Actions bot", as_mallory=False)
        side.standin.add_comment(7, f"{MARKER}\nthe app's older report", user="ci-app[bot]")
        run = post(
            side, result, GITHUB_TOKEN="ghs_ci-app-installation-token-888", MLOPS_GITHUB_APP_SLUG="ci-app"
        )
        assert run.code == 0, run.stderr
        assert "comment updated" in run.stdout
        assert {c.id: c for c in side.sticky()}[bot].body.endswith("written by the Actions bot")
        assert side.writes() == ["POST", "PATCH"]  # the plant, then the app's own comment edited


@pytest.mark.parametrize("slug", ["Not A Slug", "-app", "app/../x"], ids=["spaces", "leading-dash", "path"])
def test_a_malformed_app_slug_is_one_line_and_posts_nothing(result, slug):
    with side_of("github") as side:
        run = post(side, result, MLOPS_GITHUB_APP_SLUG=slug)
        assert_one_line_error(run, code=2, contains=["MLOPS_GITHUB_APP_SLUG", "GitHub App slug"])
        assert side.writes() == []


def test_a_token_that_cannot_tell_its_user_names_the_token_a_note_needs(tmp_path):
    with side_of("gitlab") as side:
        side.plant(SPOOFED, as_mallory=True)
        side.standin.job_tokens.add("glcbt-job-token-5555")
        client = GitLabClient(
            api_url=side.url,
            project="42",
            token=Token("JOB-TOKEN", "glcbt-job-token-5555", "CI_JOB_TOKEN"),
            sleep=lambda _: None,
        )
        forge = GitLabForge(client, merge_request_iid=1)
        with pytest.raises(ForgeError) as caught:
            forge.post_sticky_comment("report", key="churn")
        message = str(caught.value)
        assert "\n" not in message
        assert (
            "GET /user" in message and "MLOPS_GITLAB_TOKEN" in message and "project access token" in message
        )
        assert side.writes() == ["POST"]  # mallory's plant only
        assert [c.body for c in side.sticky()] == [SPOOFED]
        # GitLab refuses the job token at GET /user; the stand-in records that it was tried.
        assert side.standin.violations == [
            "getCurrentUser: sent with JOB-TOKEN, which GitLab does not accept here"
        ]
        side.standin.violations.clear()


def test_identity_is_asked_once_per_forge():
    with side_of("github") as side:
        assert isinstance(side, GitHubSide)
        side.standin.user_tokens["ghp_release-manager-token-777"] = "release-manager"
        for key in ("churn", "upsell"):
            side.standin.add_comment(7, f"{sticky_marker(key)}\nold", user="release-manager")
            side.plant(f"{sticky_marker(key)}\nplanted", as_mallory=True)
        forge = GitHubForge(
            repository="acme/app", token="ghp_release-manager-token-777", api_url=side.url, pr_number=7
        )
        assert [forge.post_sticky_comment("new", key=k).action for k in ("churn", "upsell")] == [
            "updated"
        ] * 2
        assert sum(1 for r in side.standin.log if r.path == "/user") == 1
        assert sorted(c.body.splitlines()[-1] for c in side.comments()) == [
            "new",
            "new",
            "planted",
            "planted",
        ]
