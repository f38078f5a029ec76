"""Baseline resolution fetches the change request's target branch when the clone lacks it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mlops_actions.stages.baseline import base_ref_candidates, fetch_target_branch


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def repository(path: Path) -> Path:
    path.mkdir()
    git("init", "-q", "-b", "main", cwd=path)
    git(
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.invalid",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "one",
        cwd=path,
    )
    return path


def test_a_missing_target_branch_is_fetched_from_origin(tmp_path):
    origin = repository(tmp_path / "origin")
    clone = tmp_path / "clone"
    git("clone", "-q", "--single-branch", "--branch", "main", str(origin), str(clone), cwd=tmp_path)
    git("branch", "release", cwd=origin)
    assert fetch_target_branch(clone, "release") is None
    assert git("rev-parse", "origin/release", cwd=clone) == git("rev-parse", "release", cwd=origin)
    assert fetch_target_branch(clone, "release") is None  # present: nothing to do


def test_a_target_branch_that_cannot_be_fetched_is_one_line(tmp_path):
    clone = repository(tmp_path / "clone")
    git("remote", "add", "origin", str(tmp_path / "gone"), cwd=clone)
    why = fetch_target_branch(clone, "main", timeout=30)
    assert why is not None and why.startswith("could not fetch the target branch main from origin")
    assert "\n" not in why
    assert fetch_target_branch(clone, "-upload-pack=evil").startswith("target branch '-upload-pack=evil'")


def test_no_fetch_without_a_target_branch_or_a_remote(tmp_path):
    clone = repository(tmp_path / "clone")
    assert fetch_target_branch(clone, None) is None
    assert fetch_target_branch(clone, "main-without-origin") is None
    assert fetch_target_branch(tmp_path, "main") is None  # not a repository


def test_the_change_requests_target_branch_is_tried_before_the_configured_one():
    class Config:
        target_branch = "main"

    assert base_ref_candidates(Config(), "v1", "release") == [
        "v1",
        "origin/release",
        "release",
        "origin/main",
        "main",
    ]  # type: ignore[arg-type]
