"""The GitHub and GitLab stand-ins seen the same way by the hostile tests of the sticky comment.

Each side starts its stand-in with two identities: the job's token (GitHub: an Actions-style installation
token writing as ``github-actions[bot]``; GitLab: a project access token of the bot user) and a personal
token of ``mallory``, who plants comments through the API as anyone with access to the pull request can.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from mlops_actions.platforms.comments import sticky_marker
from tests.standins.github import GitHubStandIn
from tests.standins.gitlab import GitLabStandIn

RESULT_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "results" / "pass_with_baseline.json"
MODEL = "churn"  # the model of RESULT_FIXTURE
MARKER = sticky_marker(MODEL)
GITHUB_JOB_TOKEN = "ghs_hostile-job-token-000111222333"
GITHUB_MALLORY_TOKEN = "ghp_mallory-personal-token-666666"
GITLAB_JOB_TOKEN = "glpat-hostile-project-bot-000111"
GITLAB_MALLORY_TOKEN = "glpat-mallory-personal-666666"
MALLORY = {"id": 666, "username": "mallory", "name": "Mallory", "state": "active"}


@dataclass(frozen=True)
class Posted:
    """A comment or note as the stand-in holds it."""

    id: int
    body: str
    author: str


class Side:
    """One forge's stand-in, its CLI environment, and what the tests read and plant there."""

    name: str
    standin: Any

    def env(self, api_url: str) -> dict[str, str]:
        """The environment of ``mlops-actions comment`` against ``api_url`` (the stand-in or a proxy)."""
        raise NotImplementedError

    def comments(self) -> list[Posted]:
        raise NotImplementedError

    def plant(self, body: str, *, as_mallory: bool) -> int:
        """A comment created through the API with mallory's token (or the job's); its id."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        return str(self.standin.url)

    @property
    def own_author(self) -> str:
        raise NotImplementedError

    def sticky(self) -> list[Posted]:
        """The comments that carry the model's marker, whoever wrote them."""
        return [comment for comment in self.comments() if comment.body.startswith(MARKER)]

    def ours(self) -> list[Posted]:
        return [comment for comment in self.sticky() if comment.author == self.own_author]

    def writes(self) -> list[str]:
        raise NotImplementedError


class GitHubSide(Side):
    name = "github"
    number = 7

    def __init__(self, standin: GitHubStandIn):
        self.standin = standin

    def env(self, api_url: str) -> dict[str, str]:
        return {
            "GITHUB_API_URL": api_url,
            "GITHUB_REPOSITORY": "acme/app",
            "GITHUB_TOKEN": GITHUB_JOB_TOKEN,
            "MLOPS_GITHUB_TOKEN": "",
            "MLOPS_PR_NUMBER": str(self.number),
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": "",
            "MLOPS_GITHUB_APP_SLUG": "",
        }

    @property
    def own_author(self) -> str:
        return "github-actions[bot]"

    def comments(self) -> list[Posted]:
        return [
            Posted(int(c["id"]), str(c["body"]), str(c["user"]["login"]))
            for c in self.standin.comments(self.number)
        ]

    def plant(self, body: str, *, as_mallory: bool) -> int:
        token = GITHUB_MALLORY_TOKEN if as_mallory else GITHUB_JOB_TOKEN
        response = requests.post(
            f"{self.url}/repos/acme/app/issues/{self.number}/comments",
            json={"body": body},
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            timeout=10,
        )
        response.raise_for_status()
        return int(response.json()["id"])

    def writes(self) -> list[str]:
        return [record.method for record in self.standin.writes()]


class GitLabSide(Side):
    name = "gitlab"
    iid = 1

    def __init__(self, standin: GitLabStandIn):
        self.standin = standin

    def env(self, api_url: str) -> dict[str, str]:
        return {
            "CI_API_V4_URL": api_url,
            "CI_PROJECT_ID": "42",
            "CI_MERGE_REQUEST_IID": str(self.iid),
            "CI_MERGE_REQUEST_PROJECT_ID": "",
            "CI_PROJECT_URL": "https://gitlab.example/acme/credit",
            "MLOPS_GITLAB_TOKEN": GITLAB_JOB_TOKEN,
            "GITLAB_TOKEN": "",
            "MLOPS_MR_IID": "",
        }

    @property
    def own_author(self) -> str:
        return "project_42_bot"

    def comments(self) -> list[Posted]:
        return [
            Posted(int(n["id"]), str(n["body"]), str(n["author"]["username"]))
            for n in self.standin.mr_notes(self.iid)
            if not n["system"]
        ]

    def plant(self, body: str, *, as_mallory: bool) -> int:
        token = GITLAB_MALLORY_TOKEN if as_mallory else GITLAB_JOB_TOKEN
        response = requests.post(
            f"{self.url}/projects/42/merge_requests/{self.iid}/notes",
            json={"body": body},
            headers={"PRIVATE-TOKEN": token},
            timeout=10,
        )
        response.raise_for_status()
        return int(response.json()["id"])

    def writes(self) -> list[str]:
        return [seen.method for seen in self.standin.writes()]


@contextmanager
def side_of(name: str) -> Iterator[Side]:
    """A started stand-in of ``name`` (github or gitlab) with the job's and mallory's tokens."""
    if name == "github":
        with GitHubStandIn(token=GITHUB_JOB_TOKEN, repository="acme/app") as github:
            github.user_tokens[GITHUB_MALLORY_TOKEN] = "mallory"
            github.add_pull_request(GitHubSide.number, author="octocat")
            yield GitHubSide(github)
            assert github.violations == [], github.violations
    else:
        with GitLabStandIn(
            tokens={GITLAB_JOB_TOKEN: "api", GITLAB_MALLORY_TOKEN: "api"},
            users={GITLAB_MALLORY_TOKEN: MALLORY},
            merge_requests=(GitLabSide.iid,),
            max_per_page=20,
        ) as gitlab:
            yield GitLabSide(gitlab)
            assert gitlab.violations == [], gitlab.violations


def write_result(folder: Path) -> Path:
    """A valid mlops-result.json of model ``churn`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mlops-result.json"
    shutil.copyfile(RESULT_FIXTURE, path)
    json.loads(path.read_text())
    return path


def comment_args(result: Path, side: Side) -> list[str]:
    return ["comment", "--result", str(result), "--forge", side.name]
