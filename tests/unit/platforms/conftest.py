"""Fixtures of the platform tests: the contract-enforcing API stand-ins, and event payloads."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

E2E = Path(__file__).resolve().parents[2] / "e2e"
sys.path.insert(0, str(E2E))
sys.path.insert(0, str(E2E / "gitlab"))

from github_standin import GitHubStandIn  # noqa: E402
from gitlab_standin import GitLabStandIn  # noqa: E402

GITHUB_TOKEN = "ghs_platform-unit-token"
GITLAB_TOKEN = "glpat-platform-unit-token-0123"
GITLAB_JOB_TOKEN = "glcbt-platform-unit-job-token"


@pytest.fixture
def github_api() -> Iterator[GitHubStandIn]:
    with GitHubStandIn(token=GITHUB_TOKEN, repository="acme/app") as standin:
        standin.add_pull_request(7)
        yield standin
        assert standin.violations == []


@pytest.fixture
def gitlab_api() -> Iterator[GitLabStandIn]:
    with GitLabStandIn(
        tokens={GITLAB_TOKEN: "api"}, job_tokens={GITLAB_JOB_TOKEN}, max_per_page=2
    ) as standin:
        yield standin
        assert standin.violations == []


@pytest.fixture
def write_event(tmp_path: Path) -> Callable[[dict[str, Any]], str]:
    """Write an event payload; returns its path (for GITHUB_EVENT_PATH)."""

    def write(event: dict[str, Any]) -> str:
        path = tmp_path / f"event-{len(list(tmp_path.glob('event-*')))}.json"
        path.write_text(json.dumps(event))
        return str(path)

    return write


@pytest.fixture
def pr_event() -> Callable[..., dict[str, Any]]:
    """``pr_event(head_repository=..., labels=..., author=...)``: a pull_request event of acme/app."""
    return pull_request_event


def pull_request_event(
    *,
    number: int = 7,
    head_repository: str = "acme/app",
    labels: tuple[str, ...] = (),
    author: str = "octocat",
) -> dict[str, Any]:
    """A pull_request event of acme/app."""
    return {
        "number": number,
        "pull_request": {
            "number": number,
            "title": "Tune the model",
            "labels": [{"name": name} for name in labels],
            "user": {"login": author},
            "head": {"ref": "tune", "sha": "a" * 40, "repo": {"full_name": head_repository}},
            "base": {"ref": "main", "repo": {"full_name": "acme/app"}},
        },
        "sender": {"login": author},
    }
