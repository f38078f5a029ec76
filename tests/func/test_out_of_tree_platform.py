"""A platform the package does not know (the folder forge of ``tests/platforms``) runs the real ``check``
end to end, loaded with ``--platform package.module:Class``: its change request, links, sticky comment and
job summary are used, and no file of the package is touched or names it."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from mlops_actions.platforms.base import Platform
from mlops_actions.platforms.comments import sticky_marker
from tests.conftest import EXAMPLE_PROJECT, GIT_ENV, REPO_ROOT, run_git
from tests.platforms.folder_forge import DEFAULT_SERVER, FolderForge

PLATFORM = "tests.platforms.folder_forge:FolderForge"
PACKAGE = REPO_ROOT / "mlops_actions"
MODEL = "credit-default"  # model.name of the example project
ADAPTERS = (
    "mlops_actions.platforms.github",
    "mlops_actions.platforms.gitlab",
    "mlops_actions.platforms.local",
)
NOT_COPIED = shutil.ignore_patterns(".github", ".mlops", "mlops-out", "__pycache__", ".pytest_cache")


def example_repository(dest: Path) -> Path:
    """The example project in a fresh git repository: ``main``, and a change on branch ``tune``."""
    shutil.copytree(EXAMPLE_PROJECT, dest, ignore=NOT_COPIED)
    (dest / ".gitignore").write_text(".mlops/\nmlops-out/\n__pycache__/\n.folderci/\n")
    run_git(dest, "init", "-q", "-b", "main")
    run_git(dest, "add", "-A")
    run_git(dest, "commit", "-q", "-m", "initial")
    run_git(dest, "checkout", "-q", "-b", "tune")
    (dest / "NOTES.md").write_text("tuning notes\n")
    run_git(dest, "add", "NOTES.md")
    run_git(dest, "commit", "-q", "-m", "notes")
    return dest


def folder_ci_env(home: Path, run_id: str) -> dict[str, str]:
    """What a job of the folder forge is given for change request 7 (tune -> main)."""
    return {
        "FOLDERCI": "true",
        "FOLDERCI_HOME": str(home),
        "FOLDERCI_RUN_ID": run_id,
        "FOLDERCI_BRANCH": "tune",
        "FOLDERCI_PR_NUMBER": "7",
        "FOLDERCI_PR_TITLE": "Tune the model",
        "FOLDERCI_BASE_BRANCH": "main",
        "FOLDERCI_HEAD_BRANCH": "tune",
        "FOLDERCI_PR_AUTHOR": "someone",
    }


# ``python -m mlops_actions ARGS``, which also writes the names of the modules it imported to MODULES_FILE.
CLI_RECORDING_IMPORTS = """\
import atexit, os, runpy, sys
atexit.register(lambda: open(os.environ["MODULES_FILE"], "w").write("\\n".join(sorted(sys.modules))))
sys.argv[0] = "mlops-actions"
runpy.run_module("mlops_actions", run_name="__main__", alter_sys=True)
"""


def run_cli(
    project: Path, *args: str, env: Mapping[str, str]
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """The real CLI in its own process, the repository on PYTHONPATH (so ``tests.platforms`` imports);
    its outcome and the modules it imported."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GITLAB_", "CI_", "MLOPS_"))}
    pythonpath = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    modules_file = project.parent / "modules.txt"
    modules_file.unlink(missing_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", CLI_RECORDING_IMPORTS, *args],
        cwd=project,
        env={**base, **GIT_ENV, "PYTHONPATH": pythonpath, "MODULES_FILE": str(modules_file), **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    modules = set(modules_file.read_text().split()) if modules_file.exists() else set()
    return proc, modules


def package_state() -> tuple[str, dict[str, str]]:
    """The git status of the package folder and the digest of each of its files."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", "mlops_actions"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    digests = {
        path.relative_to(PACKAGE).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(PACKAGE.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    return status, digests


def thread_of(home: Path, number: int) -> list[Path]:
    return sorted((home / "changes" / str(number) / "comments").glob("*.md"))


def test_check_runs_end_to_end_on_a_platform_the_package_does_not_know(tmp_path: Path) -> None:
    project = example_repository(tmp_path / "project")
    home = tmp_path / "forge"
    before = package_state()

    first, modules = run_cli(project, "check", "--platform", PLATFORM, env=folder_ci_env(home, "41"))
    log = f"stdout:\n{first.stdout[-3000:]}\nstderr:\n{first.stderr[-6000:]}"
    assert first.returncode == 0, log
    result = json.loads((project / "mlops-out" / "mlops-result.json").read_text())
    assert result["verdict"] == "pass" and result["model"]["name"] == MODEL
    assert result["baseline"]["source"] == "retrain", result["baseline"]  # the merge-base of main

    run_url = f"{DEFAULT_SERVER}/runs/41"
    job_url = f"{run_url}/jobs/check"
    # Links.as_dict: the job's URL is the result's run link, since the job holds the reports.
    assert result["links"] == {"run_url": job_url, "html_report": f"{job_url}/files/report.html"}

    (comment,) = thread_of(home, 7)
    assert comment.name == "0001-folderci-bot.md"
    body = comment.read_text()
    assert body.startswith(sticky_marker(MODEL) + "\n")
    assert body.startswith(sticky_marker(MODEL) + "\n## ✅ PASS")
    for metric in result["metrics"]:
        assert metric["label"] in body and f"{metric['candidate']:.4f}" in body, metric["name"]
    assert f"]({job_url})" in body and f"]({job_url}/files/report.html)" in body

    summary = (home / "runs" / "41" / "check" / "summary.md").read_text()
    assert summary.startswith("## ✅ PASS") and f"]({job_url})" in summary
    outputs = (home / "runs" / "41" / "check" / "outputs.env").read_text().splitlines()
    assert "verdict=pass" in outputs

    assert "tests.platforms.folder_forge" in modules
    assert not {m for m in modules if m.startswith(ADAPTERS[:2])}, "a GitHub or GitLab adapter was imported"

    # The next run of the same change request, chosen through the environment this time.
    (project / "NOTES.md").write_text("tuning notes, second thoughts\n")
    run_git(project, "commit", "-q", "-am", "more notes")
    # (no baseline this time: the first run showed the retrain; this one is about the comment)
    second_env = {**folder_ci_env(home, "42"), "MLOPS_PLATFORM": PLATFORM}
    second, _ = run_cli(project, "check", "--baseline", "none", env=second_env)
    assert second.returncode == 0, f"stdout:\n{second.stdout[-3000:]}\nstderr:\n{second.stderr[-6000:]}"
    assert thread_of(home, 7) == [comment], "the sticky comment was duplicated, not updated"
    updated = comment.read_text()
    assert updated.startswith(sticky_marker(MODEL) + "\n")
    assert updated.count(sticky_marker(MODEL)) == 1
    assert f"]({DEFAULT_SERVER}/runs/42/jobs/check)" in updated and run_url not in updated
    assert (home / "runs" / "42" / "check" / "summary.md").is_file()

    # The same change request from a fork: its read-only job says why and leaves the comment alone.
    fork_env = {**folder_ci_env(home, "43"), "FOLDERCI_PR_FROM_FORK": "true"}
    fork, _ = run_cli(project, "check", "--platform", PLATFORM, "--baseline", "none", env=fork_env)
    assert fork.returncode == 0, fork.stderr[-6000:]
    assert "no comment: #7: a fork's job gets a read-only token" in fork.stderr
    assert thread_of(home, 7) == [comment] and comment.read_text() == updated
    assert (home / "runs" / "43" / "check" / "summary.md").is_file()

    assert package_state() == before, "the run modified a file of the package"


def test_no_file_of_the_package_names_the_out_of_tree_platform() -> None:
    names = ("folder_forge", "FolderForge", "FOLDERCI", "folderci")
    mentions = [
        f"{path.relative_to(REPO_ROOT)}: {name}"
        for path in sorted(PACKAGE.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
        for name in names
        if name in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert mentions == []


def test_the_out_of_tree_platform_imports_only_the_platform_protocol() -> None:
    source = Path(sys.modules[FolderForge.__module__].__file__ or "")
    imported = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    package = {name for name in imported if name.split(".")[0] == "mlops_actions"}
    assert package == {
        "mlops_actions.platforms.base",
        "mlops_actions.platforms.comments",
        "mlops_actions.platforms.rest_client",  # the ApiError of a CommentThread's signature, for typing
    }


def test_building_the_parser_imports_no_platform_module() -> None:
    code = (
        "import json, sys\n"
        "from mlops_actions.cli import build_parser\n"
        "build_parser()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('mlops_actions.platforms'))))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=REPO_ROOT
    ).stdout
    assert json.loads(out) == []


# The members of the protocol that ``check`` does not use, on the folder forge alone.


def forge(tmp_path: Path, **env: str) -> Platform:
    return FolderForge({"FOLDERCI": "true", "FOLDERCI_HOME": str(tmp_path / "forge"), **env})


def test_the_folder_forge_is_detected_from_its_own_variable_only() -> None:
    assert FolderForge.detect({"FOLDERCI": "true"}) is True
    assert FolderForge.detect({"GITHUB_ACTIONS": "true", "GITLAB_CI": "true"}) is False


def test_the_folder_forge_reads_its_change_request_from_its_own_variables(tmp_path: Path) -> None:
    assert forge(tmp_path).change_request() is None
    change = forge(
        tmp_path,
        FOLDERCI_PR_NUMBER="12",
        FOLDERCI_PR_LABELS="major, docs",
        FOLDERCI_BASE_BRANCH="main",
        FOLDERCI_PR_FROM_FORK="true",
    ).change_request()
    assert change is not None
    assert (change.number, change.labels, change.base_ref) == (12, ("major", "docs"), "main")
    assert change.from_fork is True and change.can_write is False and "fork" in change.read_only_reason


def test_the_folder_forge_skips_the_comment_outside_a_change_request(tmp_path: Path) -> None:
    assert forge(tmp_path).post_sticky_comment("hello", key=MODEL).action == "skipped"
    assert not (tmp_path / "forge" / "changes").exists()


def test_the_folder_forge_keeps_one_open_issue_per_key_and_closes_it(tmp_path: Path) -> None:
    platform = forge(tmp_path)
    opened = platform.open_issue(MODEL, title="drift", body="window 1", labels=("monitor",))
    again = platform.open_issue(MODEL, title="drift", body="window 2")
    assert again.number == opened.number and platform.find_issue(MODEL) == again
    stored = json.loads((tmp_path / "forge" / "issues" / f"{opened.number}.json").read_text())
    assert stored["body"] == f"{sticky_marker(MODEL)}\nwindow 2"
    closed = platform.close_issue(again, comment="back to normal")
    assert closed.state == "closed" and platform.find_issue(MODEL) is None
    assert platform.open_issue(MODEL, title="drift", body="window 9").number != opened.number


def test_the_folder_forge_records_dispatches_and_fetches_no_candidate(tmp_path: Path) -> None:
    platform = forge(tmp_path)
    started = platform.dispatch("deploy", ref="main", inputs={"tag": f"{MODEL}@v1.0.0"})
    assert json.loads(Path(started.location).read_text())["inputs"] == {"tag": f"{MODEL}@v1.0.0"}
    model, why = platform.fetch_candidate(MODEL, "0" * 40, tmp_path / "candidate")
    assert model is None and "no artifacts" in why


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_the_adapters_the_import_check_looks_for_exist(adapter: str) -> None:
    assert (REPO_ROOT / Path(*adapter.split("."))).is_dir()
