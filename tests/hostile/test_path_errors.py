"""Paths that cannot be written: a folder under a regular file, a full disk, permission denied, a read-only
file system. Each is one error line naming the path, exit 2, and leaves nothing half-written: no staging
folder, no temporary file, no partial version, output or fetched copy.

Tests run as root, so a chmod would not stop a write: read-only and full disks are simulated by the system
call raising the error it would raise.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlops_actions.cli import main
from mlops_actions.stages.release import run_release
from tests.conftest import run_git
from tests.hostile.conftest import (
    CliRun,
    assert_nothing_written,
    assert_one_line_error,
    run_cli,
    tree_snapshot,
)

REASONS = {
    errno.ENOSPC: "No space left on device [ENOSPC]",
    errno.EACCES: "Permission denied [EACCES]",
    errno.EROFS: "Read-only file system [EROFS]",
}


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> CliRun:
    """The CLI entry point in this process (so that a system call can be made to fail), output captured."""
    capsys.readouterr()
    code = main(args)
    captured = capsys.readouterr()
    return CliRun(code, captured.out, captured.err)


def fail_when(
    monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, code: int, matches: Callable[[Path], bool]
) -> None:
    """Make ``owner.name(source, destination)`` raise OSError ``code`` when ``matches(destination)``."""
    original = getattr(owner, name)

    def failing(source: Any, destination: Any, *args: Any, **kwargs: Any) -> Any:
        if matches(Path(destination)):
            raise OSError(code, os.strerror(code), str(destination))
        return original(source, destination, *args, **kwargs)

    monkeypatch.setattr(owner, name, failing)


def leftovers(root: Path) -> list[str]:
    """Staging folders and temporary files below ``root``."""
    found = []
    for path in root.rglob("*"):
        if ".git" in path.parts:
            continue
        if ".staging-" in path.name or path.name.endswith(".tmp") or ".fetch-" in path.name:
            found.append(path.relative_to(root).as_posix())
    return sorted(found)


def assert_no_release(project: Path) -> None:
    """No version, no staging, no temporary file, no tag."""
    versions = project / ".registry" / "tiny" / "versions"
    assert not versions.is_dir() or list(versions.iterdir()) == []
    assert leftovers(project) == []
    assert run_git(project, "tag") == ""


def config_args(project: Path) -> list[str]:
    return ["--config", str(project / "mlops.yaml")]


def release_args(project: Path) -> list[str]:
    return ["release", "--output-dir", str(project / "mlops-out"), *config_args(project)]


@pytest.fixture
def blocker(tiny_project: Path) -> Path:
    """A regular file where a test puts a folder (ignored by git, so the tree stays clean)."""
    path = tiny_project / "not-a-folder"
    path.write_text("a file, not a folder\n")
    return path


# -- a folder expected under a regular file (a real process, no fault injected) ---------------------------------


SUBPROCESS_CASES = [
    pytest.param(["train", "--output-dir", "{blocker}/model"], {}, id="train-output-under-a-file"),
    pytest.param(
        ["check", "--output-dir", "{blocker}/out", "--forge", "none"], {}, id="check-output-under-a-file"
    ),
    pytest.param(["release", "--output-dir", "{blocker}/out"], {}, id="release-output-under-a-file"),
    pytest.param(["release"], {"MLOPS_REGISTRY_PATH": "{blocker}/registry"}, id="registry-under-a-file"),
    pytest.param(
        ["data", "profile", "train.csv", "-o", "{blocker}/profile.json"], {}, id="profile-under-a-file"
    ),
]


@pytest.mark.parametrize(("args", "env"), SUBPROCESS_CASES)
def test_a_folder_under_a_regular_file_is_one_line_naming_it_and_nothing_is_written(
    tiny_project: Path, blocker: Path, args: list[str], env: dict[str, str]
) -> None:
    args = [a.format(blocker=blocker) for a in args]
    if args[0] != "data":
        args = [*args, *config_args(tiny_project)]
    before = tree_snapshot(tiny_project)
    run = run_cli(args, cwd=tiny_project, env={k: v.format(blocker=blocker) for k, v in env.items()})
    assert_one_line_error(run, code=2, contains=[str(blocker)])
    assert_nothing_written(before, tiny_project)
    assert_no_release(tiny_project)


def test_fetching_into_a_folder_under_a_regular_file_is_one_line_and_writes_nothing(
    tiny_project: Path, blocker: Path
) -> None:
    run_release(tiny_project / "mlops.yaml", tiny_project / "release-out", candidate_source="none")
    before = tree_snapshot(tiny_project)
    run = run_cli(
        ["fetch", "production", "--output-dir", str(blocker / "fetched"), *config_args(tiny_project)],
        cwd=tiny_project,
    )
    assert_one_line_error(run, code=2, contains=[f"{blocker}/fetched: cannot create the folder"])
    assert_nothing_written(before, tiny_project)


# -- a full disk, a denied permission, a read-only file system ----------------------------------------------


def in_staging(path: Path) -> bool:
    return path.parent.name.startswith(".staging-")


RELEASE_FAULTS = [
    pytest.param(
        (shutil, "copyfile", errno.ENOSPC, in_staging),
        "{registry}/versions/1.0.0: cannot publish version 1.0.0",
        id="registry-staging-disk-full",
    ),
    pytest.param(
        (os, "rename", errno.EROFS, lambda path: path.parent.name == "versions"),
        "{registry}/versions/1.0.0: cannot publish version 1.0.0",
        id="registry-read-only-at-the-rename",
    ),
    pytest.param(
        (shutil, "copyfile", errno.EACCES, lambda path: in_staging(path) and path.name == "metadata.json"),
        "{registry}/versions/1.0.0: cannot publish version 1.0.0",
        id="registry-staging-permission-denied-midway",
    ),
    pytest.param(
        (os, "replace", errno.ENOSPC, lambda path: path.name == "model-card.md"),
        "{project}/mlops-out/model-card.md: cannot write the file",
        id="release-card-disk-full",
    ),
    pytest.param(
        (os, "replace", errno.ENOSPC, lambda path: path.name == "data-profile.json"),
        "{project}/mlops-out/data-profile.json: cannot write the file",
        id="release-profile-disk-full",
    ),
]


@pytest.mark.parametrize(("fault", "named"), RELEASE_FAULTS)
def test_a_release_that_cannot_write_is_one_line_naming_the_path_and_publishes_nothing(
    tiny_project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fault: tuple[Any, str, int, Callable[[Path], bool]],
    named: str,
) -> None:
    owner, name, code, matches = fault
    with monkeypatch.context() as patch:
        fail_when(patch, owner, name, code, matches)
        run = run_main(release_args(tiny_project), capsys)
    registry = tiny_project / ".registry" / "tiny"
    assert_one_line_error(
        run, code=2, contains=[named.format(registry=registry, project=tiny_project), REASONS[code]]
    )
    assert_no_release(tiny_project)
    assert not (registry / "aliases.json").exists()
    assert run_main(release_args(tiny_project), capsys).code == 0  # with room, it goes through
    assert run_git(tiny_project, "tag") == "tiny@v1.0.0"


def test_a_full_disk_when_moving_production_leaves_the_alias_whole_and_the_rerun_moves_it(
    tiny_project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    aliases = tiny_project / ".registry" / "tiny" / "aliases.json"
    with monkeypatch.context() as patch:
        fail_when(patch, os, "replace", errno.ENOSPC, lambda path: path == aliases)
        run = run_main(release_args(tiny_project), capsys)
    assert_one_line_error(run, code=2, contains=[f"{aliases}: cannot write the file", REASONS[errno.ENOSPC]])
    assert not aliases.exists() and leftovers(tiny_project) == []
    assert run_main(release_args(tiny_project), capsys).code == 0
    assert json.loads(aliases.read_text()) == {"production": "1.0.0"}


def test_a_check_whose_result_cannot_be_written_leaves_no_output_behind(
    tiny_project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tiny_project / "mlops-out"
    with monkeypatch.context() as patch:
        fail_when(patch, os, "replace", errno.ENOSPC, lambda path: path.name == "mlops-result.json")
        run = run_main(
            ["check", "--forge", "none", "--output-dir", str(output), *config_args(tiny_project)], capsys
        )
    assert_one_line_error(
        run, code=2, contains=[f"{output}/mlops-result.json: cannot write the file", REASONS[errno.ENOSPC]]
    )
    assert sorted(p.name for p in output.iterdir()) == []
    assert leftovers(tiny_project) == []


def test_a_trained_model_that_cannot_take_its_place_leaves_no_staging_folder(
    tiny_project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tiny_project / "mlops-out" / "model"
    with monkeypatch.context() as patch:
        fail_when(patch, os, "replace", errno.EACCES, lambda path: path == model)
        run = run_main(["train", "--output-dir", str(model), *config_args(tiny_project)], capsys)
    assert_one_line_error(
        run, code=2, contains=[f"{model}: cannot replace the folder", REASONS[errno.EACCES]]
    )
    assert not model.exists()
    assert leftovers(tiny_project) == []


def test_a_fetch_that_runs_out_of_space_midway_leaves_no_partial_copy(
    tiny_project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_release(tiny_project / "mlops.yaml", tiny_project / "release-out", candidate_source="none")
    fetched = tiny_project / "fetched"
    with monkeypatch.context() as patch:
        fail_when(patch, os, "replace", errno.ENOSPC, lambda path: path.name == "metadata.json")
        run = run_main(
            ["fetch", "production", "--output-dir", str(fetched), *config_args(tiny_project)], capsys
        )
    assert_one_line_error(
        run, code=2, contains=["metadata.json: cannot write the file", REASONS[errno.ENOSPC]]
    )
    assert not fetched.exists()
    assert leftovers(tiny_project) == []
