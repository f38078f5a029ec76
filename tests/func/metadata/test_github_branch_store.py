"""The data branch through GitHub's REST API keeps the store's contract against the stand-in, which refuses
any call outside the contract: a lost answer is re-checked, not repeated; a writer that lost the race to
another retries, and both records survive."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mlops_actions.errors import StoreError
from mlops_actions.metadata.base import MetadataStore
from mlops_actions.metadata.records import record_line
from mlops_actions.platforms.github.api import GitHubClient
from mlops_actions.platforms.github.metadata import READ_BRANCH, GitHubBranchStore
from tests.metadata_contract import StoreContract, sample_record
from tests.standins.fault_proxy import FaultProxy, Rule
from tests.standins.github_data_branch import GitHubDataBranchStandIn

BRANCH = "mlops-metadata"
MONTH_FILE = "runs/churn/2026-12.jsonl"


def store_at(api_url: str, token: str, **options: Any) -> GitHubBranchStore:
    client = GitHubClient(repository="acme/app", token=token, api_url=api_url, sleep=lambda s: None)
    return GitHubBranchStore(client, BRANCH, **options)


@pytest.fixture
def api(start_github_data_branch_standin) -> Iterator[GitHubDataBranchStandIn]:
    api = start_github_data_branch_standin()
    yield api
    assert api.violations == []  # every call of the store was within the contract


def plant_bad_line(api: GitHubDataBranchStandIn) -> Callable[[MetadataStore], None]:
    def corrupt(store: MetadataStore) -> None:
        text = api.branch_files(BRANCH)[MONTH_FILE]
        api.commit_files(BRANCH, {MONTH_FILE: text + '{"id": "ffff'}, "a writer cut short")

    return corrupt


class TestGitHubBranchStore(StoreContract):
    records_per_writer = 3  # 4 writers x 3 records: every round of writes but one meets a conflict

    @pytest.fixture
    def store(self, api: GitHubDataBranchStandIn) -> Iterator[MetadataStore]:
        store = store_at(api.url, api.token)
        yield store
        store.close()

    @pytest.fixture
    def open_again(self, api: GitHubDataBranchStandIn) -> Callable[[], MetadataStore]:
        options = {"branch": BRANCH, "repository": "acme/app", "api_url": api.url}
        return functools.partial(GitHubBranchStore.from_options, options, {"GITHUB_TOKEN": api.token})

    @pytest.fixture
    def corrupt(self, api: GitHubDataBranchStandIn) -> Callable[[MetadataStore], None]:
        return plant_bad_line(api)


def test_records_are_one_commit_each_in_the_models_month_file(api):
    store = store_at(api.url, api.token)
    first = sample_record()
    second = sample_record(
        model="fraud", started_at="2027-01-05T08:00:00Z", stage="release", verdict="released"
    )
    store.append(first)
    store.append(second)
    assert api.branch_files(BRANCH) == {
        MONTH_FILE: record_line(first),
        "runs/fraud/2027-01.jsonl": record_line(second),
    }
    assert api.branch_log(BRANCH) == [
        f"Record the release of fraud ({second.id})",
        f"Record the check of churn ({first.id})",
    ]


def test_existing_files_of_the_branch_are_kept(api):
    api.commit_files(BRANCH, {"README.md": "records of runs\n"})
    store_at(api.url, api.token).append(sample_record())
    assert set(api.branch_files(BRANCH)) == {"README.md", MONTH_FILE}


@pytest.mark.parametrize(
    ("seeded", "method"),
    [(True, "PATCH"), (False, "POST")],
    ids=["the ref update", "the branch creation"],
)
def test_a_ref_write_whose_answer_was_lost_is_checked_and_not_appended_twice(api, seeded, method):
    if seeded:
        api.commit_files(BRANCH, {"README.md": "records of runs\n"})
    record = sample_record()
    with FaultProxy(api.url) as proxy:
        proxy.add(Rule("error-after", method=method, path=r"/git/refs"))
        store_at(proxy.url, api.token).append(record)
        assert len(proxy.applied("error-after")) == 1
        ref_writes = [
            p for p in proxy.log if p.path.split("/git/")[-1].startswith("refs") and p.method != "GET"
        ]
    assert len(ref_writes) == 1  # re-read, found, not sent again
    assert api.branch_files(BRANCH)[MONTH_FILE] == record_line(record)
    assert len(api.branch_log(BRANCH)) == (2 if seeded else 1)


@pytest.mark.parametrize("seeded", [True, False], ids=["onto the branch", "creating the branch"])
def test_a_writer_that_another_overtook_between_read_and_write_retries_and_both_records_survive(api, seeded):
    if seeded:
        api.commit_files(BRANCH, {"README.md": "records of runs\n"})
    ours = sample_record(started_at="2026-12-02T10:00:00Z")
    theirs = sample_record(started_at="2026-12-02T10:00:01Z")
    rival = store_at(api.url, api.token)
    overtaken = []

    def overtake() -> None:
        if not overtaken:
            overtaken.append(True)
            rival.append(theirs)

    api.before_ref_update = overtake
    store_at(api.url, api.token).append(ours)
    refused = [r for r in api.log if r.status == 422 and "/git/ref" in r.path]
    assert len(refused) == 1  # our first compare-and-swap lost to the rival's write
    assert api.branch_files(BRANCH)[MONTH_FILE] == record_line(theirs) + record_line(ours)
    assert [r.id for r in store_at(api.url, api.token).list_records().records] == [ours.id, theirs.id]


def test_a_writer_that_always_loses_gives_up_saying_how_often_it_tried(api):
    api.commit_files(BRANCH, {"README.md": "records of runs\n"})
    api.before_ref_update = lambda: api.commit_files(BRANCH, {"other.txt": str(len(api.log))})
    store = store_at(api.url, api.token, sleep=lambda seconds: None)
    with pytest.raises(StoreError) as gave_up:
        store.append(sample_record())
    assert str(gave_up.value).startswith(f"github data branch acme/app@{BRANCH}: record ")
    assert "not stored after 8 attempts (other writers moved the branch each time)" in str(gave_up.value)
    assert MONTH_FILE not in api.branch_files(BRANCH)


def test_a_token_that_may_not_write_is_told_which_permission_to_grant(api):
    api.read_only_tokens.add("ghs_read-only")
    with pytest.raises(StoreError) as refused:
        store_at(api.url, "ghs_read-only").append(sample_record())
    message = str(refused.value)
    assert "\n" not in message and "ghs_read-only" not in message
    assert message.startswith(f"github data branch acme/app@{BRANCH}: GitHub refused POST ")
    assert "permissions: contents: write" in message


def test_a_file_too_large_for_the_contents_api_is_one_line_naming_it(api):
    api.commit_files(BRANCH, {MONTH_FILE: "x" * (1024 * 1024 + 1)})
    with pytest.raises(
        StoreError, match=rf"{MONTH_FILE} cannot be read through the contents API \(encoding 'none'"
    ):
        store_at(api.url, api.token).list_records()


def test_the_stand_in_refuses_a_call_outside_the_contract(api):
    client = GitHubClient(repository="acme/app", token=api.token, api_url=api.url, sleep=lambda s: None)
    response = client.request(
        "GET", client.repo_path("/git/trees/" + "0" * 40), access=READ_BRANCH, allowed=frozenset({404})
    )
    assert response.status_code == 404
    assert api.violations == [f"GET /repos/acme/app/git/trees/{'0' * 40}: no such operation in the contract"]
    api.violations.clear()


def test_the_repository_api_and_branch_come_from_the_options_and_the_token_from_the_environment(api):
    store = GitHubBranchStore.from_options(
        {"repository": "acme/app", "api_url": api.url, "branch": "runs-data"},
        {"MLOPS_GITHUB_TOKEN": api.token},
    )
    store.append(sample_record())
    assert set(api.branch_files("runs-data")) == {MONTH_FILE}
    with pytest.raises(StoreError, match="github metadata store: GITHUB_TOKEN: not set"):
        GitHubBranchStore.from_options({"repository": "acme/app"}, {})


def test_a_github_registry_records_its_runs_on_the_data_branch_of_its_repository(api, tmp_path):
    from mlops_actions.domain.config import parse_config
    from mlops_actions.metadata import open_store

    doc = {
        "version": 1,
        "model": {"name": "churn", "task": "binary"},
        "train": {"entrypoint": "pkg.mod:fit"},
        "data": {"train": "train.csv", "target": "y"},
        "registry": {"backend": "github", "repository": "acme/app", "api_url": api.url},
    }
    store = open_store(parse_config(doc, tmp_path / "mlops.yaml"), env={"GITHUB_TOKEN": api.token})
    assert isinstance(store, GitHubBranchStore)
    store.append(sample_record())
    assert set(api.branch_files(BRANCH)) == {MONTH_FILE}


def test_a_lost_answer_to_the_last_attempt_is_checked_before_giving_up(api):
    api.commit_files(BRANCH, {"README.md": "records of runs\n"})
    record = sample_record()
    with FaultProxy(api.url) as proxy:
        proxy.add(Rule("error-after", method="PATCH", path=r"/git/refs", occurrences=None))
        store_at(proxy.url, api.token, attempts=1).append(record)
        assert len(proxy.applied("error-after")) == 1
    assert api.branch_files(BRANCH)[MONTH_FILE] == record_line(record)
