"""Shared, prepared environment for the GitLab end-to-end tests (built once per session)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.act_harness import build_wheel, prepare_venv
from tests.e2e.gitlab.gitlab_harness import EXAMPLE, GITLAB_CI_LOCAL


@dataclass(frozen=True)
class GitLabPrepared:
    """A wheel of the package and one virtual environment with it installed."""

    root: Path
    venv: Path


def missing(reason: str) -> None:
    """Skip on a developer's machine; fail in CI, where `make test` must have installed every tool."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must install it: see Makefile e2e-tools and .ci/install-system-deps.sh)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def gitlab_prepared(tmp_path_factory: pytest.TempPathFactory) -> GitLabPrepared:
    if not GITLAB_CI_LOCAL.is_file():
        missing("gitlab-ci-local is not installed: npm ci --prefix tests/e2e/gitlab")
    for tool in ("git", "rsync", "node"):
        if shutil.which(tool) is None:
            missing(f"{tool} is not installed")
    if not (EXAMPLE / "mlops.yaml").is_file():
        missing("example_project/mlops.yaml is missing")
    root = tmp_path_factory.mktemp("gitlab-e2e")
    wheel = build_wheel(root / "build")
    return GitLabPrepared(root=root, venv=prepare_venv(root / "env", wheel))
