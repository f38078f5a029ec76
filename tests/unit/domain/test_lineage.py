"""The files changed since a ref's merge base with HEAD."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_actions.domain.lineage import changed_files
from mlops_actions.errors import GitError
from tests.conftest import init_repo, run_git


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main with two files, then branch work that edits one and adds a file with a space in its name."""
    project = tmp_path / "repo"
    project.mkdir()
    (project / "a.txt").write_text("a\n")
    (project / "b.txt").write_text("b\n")
    init_repo(project)
    run_git(project, "checkout", "-q", "-b", "work")
    (project / "a.txt").write_text("a2\n")
    (project / "new file.txt").write_text("n\n")
    run_git(project, "add", "-A")
    run_git(project, "commit", "-q", "-m", "work")
    return project


def test_the_files_changed_since_the_merge_base_exclude_what_main_did_after_it(repo: Path) -> None:
    run_git(repo, "checkout", "-q", "main")
    (repo / "b.txt").write_text("b on main\n")
    run_git(repo, "commit", "-q", "-am", "main moves on")
    run_git(repo, "checkout", "-q", "work")
    assert changed_files("main", repo) == ["a.txt", "new file.txt"]


def test_a_ref_found_only_on_the_remote_is_used_as_origin_ref(repo: Path) -> None:
    main = run_git(repo, "rev-parse", "main")
    run_git(repo, "update-ref", "refs/remotes/origin/trunk", main)
    assert changed_files("trunk", repo) == ["a.txt", "new file.txt"]


def test_a_ref_that_does_not_exist_is_a_one_line_error_naming_it(repo: Path) -> None:
    with pytest.raises(GitError) as caught:
        changed_files("no-such-ref", repo)
    assert "'no-such-ref'" in str(caught.value) and len(str(caught.value).splitlines()) == 1


def test_a_ref_with_no_common_history_says_so(repo: Path) -> None:
    run_git(repo, "checkout", "-q", "--orphan", "other")
    run_git(repo, "commit", "-q", "-m", "unrelated")
    run_git(repo, "checkout", "-q", "work")
    with pytest.raises(GitError, match="share no commit"):
        changed_files("other", repo)
