"""Fixtures that start API stand-ins for one test and stop them when it ends (registered in tests/conftest.py).

Each fixture is a factory: ``api = start_github_standin(token=..., repository=...)`` returns a started
stand-in with those options; call it again for a second one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import Any, TypeVar

import pytest

from tests.standins.github import GitHubStandIn
from tests.standins.github_data_branch import GitHubDataBranchStandIn
from tests.standins.github_releases import GitHubReleasesStandIn
from tests.standins.gitlab import GitLabStandIn

StandIn = TypeVar("StandIn")


def _starter(
    kind: Callable[..., AbstractContextManager[StandIn]], stack: ExitStack
) -> Callable[..., StandIn]:
    def start(**options: Any) -> StandIn:
        return stack.enter_context(kind(**options))

    return start


@pytest.fixture
def start_github_standin() -> Iterator[Callable[..., GitHubStandIn]]:
    """Start GitHub API stand-ins (comments, pull requests); stopped after the test."""
    with ExitStack() as stack:
        yield _starter(GitHubStandIn, stack)


@pytest.fixture
def start_github_releases_standin() -> Iterator[Callable[..., GitHubReleasesStandIn]]:
    """Start GitHub API stand-ins with releases, artifacts and dispatches; stopped after the test."""
    with ExitStack() as stack:
        yield _starter(GitHubReleasesStandIn, stack)


@pytest.fixture
def start_github_data_branch_standin() -> Iterator[Callable[..., GitHubDataBranchStandIn]]:
    """Start GitHub API stand-ins with the git data and contents of a data branch; stopped after the test."""
    with ExitStack() as stack:
        yield _starter(GitHubDataBranchStandIn, stack)


@pytest.fixture
def start_gitlab_standin() -> Iterator[Callable[..., GitLabStandIn]]:
    """Start GitLab API stand-ins (notes, releases, generic packages); stopped after the test."""
    with ExitStack() as stack:
        yield _starter(GitLabStandIn, stack)
