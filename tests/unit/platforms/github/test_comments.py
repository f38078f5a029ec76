"""The GitHub forge against the contract-enforcing stand-in of the GitHub API (loopback only)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator

import pytest

from mlops_actions.errors import ForgeError
from mlops_actions.platforms.comments import sticky_marker
from mlops_actions.platforms.github.comments import (
    MAX_COMMENT_CHARS,
    GitHubForge,
    parse_pr_number,
    truncate_body,
    verify_workflow_run_pr,
)
from tests.standins.github import GitHubStandIn

TOKEN = "ghs_unit-test-token-0123456789"


@pytest.fixture
def api(start_github_standin: Callable[..., GitHubStandIn]) -> Iterator[GitHubStandIn]:
    standin = start_github_standin(token=TOKEN)
    standin.add_pull_request(7, author="octocat")
    yield standin
    assert standin.violations == []


@pytest.fixture
def sleeps() -> list[float]:
    return []


def forge_for(api: GitHubStandIn, sleeps: list[float], **options: object) -> GitHubForge:
    settings: dict[str, object] = {"pr_number": 7, "sleep": sleeps.append, "token": TOKEN}
    settings.update(options)
    return GitHubForge(repository="acme/app", api_url=api.url, **settings)  # type: ignore[arg-type]


def sticky(api: GitHubStandIn, key: str, number: int = 7) -> list[dict[str, object]]:
    return [c for c in api.comments(number) if str(c["body"]).startswith(sticky_marker(key))]


def test_first_post_creates_one_comment_with_the_marker(api, sleeps):
    outcome = forge_for(api, sleeps).post_sticky_comment("| metric | Δ |", key="churn")
    [comment] = api.comments(7)
    assert outcome.action == "created"
    assert comment["body"] == f"{sticky_marker('churn')}\n| metric | Δ |"
    assert outcome.location == comment["html_url"]


def test_second_post_updates_the_same_comment_in_place(api, sleeps):
    forge = forge_for(api, sleeps)
    forge.post_sticky_comment("first", key="churn")
    outcome = forge.post_sticky_comment("second", key="churn")
    [comment] = api.comments(7)
    assert outcome.action == "updated"
    assert comment["body"].endswith("second")
    assert [r.method for r in api.writes()] == ["POST", "PATCH"]


def test_two_models_keep_one_comment_each(api, sleeps):
    forge = forge_for(api, sleeps)
    forge.post_sticky_comment("a1", key="model-a")
    forge.post_sticky_comment("b1", key="model-b")
    forge.post_sticky_comment("a2", key="model-a")
    assert [c["body"].splitlines()[-1] for c in sticky(api, "model-a")] == ["a2"]
    assert [c["body"].splitlines()[-1] for c in sticky(api, "model-b")] == ["b1"]


def test_comments_of_others_and_other_markers_are_never_touched(api, sleeps):
    api.add_comment(7, "LGTM", user="reviewer")
    api.add_comment(7, "<!-- other-bot:sticky churn -->\nnot ours", user="other-bot[bot]")
    api.add_comment(7, f"quoting it:\n{sticky_marker('churn')}", user="reviewer")
    forge_for(api, sleeps).post_sticky_comment("ours", key="churn")
    bodies = [c["body"] for c in api.comments(7)]
    assert bodies[:3] == [
        "LGTM",
        "<!-- other-bot:sticky churn -->\nnot ours",
        f"quoting it:\n{sticky_marker('churn')}",
    ]
    assert len(sticky(api, "churn")) == 1


def test_the_sticky_comment_is_found_beyond_the_first_page(api, sleeps):
    forge = forge_for(api, sleeps)
    forge.post_sticky_comment("old", key="churn")
    for i in range(250):
        api.add_comment(7, f"chatter {i}", user="reviewer")
    forge.post_sticky_comment("new", key="churn")
    assert [c["body"].splitlines()[-1] for c in sticky(api, "churn")] == ["new"]
    pages = [r.query.get("page", "1") for r in api.log if r.method == "GET"]
    assert pages[-3:] == ["1", "2", "3"]


def test_two_bad_gateways_then_success_ends_with_one_comment(api, sleeps):
    api.fail_next(2, 502)
    outcome = forge_for(api, sleeps).post_sticky_comment("body", key="churn")
    assert outcome.action == "created"
    assert len(api.comments(7)) == 1
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0]


def test_a_create_whose_answer_was_lost_is_not_duplicated(api, sleeps):
    api.fail_next(1, 502, method="POST", kind="lost-response")
    outcome = forge_for(api, sleeps).post_sticky_comment("body", key="churn")
    assert len(api.comments(7)) == 1
    assert outcome.action == "created"


def test_duplicates_from_a_race_are_removed_keeping_the_oldest(api, sleeps):
    marker = sticky_marker("churn")
    first = api.add_comment(7, f"{marker}\nrun 1", user="github-actions[bot]")
    api.add_comment(7, f"{marker}\nrun 2", user="github-actions[bot]")
    outcome = forge_for(api, sleeps).post_sticky_comment("run 3", key="churn")
    [comment] = sticky(api, "churn")
    assert comment["id"] == first and comment["body"].endswith("run 3")
    assert "1 duplicate" in outcome.detail


def test_secondary_rate_limit_waits_for_retry_after(api, sleeps):
    api.fail_next(1, 403, kind="secondary-rate-limit", retry_after=7)
    forge_for(api, sleeps).post_sticky_comment("body", key="churn")
    assert sleeps and sleeps[0] >= 7
    assert len(api.comments(7)) == 1


def test_429_is_retried_honouring_retry_after(api, sleeps):
    api.fail_next(1, 429, retry_after=3)
    forge_for(api, sleeps).post_sticky_comment("body", key="churn")
    assert sleeps and sleeps[0] >= 3


def test_persistent_5xx_gives_up_with_one_line(api, sleeps):
    api.fail_next(10, 503)
    with pytest.raises(ForgeError, match=r"giving up after 3 attempts: GET .*HTTP 503") as error:
        forge_for(api, sleeps, max_attempts=3).post_sticky_comment("body", key="churn")
    assert "\n" not in str(error.value)
    assert api.comments(7) == []


def test_read_only_token_names_the_permission_to_grant(api, sleeps):
    api.read_only_tokens.add("ghs_read-only")
    with pytest.raises(ForgeError, match=r"HTTP 403.*permissions: pull-requests: write") as error:
        forge_for(api, sleeps, token="ghs_read-only").post_sticky_comment("body", key="churn")
    assert "ghs_read-only" not in str(error.value)


def test_unknown_pull_request_is_a_404_naming_repository_and_permission(api, sleeps):
    with pytest.raises(ForgeError, match=r"HTTP 404.*GITHUB_REPOSITORY=acme/app.*pull-requests: write"):
        forge_for(api, sleeps, pr_number=99).post_sticky_comment("body", key="churn")


def test_the_token_never_appears_in_messages_or_repr(api, sleeps):
    forge = forge_for(api, sleeps)
    assert TOKEN not in repr(forge)
    forge_for(api, sleeps, pr_number=99)
    with pytest.raises(ForgeError) as error:
        forge_for(api, sleeps, pr_number=99).post_sticky_comment("body", key="churn")
    assert TOKEN not in str(error.value)


def test_bodies_over_the_limit_are_truncated_below_65536(api, sleeps):
    forge_for(api, sleeps).post_sticky_comment("| row |\n" * 20_000, key="churn")
    [comment] = api.comments(7)
    assert len(comment["body"]) <= MAX_COMMENT_CHARS < 65_536
    assert "truncated" in comment["body"]


def test_truncation_counts_utf16_units_and_cuts_at_a_line():
    text = "😀 line\n" * 20_000
    cut = truncate_body(text, limit=1000)
    assert len(cut.encode("utf-16-le")) // 2 <= 1000
    assert cut.split("\n_…")[0].rstrip("\n").endswith("😀 line")


def test_a_marker_breaking_key_is_refused(api, sleeps):
    with pytest.raises(ForgeError, match="sticky comment key"):
        forge_for(api, sleeps).post_sticky_comment("body", key="x --> <img src=x>")
    assert api.log == []


def test_enterprise_server_base_url_with_a_path_prefix(sleeps):
    with GitHubStandIn(token=TOKEN, prefix="/api/v3") as api:
        api.add_pull_request(3)
        for i in range(120):
            api.add_comment(3, f"chatter {i}")
        forge = GitHubForge(
            repository="acme/app", token=TOKEN, api_url=api.url + "/", pr_number=3, sleep=sleeps.append
        )
        forge.post_sticky_comment("x", key="m")
        forge.post_sticky_comment("y", key="m")
        assert len(api.comments(3)) == 121
        assert api.violations == []
        assert all(r.path.startswith("/api/v3/repos/") for r in api.log)


def test_pagination_links_to_another_host_are_refused(sleeps):
    forge = GitHubForge(repository="acme/app", token=TOKEN, api_url="https://ghe.example/api/v3", pr_number=1)
    with pytest.raises(ForgeError, match=re.escape("outside https://ghe.example/api/v3")):
        forge.request("GET", "https://evil.example/api/v3/repos/acme/app/issues/1/comments")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GITHUB_REPOSITORY": "acme/app"}, "GITHUB_TOKEN: not set"),
        ({"GITHUB_TOKEN": "x"}, "GITHUB_REPOSITORY: not set"),
        ({"GITHUB_TOKEN": "x", "GITHUB_REPOSITORY": "acme"}, "expected owner/name"),
        ({"GITHUB_TOKEN": "x", "GITHUB_REPOSITORY": "a/b", "GITHUB_API_URL": "ftp://x"}, "GITHUB_API_URL"),
        ({"GITHUB_TOKEN": "x", "GITHUB_REPOSITORY": "a/b", "MLOPS_PR_NUMBER": "7; rm"}, "positive integer"),
    ],
)
def test_bad_environment_is_one_clear_line(env, message):
    with pytest.raises(ForgeError, match=message):
        GitHubForge.from_environment(env)


def test_environment_gives_api_url_token_repository_and_pr_from_the_event(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"number": 12, "pull_request": {"number": 12}}))
    forge = GitHubForge.from_environment(
        {
            "GITHUB_API_URL": "https://ghe.example/api/v3",
            "GITHUB_REPOSITORY": "acme/app",
            "GITHUB_TOKEN": "ghs_a",
            "MLOPS_GITHUB_TOKEN": "ghp_b",
            "GITHUB_EVENT_PATH": str(event),
        }
    )
    assert (forge.api_url, forge.repository, forge.pr_number) == (
        "https://ghe.example/api/v3",
        "acme/app",
        12,
    )
    assert forge.client._headers("application/vnd.github+json", None)["Authorization"] == "Bearer ghp_b"


def test_a_push_event_has_no_pull_request_and_posting_says_so(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"ref": "refs/heads/main"}))
    forge = GitHubForge.from_environment(
        {"GITHUB_REPOSITORY": "a/b", "GITHUB_TOKEN": "x", "GITHUB_EVENT_PATH": str(event)}
    )
    with pytest.raises(ForgeError, match="MLOPS_PR_NUMBER"):
        forge.post_sticky_comment("x", key="m")


@pytest.mark.parametrize("text", ["0", "-3", "3.0", "1e3", "", " ", "12\n13", "99999999999", True])
def test_pull_request_numbers_must_be_positive_integers(text):
    with pytest.raises(ForgeError, match="positive integer"):
        parse_pr_number(text)


def test_pull_request_number_accepts_plain_digits():
    assert parse_pr_number(" 42\n") == 42
    assert parse_pr_number(42) == 42


def workflow_run(pull_requests=(), owner="forker", actor="forker"):
    return {
        "workflow_run": {
            "id": 99,
            "event": "pull_request",
            "pull_requests": [{"number": n} for n in pull_requests],
            "head_repository": {"full_name": f"{owner}/app", "owner": {"login": owner}},
            "actor": {"login": actor},
        }
    }


def test_workflow_run_pr_must_be_one_github_lists(api, sleeps):
    forge = forge_for(api, sleeps)
    assert verify_workflow_run_pr(forge, workflow_run([7]), 7) == 7
    with pytest.raises(ForgeError, match="not the triggering run's pull request"):
        verify_workflow_run_pr(forge, workflow_run([7]), 8)


def test_fork_pr_must_be_open_and_opened_by_the_head_owner(api, sleeps):
    api.add_pull_request(8, author="forker")
    api.add_pull_request(9, author="forker", state="closed")
    forge = forge_for(api, sleeps)
    assert verify_workflow_run_pr(forge, workflow_run(), 8) == 8
    with pytest.raises(ForgeError, match="opened by 'octocat'"):
        verify_workflow_run_pr(forge, workflow_run(), 7)
    with pytest.raises(ForgeError, match="closed, not open"):
        verify_workflow_run_pr(forge, workflow_run(), 9)


def test_workflow_run_of_a_push_is_refused(api, sleeps):
    event = workflow_run([7])
    event["workflow_run"]["event"] = "push"
    with pytest.raises(ForgeError, match="not a pull request"):
        verify_workflow_run_pr(forge_for(api, sleeps), event, 7)


def test_a_moved_repository_is_named_not_followed(api, sleeps):
    api.fail_next(1, 301)
    with pytest.raises(ForgeError, match=r"HTTP 301.*update GITHUB_REPOSITORY"):
        forge_for(api, sleeps).post_sticky_comment("body", key="churn")
    assert api.comments(7) == []
