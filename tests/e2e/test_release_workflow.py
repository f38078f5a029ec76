"""This repository's own release (.github/workflows/release.yml), run for real under act on a pushed version tag.

A temporary git repository holds this working tree's files (the previous commit carries the major tag `v0`,
the last one the version tag). The `build` job builds and checks the dists and runs the demo on the installed
wheel; the `publish` job uploads them, through the stand-in of pypa/gh-action-pypi-publish, with twine to a
real pypiserver on 127.0.0.1 (tests/package_index.py) named by the repository variable PYPI_REPOSITORY_URL;
the `github-release` job creates the release and moves `v0` against the contract-enforcing GitHub API
stand-in. Then a fresh virtual environment installs the package from that index.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.e2e.act_harness import (
    REPO_ROOT,
    ActHarness,
    ActRun,
    Prepared,
    git,
    host_libraries,
    prepare_venv,
)
from tests.package_index import LocalIndex
from tests.standins.github_releases import GitHubReleasesStandIn

pytestmark = [
    pytest.mark.e2e,  # a few minutes: builds, the demo on the installed wheel, three jobs under act
    pytest.mark.skipif(
        importlib.util.find_spec("locust") is None or importlib.util.find_spec("uvicorn") is None,
        reason="the demo needs the serve and loadtest extras",
    ),
]

REPOSITORY = "mlops-actions/mlops-actions"
TOKEN = "ghs_e2e-project-release-5f0c"
WORKFLOW = ".github/workflows/release.yml"
RUN_ID = 9900


def release_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("release_script", REPO_ROOT / ".ci" / "release.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["release_script"] = module
    spec.loader.exec_module(module)
    return module


RELEASE = release_script()
VERSION = RELEASE.package_version()
TAG = f"v{VERSION}"


def working_tree_files() -> list[str]:
    """The files of the working tree git would commit (tracked or new, ignored ones left out)."""
    done = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [name for name in done.stdout.split("\0") if name and (REPO_ROOT / name).is_file()]


@pytest.fixture
def project_repo(tmp_path: Path) -> tuple[Path, str, str]:
    """(a git repository of this working tree, the commit v0 points at before, the release commit)."""
    repo = tmp_path / "mlops-actions"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    git("remote", "add", "origin", f"https://github.com/{REPOSITORY}.git", cwd=repo)
    git("commit", "-q", "--allow-empty", "-m", "The previous release", cwd=repo)
    previous = git("rev-parse", "HEAD", cwd=repo)
    for name in working_tree_files():
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, target)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", f"Release {VERSION}", cwd=repo)
    git("tag", TAG, cwd=repo)
    return repo, previous, git("rev-parse", "HEAD", cwd=repo)


@pytest.fixture
def index() -> Iterator[LocalIndex]:
    with LocalIndex() as running:
        yield running


@pytest.fixture
def api(start_github_releases_standin: Callable[..., GitHubReleasesStandIn]) -> GitHubReleasesStandIn:
    return start_github_releases_standin(token=TOKEN, repository=REPOSITORY)


def explain(run: ActRun, api: GitHubReleasesStandIn) -> str:
    calls = "\n".join(f"{r.method} {r.path} -> {r.status}" for r in api.log)
    return f"act exit {run.returncode} after {run.seconds:.0f}s\n{run.output[-8000:]}\nAPI:\n{calls}\n{api.violations}"


def tag_push(head: str) -> dict:
    return {
        "ref": f"refs/tags/{TAG}",
        "ref_name": TAG,
        "before": "0" * 40,
        "after": head,
        "created": True,
        "head_commit": {"id": head, "message": f"Release {VERSION}"},
        "repository": {"full_name": REPOSITORY, "default_branch": "main"},
        "sender": {"login": "octocat"},
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_version_tag_builds_checks_publishes_to_the_index_releases_and_moves_the_major_tag(
    act_env: Prepared,
    project_repo: tuple[Path, str, str],
    index: LocalIndex,
    api: GitHubReleasesStandIn,
    tmp_path: Path,
):
    repo, previous, head = project_repo
    api.refs[f"refs/tags/{TAG}"] = head  # the pushed tag, as GitHub holds it
    api.refs["refs/tags/v0"] = previous
    harness = ActHarness.in_folder(act_env, repo, tmp_path, api_url=api.url, token=TOKEN)
    # Offline, the fresh virtual environment of the wheel check finds the dependencies through PYTHONPATH
    # (this environment's libraries without mlops-actions); the package itself comes from the built wheel.
    libraries = os.pathsep.join(str(p) for p in host_libraries(tmp_path / "host"))
    run = harness.run(
        "push",
        tag_push(head),
        workflow=WORKFLOW,
        run_id=RUN_ID,
        env={"PYTHONPATH": libraries, "PIP_NO_INDEX": "0"},  # the isolated build installs setuptools
        repository_variables={"PYPI_REPOSITORY_URL": index.root_url},
        timeout=1500,
    )
    assert run.succeeded, explain(run, api)
    assert f"{TAG}: the package and its dists are version {VERSION}" in run.output
    assert "pypi-publish stand-in: uploaded 2 files" in run.output

    # The index holds the two dists the build job made and uploaded as its artifact.
    sdist, wheel = f"mlops_actions-{VERSION}.tar.gz", f"mlops_actions-{VERSION}-py3-none-any.whl"
    assert index.files() == sorted([sdist, wheel])
    built = {p.name: sha256(p) for p in (harness.artifacts / str(RUN_ID) / "dists").rglob("*") if p.is_file()}
    held = {p.name: sha256(p) for p in index.packages.rglob("*") if p.is_file()}
    assert built == held

    # The GitHub release: CHANGELOG.md's section of the version, both dists attached, published.
    [release] = api.published()
    assert release["tag_name"] == TAG and release["target_commitish"] == head
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert release["body"] == RELEASE.changelog_section(changelog, VERSION)
    assert {
        name: hashlib.sha256(data).hexdigest() for name, data in api.asset_bytes(release["id"]).items()
    } == held
    assert api.drafts() == []

    # The major tag moved (with force) from the previous release to the release commit.
    assert api.refs["refs/tags/v0"] == head
    assert api.ref_moves == [("refs/tags/v0", head)]
    assert f"v0 -> {head} (moved from {previous})" in run.output
    assert api.violations == [], api.violations
    assert TOKEN not in run.output

    # A fresh virtual environment installs the release from the index (the dependencies are this
    # environment's, so only the package itself is fetched, from the index alone).
    venv = prepare_venv(tmp_path / "fresh", act_env.wheel, install=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "PYTHONPATH"}
    env["PIP_CONFIG_FILE"] = os.devnull  # no index, find-links or constraint of this machine
    python = str(venv / "bin" / "python")
    installed = subprocess.run(
        [python, "-m", "pip", "install", "--index-url", index.url, f"mlops-actions=={VERSION}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert f"{index.root_url}packages/{wheel}" in installed.stdout, installed.stdout
    assert f"Successfully installed mlops-actions-{VERSION}" in installed.stdout, installed.stdout
    where = subprocess.run(
        [python, "-c", "import mlops_actions; print(mlops_actions.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr
    version = subprocess.run(
        [str(venv / "bin" / "mlops-actions"), "--version"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"mlops-actions {VERSION}"


def test_a_tag_that_is_not_the_package_version_stops_the_build_before_anything_is_published(
    act_env: Prepared,
    project_repo: tuple[Path, str, str],
    index: LocalIndex,
    api: GitHubReleasesStandIn,
    tmp_path: Path,
):
    repo, previous, head = project_repo
    wrong = "v9.9.9"
    git("tag", wrong, head, cwd=repo)
    api.refs[f"refs/tags/{wrong}"] = head
    api.refs["refs/tags/v0"] = previous
    harness = ActHarness.in_folder(act_env, repo, tmp_path, api_url=api.url, token=TOKEN)
    payload = {**tag_push(head), "ref": f"refs/tags/{wrong}", "ref_name": wrong}
    run = harness.run(
        "push",
        payload,
        workflow=WORKFLOW,
        run_id=RUN_ID + 1,
        env={"PIP_NO_INDEX": "0"},
        repository_variables={"PYPI_REPOSITORY_URL": index.root_url},
        timeout=900,
    )
    assert not run.succeeded, explain(run, api)
    assert f"tag {wrong} is not the package version {VERSION}" in run.output
    assert "pypi-publish stand-in" not in run.output
    assert index.files() == []
    assert api.releases == {} and api.refs["refs/tags/v0"] == previous
    assert api.violations == []
