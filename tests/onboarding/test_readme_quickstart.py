"""The README's quick start, followed literally on a new machine: the package is built and uploaded to a real
local index (pypiserver on 127.0.0.1), a fresh venv is the only Python on PATH, and every quick-start block runs
in a new empty folder, in order, until the first pull-request comment is written. Prints the minutes it took
from ``pip install`` to that comment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import GIT_ENV
from tests.e2e.conftest import missing
from tests.onboarding.readme_quickstart import Block, readme_quickstart
from tests.package_index import BIN, REPO_ROOT, LocalIndex, build_dists

pytestmark = pytest.mark.e2e

README = REPO_ROOT / "README.md"
BLOCK_TIMEOUT_S = 900  # one block: pip install resolves every dependency, check trains two models
TOTAL_TIMEOUT_S = 1800  # the whole quick start
NOT_INHERITED = ("MLOPS_", "PYTHON", "VIRTUAL_ENV", "CONDA_", "GITHUB_", "GITLAB_", "CI_", "RUNNER_", "GIT_")
README_ROC_AUC = {"baseline": 0.72, "candidate": 0.80}  # "ROC AUC goes from about 0.72 to 0.80"


@dataclass(frozen=True)
class Followed:
    """What following the quick start left behind."""

    project: Path
    venv: Path
    env: dict[str, str]
    config: dict[str, Any]
    outputs: list[subprocess.CompletedProcess[str]]
    seconds_to_comment: float
    seconds_per_command: list[tuple[str, float]]  # (the block's first line, wall seconds)
    version: str
    index_url: str


@pytest.fixture(scope="module")
def local_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalIndex, str]]:
    """The index holding this checkout's sdist and wheel, and the version they carry."""
    for tool in ("pypi-server", "twine"):
        if not (BIN / tool).is_file():
            missing(f"{tool} is not installed (the dev extras: make install)")
    dists = build_dists(tmp_path_factory.mktemp("dists"))
    wheel = next(d for d in dists if d.suffix == ".whl")
    with LocalIndex() as index:
        index.upload(dists)
        yield index, wheel.name.split("-")[1]


def fresh_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, capture_output=True, timeout=300)
    return path


def new_machine_env(venv: Path, index_url: str) -> dict[str, str]:
    """The environment of a new user on a laptop: the fresh venv activated, a git identity, nothing of this
    checkout or its venv, no CI job's variables, and pip's default index pointed at the local one (so the README's
    plain ``pip install`` reaches it)."""
    here = {REPO_ROOT.resolve(), Path(sys.prefix).resolve()}
    path = [
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry and not any(Path(entry).resolve().is_relative_to(root) for root in here)
    ]
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(NOT_INHERITED) and key not in ("CI", "PIP_INDEX_URL")
    }
    env.update(GIT_ENV)
    env.update(
        PATH=os.pathsep.join([str(venv / "bin"), *path]),
        VIRTUAL_ENV=str(venv),
        PIP_INDEX_URL=index_url,
        PIP_NO_INPUT="1",
    )
    return env


def run_block(
    block: Block, project: Path, env: dict[str, str], timeout_s: float
) -> subprocess.CompletedProcess[str]:
    """Write a file block to its path, or run a command block with ``bash -e`` in the project folder."""
    if block.path is not None:
        target = project / block.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.text, encoding="utf-8")
        return subprocess.CompletedProcess([f"write {block.path}"], 0, "", "")
    try:
        done = subprocess.run(
            ["bash", "-e", "-c", block.text],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"README.md:{block.line}: the block did not finish within {timeout_s:.0f} s:\n{block.text}"
        )
    assert done.returncode == 0, (
        f"README.md:{block.line}: the block exited with {done.returncode}:\n{block.text}\n"
        f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
    )
    return done


@pytest.fixture(scope="module")
def followed(local_index: tuple[LocalIndex, str], tmp_path_factory: pytest.TempPathFactory) -> Followed:
    """Every quick-start block run in order in a new empty folder with the fresh venv first on PATH."""
    index, version = local_index
    blocks = readme_quickstart(README)
    root = tmp_path_factory.mktemp("new-machine")
    venv = fresh_venv(root / "venv")
    project = root / "churn"
    project.mkdir()
    assert not project.resolve().is_relative_to(REPO_ROOT.resolve())
    env = new_machine_env(venv, index.url)
    outputs = []
    timings = []
    started: float | None = None
    deadline = time.monotonic() + TOTAL_TIMEOUT_S
    for block in blocks:
        if started is None and block.path is None and "pip install" in block.text:
            started = time.monotonic()
        remaining = deadline - time.monotonic()
        assert remaining > 0, (
            f"the quick start took longer than {TOTAL_TIMEOUT_S} s before README.md:{block.line}"
        )
        began = time.monotonic()
        outputs.append(run_block(block, project, env, min(BLOCK_TIMEOUT_S, remaining)))
        if block.path is None:
            timings.append((f"README.md:{block.line} {block.text.splitlines()[0]}", time.monotonic() - began))
    assert started is not None, "no quick-start block runs pip install"
    seconds = time.monotonic() - started
    config = next(yaml.safe_load(b.text) for b in blocks if b.path == "mlops.yaml")
    return Followed(project, venv, env, config, outputs, seconds, timings, version, index.root_url)


def test_the_quick_start_runs_the_package_installed_from_the_index_into_the_fresh_venv(
    followed: Followed,
) -> None:
    probe = subprocess.run(
        [
            "python",
            "-c",
            "import importlib.metadata, mlops_actions, shutil; print(mlops_actions.__file__);"
            " print(importlib.metadata.version('mlops-actions')); print(shutil.which('mlops-actions'))",
        ],
        cwd=followed.project,
        env=followed.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    module, version, command = probe.stdout.split()
    assert Path(module).resolve().is_relative_to(followed.venv.resolve())
    assert not Path(module).resolve().is_relative_to(REPO_ROOT.resolve())
    assert Path(command).resolve().is_relative_to(followed.venv.resolve())
    assert version == followed.version
    install = next(o for o in followed.outputs if "pip install" in o.args[-1])
    assert f"{followed.index_url}packages/mlops_actions-{version}-" in install.stdout  # not any other index's


def test_following_the_readme_quick_start_reaches_the_first_pull_request_comment(
    followed: Followed, capsys: pytest.CaptureFixture[str]
) -> None:
    model = followed.config["model"]["name"]
    comment = followed.project / ".mlops" / "comments" / f"{model}.md"
    assert comment.is_file(), f"no comment at {comment}"
    text = comment.read_text(encoding="utf-8")
    assert text.startswith(f"<!-- mlops-actions:sticky {model} -->")
    assert f"PASS: model {model}" in text
    assert f"mlops-actions:sticky {model}" in followed.outputs[-1].stdout  # the README's cat shows it
    minutes = followed.seconds_to_comment / 60
    steps = "".join(f"\n  {seconds:6.1f} s  {command}" for command, seconds in followed.seconds_per_command)
    with capsys.disabled():
        print(f"\nREADME quick start: {minutes:.1f} minutes from pip install to the first PR comment{steps}")


def test_the_quick_start_comment_says_what_the_readme_says_it_says(followed: Followed) -> None:
    result = json.loads((followed.project / "mlops-out" / "mlops-result.json").read_text(encoding="utf-8"))
    assert result["verdict"] == "pass"
    assert result["baseline"]["source"] == "registry" and result["baseline"]["model"]["version"] == "1.0.0"
    roc_auc = next(m for m in result["metrics"] if m["name"] == "roc_auc")
    assert roc_auc["baseline"] == pytest.approx(README_ROC_AUC["baseline"], abs=0.01)
    assert roc_auc["candidate"] == pytest.approx(README_ROC_AUC["candidate"], abs=0.01)
    assert roc_auc["ci_low"] > 0


def test_the_quick_start_release_tagged_the_baseline(followed: Followed) -> None:
    tags = subprocess.run(
        ["git", "tag", "--list"], cwd=followed.project, capture_output=True, text=True, check=True, timeout=30
    ).stdout.split()
    assert tags == [f"{followed.config['model']['name']}@v1.0.0"]
