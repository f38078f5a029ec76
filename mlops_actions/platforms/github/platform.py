"""GitHub Actions as the stages see it: the pull request, the run link, the job summary, the candidate
artifact, workflow dispatch and issues, each delegated to the modules beside this one."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from mlops_actions.errors import MlopsError
from mlops_actions.platforms.base import ChangeRequest, Dispatch, Issue, Links
from mlops_actions.platforms.comments import CommentResult
from mlops_actions.platforms.issues import TrackedIssues
from mlops_actions.platforms.rest_client import ApiError, as_forge_errors

DEPENDABOT = "dependabot[bot]"
FORK_REASON = (
    "the pull request comes from a fork, so this job's token is read-only; "
    "the comment workflow (mlops-pr-comment.yml) posts the comment from the result artifact"
)
DEPENDABOT_REASON = (
    "the run was started by Dependabot, so this job's token is read-only; "
    "the comment workflow (mlops-pr-comment.yml) posts the comment from the result artifact"
)
DEFAULT_SERVER_URL = "https://github.com"
WORKFLOW_PATTERN = re.compile(r"^(?:[A-Za-z0-9_.-]+\.ya?ml|[1-9][0-9]{0,18})$")
INPUT_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,99}$")


def run_url_of(env: Mapping[str, str]) -> str | None:
    """The URL of this workflow run (GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID), when known."""
    repository, run_id = env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
    if not repository or not run_id:
        return None
    server = (env.get("GITHUB_SERVER_URL") or DEFAULT_SERVER_URL).rstrip("/")
    return f"{server}/{repository}/actions/runs/{run_id}"


class GitHubPlatform(TrackedIssues):
    """The GitHub Actions job this process runs in (or the repository an explicit ``--platform github`` names)."""

    name = "github"

    def __init__(self, env: Mapping[str, str], *, pr_number: int | None = None, **client_options: Any):
        self.env = dict(env)
        self._pr_number = pr_number
        self._client_options = client_options

    def __repr__(self) -> str:
        return f"GitHubPlatform(repository={self.env.get('GITHUB_REPOSITORY')!r})"

    @staticmethod
    def detect(env: Mapping[str, str]) -> bool:
        """True in a GitHub Actions job (GITHUB_ACTIONS=true)."""
        return env.get("GITHUB_ACTIONS") == "true"

    @classmethod
    def from_environment(
        cls, env: Mapping[str, str] | None = None, *, pr_number: int | None = None, **_other: Any
    ) -> GitHubPlatform:
        """The platform of the Actions environment; ``pr_number`` names the pull request explicitly.
        Options of other platforms (``comment_dir``...) are ignored."""
        return cls(os.environ if env is None else env, pr_number=pr_number)

    # -- what the job runs for -------------------------------------------------------------------------

    @cached_property
    def event(self) -> dict[str, Any]:
        """The event payload at GITHUB_EVENT_PATH ({} when unset)."""
        from mlops_actions.platforms.github.comments import load_event

        return load_event(self.env)

    @property
    def event_name(self) -> str:
        return self.env.get("GITHUB_EVENT_NAME", "")

    def actor(self) -> str:
        """Who triggered the run (GITHUB_ACTOR, else the event's sender)."""
        sender = self.event.get("sender")
        fallback = sender.get("login") if isinstance(sender, Mapping) else ""
        return self.env.get("GITHUB_ACTOR") or str(fallback or "")

    def change_request(self) -> ChangeRequest | None:
        """The pull request of the event (or MLOPS_PR_NUMBER). The token may write when the pull request
        comes from this repository and the run was not started by Dependabot (both get read-only tokens)."""
        from mlops_actions.platforms.github.comments import parse_pr_number, pr_number_from_event

        number = self._pr_number
        if number is None and self.env.get("MLOPS_PR_NUMBER"):
            number = parse_pr_number(self.env["MLOPS_PR_NUMBER"])
        pull = self.event.get("pull_request")
        if not isinstance(pull, Mapping):
            return None if number is None else ChangeRequest(number=number, can_write=True)
        number = number if number is not None else pr_number_from_event(self.event)
        if number is None:
            return None
        base, head = _mapping(pull.get("base")), _mapping(pull.get("head"))
        base_repo = _mapping(base.get("repo")).get("full_name") or self.env.get("GITHUB_REPOSITORY")
        head_repo = _mapping(head.get("repo")).get("full_name")
        from_fork = not head_repo or head_repo != base_repo
        actor = self.actor()
        read_only = FORK_REASON if from_fork else DEPENDABOT_REASON if actor == DEPENDABOT else ""
        labels = tuple(
            str(label.get("name")) for label in pull.get("labels") or [] if isinstance(label, Mapping)
        )
        return ChangeRequest(
            number=number,
            title=str(pull.get("title") or ""),
            labels=labels,
            base_ref=_text(base.get("ref")),
            head_ref=_text(head.get("ref")),
            head_sha=_text(head.get("sha")),
            from_fork=from_fork,
            author=actor or _text(_mapping(pull.get("user")).get("login")),
            can_write=not read_only,
            read_only_reason=read_only,
        )

    def change_request_labels(self, number: int) -> tuple[str, ...] | None:
        """The labels of pull request ``number`` (``GET /repos/{owner}/{repo}/issues/{number}``)."""
        from mlops_actions.platforms.github.api import Access

        with as_forge_errors(f"labels of pull request #{number}"):
            client = self.client()
            response = client.request(
                "GET",
                client.repo_path(f"/issues/{int(number)}"),
                access=Access("read the merged pull request's labels", "pull-requests: read"),
            )
            payload = client.json_of(response, "GET /repos/{owner}/{repo}/issues/{number}", expect=dict)
        names = []
        for label in payload.get("labels") or []:
            name = label.get("name") if isinstance(label, Mapping) else label
            if isinstance(name, str):
                names.append(name)
        return tuple(names)

    def branch(self) -> str | None:
        """GITHUB_HEAD_REF in a pull request, else GITHUB_REF_NAME when the ref is a branch."""
        if self.env.get("GITHUB_HEAD_REF"):
            return self.env["GITHUB_HEAD_REF"]
        ref = self.env.get("GITHUB_REF", "")
        if ref.startswith("refs/tags/") or self.env.get("GITHUB_REF_TYPE") == "tag":
            return None
        return self.env.get("GITHUB_REF_NAME") or None

    def links(self, paths: Mapping[str, str] | None = None) -> Links:
        """This run's URL; in a ``workflow_run`` workflow, the URL of the run that triggered it."""
        run = self.event.get("workflow_run") if self.event_name == "workflow_run" else None
        if isinstance(run, Mapping) and isinstance(run.get("html_url"), str):
            return Links(run_url=run["html_url"])
        return Links(run_url=run_url_of(self.env))

    # -- the sticky comment and the job ------------------------------------------------------------------

    @cached_property
    def forge(self) -> Any:
        """The sticky-comment forge of the pull request (:class:`GitHubForge`)."""
        from mlops_actions.platforms.github.comments import GitHubForge

        return GitHubForge.from_environment(self.env, pr_number=self._pr_number, **self._client_options)

    def post_sticky_comment(self, body: str, *, key: str) -> CommentResult:
        """The pull request's sticky comment; skipped outside a pull request."""
        if self.forge.pr_number is None:
            return CommentResult(
                "skipped", "no pull request", "not a pull_request event (MLOPS_PR_NUMBER is not set)"
            )
        result: CommentResult = self.forge.post_sticky_comment(body, key=key)
        return result

    def publish_job_summary(
        self, result: Mapping[str, Any], markdown: str, paths: Mapping[str, str]
    ) -> dict[str, str]:
        """The step summary, one annotation per failure, the step outputs, and ``candidate-artifact``: the
        artifact name under which a passing check's model may be uploaded for the release (empty otherwise)."""
        from mlops_actions.platforms.github.artifacts import candidate_name_of
        from mlops_actions.platforms.github.job import append_outputs, publish_job_outputs

        outputs = publish_job_outputs(result, markdown, paths, self.env)
        model = paths.get("model")
        candidate = {"candidate-artifact": (candidate_name_of(result, model) if model else None) or ""}
        append_outputs(candidate, self.env)
        return {**outputs, **candidate}

    def write_outputs(self, outputs: Mapping[str, str], summary: str = "") -> None:
        """Step outputs (GITHUB_OUTPUT) and, when given, lines appended to the job summary."""
        from mlops_actions.platforms.github.job import append_outputs

        append_outputs(outputs, self.env)
        if summary and self.env.get("GITHUB_STEP_SUMMARY"):
            with open(self.env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as handle:
                handle.write(summary if summary.endswith("\n") else summary + "\n")

    # -- the release side --------------------------------------------------------------------------------

    def client(self, repository: str | None = None) -> Any:
        """A :class:`GitHubClient` of the repository (default GITHUB_REPOSITORY)."""
        from mlops_actions.platforms.github.api import GitHubClient

        return GitHubClient.from_environment(self.env, repository=repository, **self._client_options)

    def fetch_candidate(self, model: str, tree: str, target: Path) -> tuple[Path | None, str]:
        """The PR workflow's artifact ``mlops-candidate-<model>-<tree>``, unpacked into ``target``."""
        from mlops_actions.platforms.github.artifacts import candidate_artifact_name, fetch_candidate

        with as_forge_errors("candidate artifact"):
            return fetch_candidate(self.client(), candidate_artifact_name(model, tree), target)

    def dispatch(self, target: str, *, ref: str, inputs: Mapping[str, str]) -> Dispatch:
        """``workflow_dispatch`` of the workflow file (or id) ``target`` on branch ``ref``."""
        from mlops_actions.platforms.github.api import WRITE_ACTIONS

        if not WORKFLOW_PATTERN.match(target):
            raise MlopsError(f"workflow {target!r}: expected a workflow file name (mlops-deploy.yml) or id")
        for name in inputs:
            if not INPUT_NAME_PATTERN.match(name):
                raise MlopsError(f"workflow input {name[:60]!r}: expected a name like version-tag")
        with as_forge_errors("dispatch"):
            client = self.client()
            client.request(
                "POST",
                client.repo_path(f"/actions/workflows/{target}/dispatches"),
                access=WRITE_ACTIONS,
                json={"ref": ref, "inputs": dict(inputs)},
                retry=False,  # the answer holds no run to look for: a repeat could start a second run
            )
        return Dispatch(target=target, ref=ref, inputs=dict(inputs), location=client.repository)

    # -- issues ------------------------------------------------------------------------------------------

    def issue_tracker(self) -> _RepositoryIssues:
        return _RepositoryIssues(self.forge)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass
class _RepositoryIssues:
    """The issues of the repository, as :mod:`mlops_actions.platforms.issues` uses them."""

    forge: Any  # GitHubForge: its client and its own login
    service: str = "GitHub API"

    @property
    def max_attempts(self) -> int:
        return int(self.forge.max_attempts)

    @property
    def _access(self) -> Any:
        from mlops_actions.platforms.github.api import Access

        return Access("open, update and close the monitoring issue", "issues: write")

    def _path(self, suffix: str = "") -> str:
        return f"/repos/{self.forge.repository}/issues{suffix}"

    def _issue_of(self, item: Mapping[str, Any], where: str) -> tuple[Issue, str, str]:
        from mlops_actions.platforms.github.api import GitHubApiError

        number = item.get("number")
        if not isinstance(number, int) or isinstance(number, bool):
            raise GitHubApiError(f"GitHub API: expected an issue with a number from {where}")
        issue = Issue(
            number=number,
            url=str(item.get("html_url") or ""),
            state=str(item.get("state") or "open"),
            title=str(item.get("title") or ""),
            labels=tuple(
                str(label.get("name") if isinstance(label, Mapping) else label)
                for label in item.get("labels") or []
            ),
        )
        return issue, str(item.get("body") or ""), str(_mapping(item.get("user")).get("login") or "")

    def _answer(self, response: Any, where: str) -> Issue:
        return self._issue_of(self.forge.client.json_of(response, where, expect=dict), where)[0]

    def open_issues(self, key: str) -> list[Any]:
        from mlops_actions.platforms.issues import TrackedIssue

        found = []
        params = {"state": "open", "sort": "created", "direction": "asc"}
        for item in self.forge.client.paginate(self._path(), access=self._access, params=params):
            if isinstance(item, Mapping) and "pull_request" not in item:
                issue, body, author = self._issue_of(item, f"GET {self._path()}")
                found.append(TrackedIssue(issue, body, author))
        return found

    def own_identity(self) -> str:
        return str(self.forge.own_login())

    def create(self, *, title: str, body: str, labels: tuple[str, ...]) -> Issue:
        document: dict[str, Any] = {"title": title, "body": body}
        if labels:
            document["labels"] = list(labels)
        response = self.forge.client.request(
            "POST", self._path(), access=self._access, json=document, retry=False
        )
        return self._answer(response, f"POST {self._path()}")

    def update(self, issue: Issue, *, title: str, body: str, labels: tuple[str, ...] | None = None) -> Issue:
        path = self._path(f"/{issue.number}")
        document: dict[str, Any] = {"title": title, "body": body}
        if labels is not None:
            document["labels"] = list(labels)
        response = self.forge.client.request("PATCH", path, access=self._access, json=document)
        return self._answer(response, f"PATCH {path}")

    def comment(self, issue: Issue, body: str) -> None:
        path = self._path(f"/{issue.number}/comments")
        self.forge.client.request("POST", path, access=self._access, json={"body": body})

    def close(self, issue: Issue) -> Issue:
        path = self._path(f"/{issue.number}")
        response = self.forge.client.request("PATCH", path, access=self._access, json={"state": "closed"})
        return self._answer(response, f"PATCH {path}")

    def is_retryable(self, error: ApiError) -> bool:
        return bool(self.forge.client.is_retryable(error))

    def pause(self, attempt: int, wait: float) -> None:
        self.forge.client.pause_before_retry(attempt, wait)
