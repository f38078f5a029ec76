"""Bounded time and clean failures at every API: a fault proxy in front of the GitHub and GitLab stand-ins.

A server that trickles its answer fails within the deadline; a 2xx whose JSON is cut off or malformed is a
one-line error, never a traceback; a write that took effect before its answer was lost or garbled is
checked before it is repeated, so no comment, note, release or package file is duplicated or half-written.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from mlops_actions.errors import MlopsError
from mlops_actions.platforms.gitlab.packages import GitLabRegistry
from tests.hostile.conftest import assert_nothing_written, assert_one_line_error, run_cli, tree_snapshot
from tests.standins.fault_proxy import FaultProxy, Rule
from tests.standins.forge_sides import (
    GITLAB_JOB_TOKEN,
    MARKER,
    GitHubSide,
    Side,
    comment_args,
    side_of,
)

DEADLINE = 3.0
STARTUP_MARGIN = 12.0  # a CLI process starting on a busy machine
LIST = r"/(comments|notes)$"
ONE_COMMENT = r"/(comments|notes)/\d+$"


def post_through(proxy: FaultProxy, side: Side, result: Path, **env: str):
    """The CLI posting the comment through ``proxy``; its retries are sent without pausing."""
    return run_cli(
        comment_args(result, side),
        cwd=result.parent,
        env={**side.env(proxy.url), **env},
        timeout=180,
        retry_pauses=False,
    )


# -- bounded time -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "said"),
    [("trickle", "no complete answer from 127.0.0.1:"), ("trickle-headers", "no answer from 127.0.0.1:")],
    ids=["body", "headers"],
)
def test_a_trickled_answer_fails_within_the_deadline_naming_the_call_and_host(side, result, action, said):
    for index in range(3):
        side.plant(f"review remark {index}: " + "x" * 200, as_mallory=True)
    before = tree_snapshot(result.parent)
    with FaultProxy(side.url, max_seconds=90) as proxy:
        proxy.add(Rule(action, method="GET", path=LIST, seconds=0.5))
        started = time.monotonic()
        run = post_through(proxy, side, result, MLOPS_API_DEADLINE=str(DEADLINE))
        elapsed = time.monotonic() - started
        assert proxy.applied(action)
    line = assert_one_line_error(run, code=2, contains=["GET ", said, "MLOPS_API_DEADLINE"])
    assert f"within {DEADLINE:g} s" in line
    assert elapsed < DEADLINE + STARTUP_MARGIN, f"took {elapsed:.1f} s"
    assert side.writes() == ["POST"] * 3  # the plants: nothing posted
    assert_nothing_written(before, result.parent)


@pytest.mark.parametrize("value", ["soon", "0", "-5", "1e9"], ids=["word", "zero", "negative", "huge"])
def test_a_malformed_deadline_is_one_line_naming_the_variable(value, result):
    with side_of("github") as side:
        run = run_cli(
            comment_args(result, side),
            cwd=result.parent,
            env={**side.env(side.url), "MLOPS_API_DEADLINE": value},
        )
        assert_one_line_error(run, code=2, contains=["MLOPS_API_DEADLINE", "seconds", repr(value)])
        assert side.writes() == []


# -- malformed answers to reads ---------------------------------------------------------------------


def test_a_truncated_list_answer_is_read_again(side, result):
    side.plant("review remark", as_mallory=True)
    with FaultProxy(side.url) as proxy:
        proxy.add(Rule("truncate", method="GET", path=LIST))
        run = post_through(proxy, side, result)
        assert len(proxy.applied("truncate")) == 1
    assert run.code == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert len(side.ours()) == 1


@pytest.mark.parametrize(
    "body", [b'{"message": "ok"}', b"null", b'"comments"'], ids=["object", "null", "string"]
)
def test_a_list_answer_that_is_not_a_list_is_one_line_and_posts_nothing(side, result, body):
    with FaultProxy(side.url) as proxy:
        proxy.add(Rule("replace", method="GET", path=LIST, occurrences=None, body=body))
        run = post_through(proxy, side, result)
    assert_one_line_error(run, code=2, contains=["expected a list from GET"])
    assert side.writes() == []


def test_a_malformed_answer_about_the_tokens_own_user_is_one_line(result):
    with side_of("github") as side:
        assert isinstance(side, GitHubSide)
        side.standin.user_tokens["ghp_release-manager-token-777"] = "release-manager"
        side.plant(f"{MARKER}\nplanted", as_mallory=True)
        with FaultProxy(side.url) as proxy:
            proxy.add(Rule("replace", method="GET", path=r"/user$", occurrences=None, body=b"[]"))
            run = post_through(proxy, side, result, GITHUB_TOKEN="ghp_release-manager-token-777")
        assert_one_line_error(run, code=2, contains=["expected a JSON object from GET /user"])
        assert side.writes() == ["POST"]  # the plant only


# -- writes that took effect before their answer was lost or garbled --------------------------------


@pytest.mark.parametrize(
    ("action", "body"),
    [("truncate", b""), ("replace", b"<html><body>upstream hiccup</body></html>"), ("replace", b"[]")],
    ids=["truncated-json", "html", "a-list-not-a-comment"],
)
def test_a_create_answered_with_a_malformed_2xx_is_not_repeated(side, result, action, body):
    before = tree_snapshot(result.parent)
    with FaultProxy(side.url) as proxy:
        proxy.add(Rule(action, method="POST", path=LIST, body=body))
        run = post_through(proxy, side, result)
        [garbled] = proxy.applied(action)
        assert 200 <= garbled.status < 300
    assert run.code == 0, run.stderr
    assert "comment created" in run.stdout
    assert len(side.sticky()) == 1
    assert side.writes() == ["POST"]  # found on the second listing, not created again
    assert_nothing_written(before, result.parent)


def test_a_create_that_took_effect_before_a_502_leaves_exactly_one_comment(side, result):
    with FaultProxy(side.url) as proxy:
        proxy.add(Rule("error-after", method="POST", path=LIST, status=502))
        run = post_through(proxy, side, result)
        assert len(proxy.applied("error-after")) == 1
    assert run.code == 0, run.stderr
    assert len(side.sticky()) == 1
    assert side.writes() == ["POST"]


def test_an_edit_that_took_effect_before_a_500_is_sent_again_and_leaves_one_comment(side, result):
    ours = side.plant(f"{MARKER}\nan older report", as_mallory=False)
    with FaultProxy(side.url) as proxy:
        proxy.add(
            Rule(
                "error-after",
                method="PATCH" if side.name == "github" else "PUT",
                path=ONE_COMMENT,
                status=500,
            )
        )
        run = post_through(proxy, side, result)
        assert len(proxy.applied("error-after")) == 1
    assert run.code == 0, run.stderr
    [comment] = side.sticky()
    assert comment.id == ours and "an older report" not in comment.body
    assert "DELETE" not in side.writes() and side.writes().count("POST") == 1  # the plant


def test_a_create_garbled_every_time_gives_up_with_one_line_and_one_comment_at_most(side, result):
    """Each garbled create took effect: the second listing finds the first, so nothing is posted twice."""
    with FaultProxy(side.url) as proxy:
        proxy.add(Rule("truncate", method="POST", path=LIST, occurrences=None))
        proxy.add(Rule("truncate", method="GET", path=LIST, occurrences=(2, 3, 4, 5, 6)))
        run = post_through(proxy, side, result)
    assert_one_line_error(run, code=2, contains=["not valid JSON"])
    assert len(side.sticky()) == 1
    assert side.writes() == ["POST"]


# -- the GitLab registry: a release created and package files uploaded through the same faults ------

COMMIT = "c" * 40


def model_folder(root: Path) -> Path:
    folder = root / "model"
    folder.mkdir(parents=True)
    data = b"skops model bytes " * 64
    (folder / "model.skops").write_bytes(data)
    metadata = {
        "model_name": "churn",
        "model_digest": f"sha256:{hashlib.sha256(data).hexdigest()}",
        "git": {"commit": COMMIT, "branch": "main", "dirty": False},
        "data": {},
        "params": {},
    }
    (folder / "metadata.json").write_text(json.dumps(metadata))
    return folder


def gitlab_registry(url: str) -> GitLabRegistry:
    env = {"CI_API_V4_URL": url, "CI_PROJECT_ID": "42", "CI_JOB_TOKEN": GITLAB_JOB_TOKEN}
    return GitLabRegistry.from_options("churn", {}, env, sleep=lambda _: None)


@pytest.fixture
def gitlab_api():
    with side_of("gitlab") as side:
        side.standin.job_tokens.add(GITLAB_JOB_TOKEN)
        yield side.standin


@pytest.mark.parametrize(
    "rule",
    [
        Rule("truncate", method="POST", path=r"/releases$"),
        Rule("replace", method="POST", path=r"/releases$", body=b"<html>oops</html>"),
        Rule("error-after", method="PUT", path=r"/packages/generic/.*/model\.skops$", status=502),
        Rule("truncate", method="PUT", path=r"/packages/generic/.*/metadata\.json$"),
    ],
    ids=["release-create-truncated", "release-create-html", "upload-then-502", "upload-truncated"],
)
def test_a_registry_write_whose_answer_was_lost_or_garbled_is_published_once(gitlab_api, tmp_path, rule):
    folder = model_folder(tmp_path)
    with FaultProxy(gitlab_api.url) as proxy:
        proxy.add(rule)
        published = gitlab_registry(proxy.url).publish(folder, version="1.0.0", metrics={})
        assert len(proxy.applied(rule.action)) == 1
    assert published.version == "1.0.0"
    assert list(gitlab_api.releases) == ["churn@v1.0.0"]
    files = gitlab_api.packages[("churn", "1.0.0")].files
    assert sorted(f["file_name"] for f in files) == ["manifest.json", "metadata.json", "model.skops"]


def test_a_trickled_download_fails_within_the_transfer_deadline_and_leaves_no_file(
    gitlab_api, tmp_path, monkeypatch
):
    folder = model_folder(tmp_path)
    gitlab_registry(gitlab_api.url).publish(folder, version="1.0.0", metrics={})
    monkeypatch.setenv("MLOPS_TRANSFER_DEADLINE", str(DEADLINE))
    destination = tmp_path / "fetched"
    with FaultProxy(gitlab_api.url, max_seconds=90) as proxy:
        proxy.add(Rule("trickle", method="GET", path=r"/model\.skops$", seconds=0.5))
        started = time.monotonic()
        with pytest.raises(MlopsError) as caught:
            gitlab_registry(proxy.url).fetch("1.0.0", destination)
        elapsed = time.monotonic() - started
    message = str(caught.value)
    assert "\n" not in message and "MLOPS_TRANSFER_DEADLINE" in message and "model.skops" in message
    assert elapsed < DEADLINE + 3
    assert not (destination / "model.skops").exists()
    assert not [p for p in destination.iterdir() if p.name.startswith(".model.skops")]


# -- the GitHub Releases registry: a draft created whose answer was lost ----------------------------


@pytest.mark.parametrize(
    "rule",
    [
        Rule("error-after", method="POST", path=r"/releases$", status=502),
        Rule("truncate", method="POST", path=r"/releases$"),
    ],
    ids=["draft-create-then-502", "draft-create-truncated"],
)
def test_a_draft_release_whose_create_answer_was_lost_is_reused_not_created_twice(tmp_path, rule):
    from mlops_actions.platforms.github.releases import GitHubReleasesRegistry
    from tests.standins.github_releases import GitHubReleasesStandIn

    token, repository = "ghs_hostile-releases-token-9f2a", "acme/credit"
    folder = model_folder(tmp_path)
    with GitHubReleasesStandIn(token=token, repository=repository) as api, FaultProxy(api.url) as proxy:
        proxy.add(rule)
        env = {"GITHUB_API_URL": proxy.url, "GITHUB_REPOSITORY": repository, "GITHUB_TOKEN": token}
        registry = GitHubReleasesRegistry.from_options("churn", {}, env, sleep=lambda _: None)
        published = registry.publish(folder, version="1.0.0", metrics={})
        assert len(proxy.applied(rule.action)) == 1
        assert published.version == "1.0.0"
        assert [(r["tag_name"], r["draft"]) for r in api.releases.values()] == [("churn@v1.0.0", False)]
