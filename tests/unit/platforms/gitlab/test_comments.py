"""The GitLab forge against the contract-enforcing stand-in of the GitLab API (loopback only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from mlops_actions.errors import ForgeError
from mlops_actions.platforms import get_forge
from mlops_actions.platforms.comments import sticky_marker
from mlops_actions.platforms.gitlab.api import GitLabClient, Token
from mlops_actions.platforms.gitlab.comments import MAX_NOTE_CHARS, GitLabForge, parse_iid, truncate_note
from tests.standins.gitlab import GitLabStandIn

TOKEN = "glpat-unit-test-token-0123456789"
READ_ONLY = "glpat-read-only-token-4242"
JOB_TOKEN = "glcbt-unit-job-token-5555"


@pytest.fixture
def api(start_gitlab_standin: Callable[..., GitLabStandIn]) -> Iterator[GitLabStandIn]:
    standin = start_gitlab_standin(
        tokens={TOKEN: "api", READ_ONLY: "read_api"},
        job_tokens={JOB_TOKEN},
        merge_requests=(7,),
        max_per_page=3,
    )
    yield standin
    assert standin.violations == []


@pytest.fixture
def sleeps() -> list[float]:
    return []


def forge_for(
    api: GitLabStandIn, sleeps: list[float], token: str = TOKEN, iid: int | None = 7
) -> GitLabForge:
    client = GitLabClient(
        api_url=api.url,
        project="acme/credit",
        token=Token("PRIVATE-TOKEN", token, "MLOPS_GITLAB_TOKEN"),
        sleep=sleeps.append,
    )
    return GitLabForge(client, merge_request_iid=iid, project_url="https://gitlab.example.com/acme/credit")


def sticky(api: GitLabStandIn, key: str) -> list[dict[str, object]]:
    return [n for n in api.mr_notes(7) if str(n["body"]).startswith(sticky_marker(key))]


def test_first_post_creates_one_note_with_the_marker(api, sleeps):
    outcome = forge_for(api, sleeps).post_sticky_comment("| metric | Δ |", key="churn")
    [note] = api.mr_notes(7)
    assert outcome.action == "created"
    assert note["body"] == f"{sticky_marker('churn')}\n| metric | Δ |"
    assert outcome.location == f"https://gitlab.example.com/acme/credit/-/merge_requests/7#note_{note['id']}"


def test_second_post_updates_the_same_note_in_place(api, sleeps):
    forge = forge_for(api, sleeps)
    forge.post_sticky_comment("first", key="churn")
    outcome = forge.post_sticky_comment("second", key="churn")
    [note] = api.mr_notes(7)
    assert outcome.action == "updated"
    assert note["body"].endswith("second")
    assert [s.method for s in api.writes()] == ["POST", "PUT"]


def test_the_marker_is_found_beyond_the_first_page_and_other_notes_are_untouched(api, sleeps):
    for index in range(7):
        api.add_note(7, f"review remark {index}")
    forge = forge_for(api, sleeps)
    forge.post_sticky_comment("one", key="churn")
    for index in range(4):
        api.add_note(7, f"later remark {index}")
    forge.post_sticky_comment("two", key="churn")
    assert [n["body"].splitlines()[-1] for n in sticky(api, "churn")] == ["two"]
    assert len(api.mr_notes(7)) == 12
    # pages of 3: the list before the create, the list after it (a racing job's note?), the second post's
    assert sum(1 for s in api.seen if s.operation == "listMergeRequestNotes") == 3 + 3 + 4


def test_system_notes_carrying_the_marker_are_ignored(api, sleeps):
    api.add_note(7, f"{sticky_marker('churn')}\nquoted by a system note", system=True)
    forge_for(api, sleeps).post_sticky_comment("ours", key="churn")
    bodies = [n["body"] for n in api.mr_notes(7) if not n["system"]]
    assert bodies == [f"{sticky_marker('churn')}\nours"]


def test_two_models_keep_one_note_each(api, sleeps):
    forge = forge_for(api, sleeps)
    forge.post_sticky_comment("a1", key="model-a")
    forge.post_sticky_comment("b1", key="model-b")
    forge.post_sticky_comment("a2", key="model-a")
    assert [n["body"].splitlines()[-1] for n in sticky(api, "model-a")] == ["a2"]
    assert [n["body"].splitlines()[-1] for n in sticky(api, "model-b")] == ["b1"]


def test_502_twice_then_success_leaves_exactly_one_note(api, sleeps):
    api.fail_next(
        2, status=502, operations={"listMergeRequestNotes", "createMergeRequestNote"}, after_effect=True
    )
    outcome = forge_for(api, sleeps).post_sticky_comment("body", key="churn")
    assert outcome.action == "created"
    assert len(sticky(api, "churn")) == 1
    assert len(sleeps) == 2


def test_a_create_whose_response_was_lost_is_not_repeated(api, sleeps):
    api.fail_next(1, status=502, operations={"createMergeRequestNote"}, after_effect=True)
    outcome = forge_for(api, sleeps).post_sticky_comment("body", key="churn")
    assert outcome.action == "created"
    assert len(sticky(api, "churn")) == 1
    assert [s.method for s in api.writes()] == ["POST"]


def test_429_waits_as_long_as_retry_after_says(api, sleeps):
    api.fail_next(1, status=429, retry_after="7")
    forge_for(api, sleeps).post_sticky_comment("body", key="churn")
    assert sleeps and sleeps[0] >= 7.0


def test_duplicates_of_the_same_author_are_removed(api, sleeps):
    forge = forge_for(api, sleeps)
    forge.post_sticky_comment("one", key="churn")
    bot = api.mr_notes(7)[0]["author"]
    api.add_note(7, f"{sticky_marker('churn')}\nrace duplicate", author=bot)
    outcome = forge.post_sticky_comment("two", key="churn")
    assert outcome.detail == "removed 1 duplicate(s)"
    assert [n["body"].splitlines()[-1] for n in sticky(api, "churn")] == ["two"]


def test_giving_up_after_persistent_502_names_the_request(api, sleeps):
    api.fail_next(10, status=502)
    with pytest.raises(
        ForgeError,
        match=r"giving up after 5 attempts: GET /projects/acme%2Fcredit/merge_requests/7/notes: HTTP 502",
    ):
        forge_for(api, sleeps).post_sticky_comment("body", key="churn")


def test_401_names_the_variable_and_the_scope(api, sleeps):
    with pytest.raises(ForgeError) as raised:
        forge_for(api, sleeps, token="glpat-revoked-999").post_sticky_comment("body", key="churn")
    message = str(raised.value)
    assert "HTTP 401" in message and "MLOPS_GITLAB_TOKEN" in message and "scope `api`" in message
    assert "CI_JOB_TOKEN cannot write merge request notes" in message
    assert "glpat-revoked-999" not in message
    assert "\n" not in message


def test_403_for_a_read_only_token_names_the_scope_and_role(api, sleeps):
    with pytest.raises(ForgeError) as raised:
        forge_for(api, sleeps, token=READ_ONLY).post_sticky_comment("body", key="churn")
    message = str(raised.value)
    assert "HTTP 403: insufficient_scope" in message
    assert "may not write merge request notes: it needs scope `api` and at least the Reporter role" in message


def test_404_says_the_project_or_merge_request_is_not_visible(api, sleeps):
    with pytest.raises(
        ForgeError, match=r"HTTP 404.*not visible to the token in MLOPS_GITLAB_TOKEN.*Reporter role"
    ):
        forge_for(api, sleeps, iid=99).post_sticky_comment("body", key="churn")


def test_a_branch_pipeline_skips_the_note(api, sleeps):
    outcome = forge_for(api, sleeps, iid=None).post_sticky_comment("body", key="churn")
    assert outcome.action == "skipped"
    assert api.seen == []


def test_without_a_private_token_the_job_token_is_not_used_for_notes(api, monkeypatch):
    env = {
        "CI_API_V4_URL": api.url,
        "CI_PROJECT_ID": "42",
        "CI_MERGE_REQUEST_IID": "7",
        "CI_JOB_TOKEN": JOB_TOKEN,
    }
    forge = GitLabForge.from_environment(env)
    with pytest.raises(
        ForgeError, match=r"^MLOPS_GITLAB_TOKEN: not set; .*CI_JOB_TOKEN cannot write merge request notes"
    ):
        forge.post_sticky_comment("body", key="churn")
    assert api.seen == []


def test_from_environment_reads_the_api_url_project_and_merge_request(api, monkeypatch):
    for key, value in {
        "CI_API_V4_URL": api.url,
        "CI_PROJECT_ID": "42",
        "CI_MERGE_REQUEST_IID": "7",
        "CI_PROJECT_URL": "https://gitlab.example.com/acme/credit",
        "MLOPS_GITLAB_TOKEN": TOKEN,
        "GITLAB_CI": "true",
    }.items():
        monkeypatch.setenv(key, value)
    forge = get_forge("auto")
    assert isinstance(forge, GitLabForge)
    assert forge.post_sticky_comment("hello", key="churn").action == "created"
    assert api.seen[0].path == "/api/v4/projects/42/merge_requests/7/notes"
    assert TOKEN not in repr(forge)


def test_the_stand_in_refuses_note_writes_with_the_job_token_like_gitlab(api, sleeps):
    client = GitLabClient(api_url=api.url, project="42", token=Token("JOB-TOKEN", JOB_TOKEN, "CI_JOB_TOKEN"))
    with pytest.raises(ForgeError, match="HTTP 401"):
        GitLabForge(client, merge_request_iid=7).post_sticky_comment("body", key="churn")
    assert api.violations == [
        "createMergeRequestNote: sent with JOB-TOKEN, which GitLab does not accept here"
    ]
    api.violations.clear()


@pytest.mark.parametrize("text", ["0", "-3", "abc", "7 ", "1e3", ""])
def test_parse_iid_rejects_what_is_not_a_positive_integer(text):
    if text.strip() == "7":
        assert parse_iid(text) == 7
        return
    with pytest.raises(ForgeError, match="CI_MERGE_REQUEST_IID: expected a merge request IID"):
        parse_iid(text)


def test_notes_longer_than_gitlabs_limit_are_cut_at_a_line_with_a_note():
    body = "\n".join("x" * 99 for _ in range(20_000))
    cut = truncate_note(body)
    assert len(cut) <= MAX_NOTE_CHARS
    assert cut.endswith("the full report is in the job artifacts._\n")
    assert truncate_note("short") == "short"
