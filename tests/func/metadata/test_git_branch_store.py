"""The data branch pushed with git (the GitLab backend) keeps the store's contract, against a bare repository
as the remote, and never touches the clone's work tree, index or current branch."""

from __future__ import annotations

import functools
import hashlib
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlops_actions.errors import StoreError
from mlops_actions.metadata import branch
from mlops_actions.metadata.base import MetadataStore
from mlops_actions.metadata.git_branch import GitBranchStore
from tests.conftest import run_git
from tests.metadata_contract import StoreContract, sample_record

BRANCH = "mlops-metadata"


def make_clone(tmp_path: Path) -> Path:
    """A bare repository as the remote and a clone of it with one commit on main and a dirty work tree."""
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", str(remote)], check=True)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(remote), str(clone)], check=True, capture_output=True)
    (clone / "mlops.yaml").write_text("format: 1\n")
    run_git(clone, "checkout", "-q", "-b", "main")
    run_git(clone, "add", "mlops.yaml")
    run_git(clone, "commit", "-q", "-m", "initial")
    run_git(clone, "push", "-q", "origin", "main")
    (clone / "mlops.yaml").write_text("format: 1\n# an edit not yet committed\n")
    (clone / "staged.txt").write_text("staged\n")
    run_git(clone, "add", "staged.txt")
    return clone


def branch_files(clone: Path) -> dict[str, str]:
    """The files of the data branch on the remote, read from a fresh clone of it."""
    run_git(clone, "fetch", "-q", "origin", f"+refs/heads/{BRANCH}:refs/remotes/origin/{BRANCH}")
    names = run_git(clone, "ls-tree", "-r", "--name-only", f"origin/{BRANCH}").splitlines()
    return {name: run_git(clone, "show", f"origin/{BRANCH}:{name}") for name in names}


def plant_bad_line(store: MetadataStore) -> None:
    """A line cut mid-write, pushed onto the month's file as another writer would leave it."""
    assert isinstance(store, GitBranchStore)
    head = store.head()
    assert head is not None
    path = "runs/churn/2026-12.jsonl"
    assert store.write(head, path, store.read(head, path) + '{"id": "ffff', "a writer cut short")


class TestGitBranchStore(StoreContract):
    records_per_writer = 3  # 4 writers x 3 records: every push but one per round meets another

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[MetadataStore]:
        store = GitBranchStore(make_clone(tmp_path), remote="origin", branch=BRANCH)
        yield store
        store.close()

    @pytest.fixture
    def open_again(self, store: GitBranchStore) -> Callable[[], MetadataStore]:
        return functools.partial(GitBranchStore, store.repo, remote="origin", branch=BRANCH)

    @pytest.fixture
    def corrupt(self) -> Callable[[MetadataStore], None]:
        return plant_bad_line


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    return make_clone(tmp_path)


def clone_state(clone: Path) -> tuple[str, ...]:
    index = (clone / ".git" / "index").read_bytes()
    return (
        run_git(clone, "rev-parse", "HEAD"),
        run_git(clone, "symbolic-ref", "HEAD"),
        run_git(clone, "status", "--porcelain"),
        hashlib.sha256(index).hexdigest(),
        run_git(
            clone,
            "for-each-ref",
            "--format=%(refname) %(objectname)",
            "refs/heads",
            "refs/remotes/origin/main",
        ),
        (clone / "mlops.yaml").read_text(),
    )


def test_appending_leaves_the_work_tree_the_index_and_the_current_branch_untouched(clone):
    before = clone_state(clone)
    store = GitBranchStore(clone, branch=BRANCH)
    first, second = sample_record(), sample_record(model="fraud", started_at="2027-01-05T08:00:00Z")
    store.append(first)
    store.append(second)
    assert clone_state(clone) == before
    assert not (clone / "runs").exists()
    files = branch_files(clone)
    assert set(files) == {"runs/churn/2026-12.jsonl", "runs/fraud/2027-01.jsonl"}
    assert files["runs/churn/2026-12.jsonl"] == branch.record_line(first).rstrip("\n")


def test_each_record_is_one_commit_on_top_of_the_last(clone):
    store = GitBranchStore(clone, branch=BRANCH)
    for hour in range(3):
        store.append(sample_record(started_at=f"2026-12-02T1{hour}:00:00Z"))
    branch_files(clone)
    log = run_git(clone, "log", "--format=%P %s", f"origin/{BRANCH}").splitlines()
    assert len(log) == 3
    assert log[-1].startswith(" ") or log[-1].split(" ", 1)[0] == ""  # the first commit has no parent
    assert all("Record the check of churn" in line for line in log)


def test_a_full_month_file_goes_on_in_a_second_part_and_lists_whole(clone, monkeypatch):
    monkeypatch.setattr(branch, "FILE_LIMIT_BYTES", 4000)
    store = GitBranchStore(clone, branch=BRANCH)
    records = [sample_record(started_at=f"2026-12-02T10:00:{n:02d}Z") for n in range(5)]
    for record in records:
        store.append(record)
    store.append(records[0])  # in the first part: found there, not appended to the second
    files = branch_files(clone)
    assert sorted(files) == ["runs/churn/2026-12.2.jsonl", "runs/churn/2026-12.jsonl"]
    assert all(len(text.encode()) <= 4000 for text in files.values())
    assert store.list_records().records == records


def test_a_remote_that_refuses_the_push_is_one_line_naming_the_store(clone, tmp_path):
    hook = tmp_path / "remote.git" / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'GL-HOOK-ERR: You are not allowed to push to this branch' >&2\nexit 1\n")
    hook.chmod(0o755)
    store = GitBranchStore(clone, branch=BRANCH)
    with pytest.raises(StoreError) as refused:
        store.append(sample_record())
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"git data branch origin@{BRANCH}: the remote refused the push")
    assert "pre-receive hook declined" in message


def test_credentials_of_a_url_remote_stay_off_command_lines_and_out_of_messages(clone, monkeypatch):
    secret = "glpat-s3cr3t-t0ken"
    seen: list[list[str]] = []
    real_run = subprocess.run

    def recording_run(command, *args, **kwargs):
        seen.append(list(command))
        return real_run(command, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", recording_run)
    store = GitBranchStore(
        clone, remote=f"http://oauth2:{secret}@127.0.0.1:9/acme/app.git", branch=BRANCH, network_timeout=10
    )
    with pytest.raises(StoreError) as failed:
        store.append(sample_record())
    assert seen and all(secret not in " ".join(command) for command in seen)
    assert secret not in str(failed.value) and secret not in store.name
    assert "http://***@127.0.0.1:9/acme/app.git" in str(failed.value)
    assert "\n" not in str(failed.value)


def test_a_writer_that_keeps_losing_the_race_gives_up_saying_how_often_it_tried(clone):
    store = GitBranchStore(clone, branch=BRANCH, sleep=lambda seconds: None)
    store.write = lambda head, path, text, message: False  # type: ignore[method-assign]
    with pytest.raises(StoreError, match=r"not stored after 8 attempts \(other writers moved the branch"):
        store.append(sample_record())


def test_the_remote_and_branch_come_from_the_options_then_the_environment(clone, tmp_path):
    other = tmp_path / "other.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(other)], check=True)
    store = GitBranchStore.from_options(clone, {"branch": "runs-data"}, {"MLOPS_METADATA_REMOTE": str(other)})
    store.append(sample_record())
    assert run_git(other, "ls-tree", "-r", "--name-only", "runs-data") == "runs/churn/2026-12.jsonl"
    assert store.name == f"git data branch {other}@runs-data"
    named = GitBranchStore.from_options(clone, {"remote": "origin"}, {"MLOPS_METADATA_REMOTE": str(other)})
    assert named.remote == "origin"


def test_a_push_whose_answer_was_lost_is_checked_and_not_repeated(clone, tmp_path):
    remote = tmp_path / "remote.git"
    hook = remote / "hooks" / "reference-transaction"  # the ref is updated, then the answer never comes
    hook.write_text(
        "#!/bin/sh\n"
        '[ "$1" = committed ] || exit 0\n'
        f'[ -e "{tmp_path}/lost-once" ] && exit 0\n'
        f'touch "{tmp_path}/lost-once"\n'
        "kill -9 $PPID\n"
    )
    hook.chmod(0o755)
    record = sample_record()
    GitBranchStore(clone, branch=BRANCH).append(record)
    assert (tmp_path / "lost-once").exists()
    assert branch_files(clone) == {"runs/churn/2026-12.jsonl": branch.record_line(record).rstrip("\n")}
    assert run_git(remote, "rev-list", "--count", BRANCH) == "1"


def test_a_gitlab_registry_records_its_runs_on_the_data_branch_of_the_configs_clone(clone, tmp_path):
    from mlops_actions.domain.config import parse_config
    from mlops_actions.metadata import open_store

    doc = {
        "version": 1,
        "model": {"name": "churn", "task": "binary"},
        "train": {"entrypoint": "pkg.mod:fit"},
        "data": {"train": "train.csv", "target": "y"},
        "registry": {"backend": "gitlab"},
        "metadata": {"branch": "runs-data"},
    }
    store = open_store(parse_config(doc, clone / "mlops.yaml"), env={})
    assert isinstance(store, GitBranchStore)
    assert (store.repo, store.remote, store.branch) == (clone, "origin", "runs-data")
