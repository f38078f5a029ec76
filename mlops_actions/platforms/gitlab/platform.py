"""GitLab CI as the stages see it: the merge request, the job links, the job reports, pipeline triggers
and issues, each delegated to the modules beside this one."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from mlops_actions.errors import ForgeError, MlopsError
from mlops_actions.platforms.base import ChangeRequest, Dispatch, Issue, Links
from mlops_actions.platforms.comments import CommentResult
from mlops_actions.platforms.issues import TrackedIssues
from mlops_actions.platforms.rest_client import ApiError, as_forge_errors

NO_TOKEN_REASON = (
    "MLOPS_GITLAB_TOKEN is not set, and the CI/CD job token cannot write merge request notes; set it to a "
    "project access token with scope `api` to get the note"
)
VARIABLE_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
DISPATCH_VARIABLE = "MLOPS_DISPATCH"
TARGET_PATTERN = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
)  # names the dispatched target for the pipeline's rules


def variable_name(input_name: str) -> str:
    """The CI/CD variable an input becomes: ``version-tag`` -> ``MLOPS_VERSION_TAG``."""
    name = (
        input_name if input_name.isupper() else "MLOPS_" + re.sub(r"[^A-Za-z0-9]+", "_", input_name).upper()
    )
    if not VARIABLE_PATTERN.match(name):
        raise MlopsError(f"pipeline input {input_name[:60]!r}: expected a name like version-tag")
    return name


class GitLabPlatform(TrackedIssues):
    """The GitLab CI job this process runs in."""

    name = "gitlab"

    def __init__(self, env: Mapping[str, str], **client_options: Any):
        self.env = dict(env)
        self._client_options = client_options

    def __repr__(self) -> str:
        return f"GitLabPlatform(project={self.env.get('CI_PROJECT_ID') or self.env.get('CI_PROJECT_PATH')!r})"

    @staticmethod
    def detect(env: Mapping[str, str]) -> bool:
        """True in a GitLab CI job (GITLAB_CI=true)."""
        return env.get("GITLAB_CI") == "true"

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None, **_other: Any) -> GitLabPlatform:
        """The platform of the CI job's variables; options of other platforms are ignored."""
        return cls(os.environ if env is None else env)

    # -- what the job runs for -------------------------------------------------------------------------

    def has_write_token(self) -> bool:
        """Whether a token that may write notes and issues is set (MLOPS_GITLAB_TOKEN or GITLAB_TOKEN)."""
        from mlops_actions.platforms.gitlab.api import private_token

        return private_token(self.env) is not None

    def change_request(self) -> ChangeRequest | None:
        """The merge request of a merge request pipeline (CI_MERGE_REQUEST_* variables, or MLOPS_MR_IID)."""
        from mlops_actions.platforms.gitlab.comments import parse_iid

        env = self.env
        if env.get("MLOPS_MR_IID"):
            iid = parse_iid(env["MLOPS_MR_IID"], "MLOPS_MR_IID")
        elif env.get("CI_MERGE_REQUEST_IID"):
            iid = parse_iid(env["CI_MERGE_REQUEST_IID"])
        else:
            return None
        source = env.get("CI_MERGE_REQUEST_SOURCE_PROJECT_ID")
        target = env.get("CI_MERGE_REQUEST_PROJECT_ID") or env.get("CI_PROJECT_ID")
        labels = tuple(
            label.strip() for label in env.get("CI_MERGE_REQUEST_LABELS", "").split(",") if label.strip()
        )
        return ChangeRequest(
            number=iid,
            title=env.get("CI_MERGE_REQUEST_TITLE", ""),
            labels=labels,
            base_ref=env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME") or None,
            head_ref=env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") or None,
            head_sha=env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA") or env.get("CI_COMMIT_SHA") or None,
            from_fork=bool(source and target and source != target),
            author=env.get("GITLAB_USER_LOGIN") or None,
            can_write=self.has_write_token(),
            read_only_reason="" if self.has_write_token() else NO_TOKEN_REASON,
        )

    def change_request_labels(self, number: int) -> tuple[str, ...] | None:
        """The running merge request's labels (CI_MERGE_REQUEST_LABELS) when it is ``number``; else None."""
        change = self.change_request()
        return change.labels if change is not None and change.number == number else None

    def branch(self) -> str | None:
        return self.env.get("CI_COMMIT_BRANCH") or self.env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") or None

    def links(self, paths: Mapping[str, str] | None = None) -> Links:
        """The pipeline and the job, and the HTML report among the job's artifacts (``paths["html"]``)."""
        from mlops_actions.platforms.gitlab.job import report_links

        found = report_links(paths or {}, self.env)
        pipeline = self.env.get("CI_PIPELINE_URL", "")
        return Links(
            run_url=pipeline if pipeline.startswith(("https://", "http://")) else None,
            job_url=found.get("run_url"),
            artifacts={k: v for k, v in found.items() if k != "run_url"},
        )

    # -- the sticky note and the job ---------------------------------------------------------------------

    @cached_property
    def forge(self) -> Any:
        """The merge request's sticky-note forge (:class:`GitLabForge`)."""
        from mlops_actions.platforms.gitlab.comments import GitLabForge

        return GitLabForge.from_environment(self.env, **self._client_options)

    def post_sticky_comment(self, body: str, *, key: str) -> CommentResult:
        result: CommentResult = self.forge.post_sticky_comment(body, key=key)
        return result

    def publish_job_summary(
        self, result: Mapping[str, Any], markdown: str, paths: Mapping[str, str]
    ) -> dict[str, str]:
        """The JUnit and dotenv reports next to the result file (the links are the result's own)."""
        from mlops_actions.platforms.gitlab.job import write_job_reports

        if not paths.get("result"):
            return {}
        links = result.get("links") if isinstance(result.get("links"), Mapping) else None
        return write_job_reports(result, Path(paths["result"]).parent, links)

    def write_outputs(self, outputs: Mapping[str, str], summary: str = "") -> None:
        """Nothing: a GitLab job's outputs are its dotenv report (written with the job summary)."""

    # -- the release side --------------------------------------------------------------------------------

    def fetch_candidate(self, model: str, tree: str, target: Path) -> tuple[Path | None, str]:
        return None, "GitLab keeps no candidate artifact of the merge request's check; the release retrains"

    def _client(self, what: str) -> Any:
        from mlops_actions.platforms.gitlab.api import NOTE_TOKEN_HINT, client_from_environment, private_token

        token = private_token(self.env)
        if token is None:
            raise ForgeError(
                f"MLOPS_GITLAB_TOKEN: not set; needed to {what}; " + NOTE_TOKEN_HINT.removeprefix("set the ")
            )
        with as_forge_errors(what):
            return client_from_environment(self.env, token=token, **self._client_options)

    def dispatch(self, target: str, *, ref: str, inputs: Mapping[str, str]) -> Dispatch:
        """A new pipeline on ``ref`` whose variables are ``MLOPS_DISPATCH=<target>`` and the inputs
        (``version-tag`` becomes ``MLOPS_VERSION_TAG``), for the pipeline's rules to start the right job."""
        from mlops_actions.platforms.gitlab.api import Access

        if not TARGET_PATTERN.match(target):
            raise MlopsError(
                f"dispatch target {target[:80]!r}: expected a name like mlops-deploy.yml or deploy"
            )
        variables = {DISPATCH_VARIABLE: target, **{variable_name(k): str(v) for k, v in inputs.items()}}
        client = self._client("start a pipeline")
        access = Access("start a pipeline", scope="api", role="Developer")
        with as_forge_errors("dispatch"):
            response = client.request(
                "POST",
                client.project_path("/pipeline"),
                access=access,
                json={"ref": ref, "variables": [{"key": k, "value": v} for k, v in variables.items()]},
                retry=False,  # a second pipeline would deploy twice
            )
            answer = client.json_of(response, "POST /projects/:id/pipeline", expect=dict)
        location = str(answer.get("web_url") or f"pipeline {answer.get('id')}")
        return Dispatch(target=target, ref=ref, inputs=dict(inputs), location=location)

    # -- issues ------------------------------------------------------------------------------------------

    def issue_tracker(self) -> _ProjectIssues:
        return _ProjectIssues(self, self._client("keep the monitoring issue"))


@dataclass
class _ProjectIssues:
    """The issues of the project, as :mod:`mlops_actions.platforms.issues` uses them."""

    platform: GitLabPlatform
    client: Any  # GitLabClient with the private token
    service: str = "GitLab API"

    @property
    def max_attempts(self) -> int:
        return int(self.client.max_attempts)

    @property
    def _access(self) -> Any:
        from mlops_actions.platforms.gitlab.api import Access

        return Access("open, update and close the monitoring issue", scope="api", role="Reporter")

    def _path(self, suffix: str = "") -> str:
        return str(self.client.project_path(f"/issues{suffix}"))

    def _issue_of(self, item: Mapping[str, Any], where: str) -> tuple[Issue, str, str]:
        from mlops_actions.platforms.gitlab.api import GitLabApiError

        iid = item.get("iid")
        if not isinstance(iid, int) or isinstance(iid, bool):
            raise GitLabApiError(f"GitLab API: expected an issue with an integer iid from {where}")
        author = item.get("author")
        author_id = author.get("id") if isinstance(author, Mapping) else None
        state = "closed" if item.get("state") == "closed" else "open"
        issue = Issue(
            number=iid,
            url=str(item.get("web_url") or ""),
            state=state,
            title=str(item.get("title") or ""),
            labels=tuple(str(label) for label in item.get("labels") or []),
        )
        return issue, str(item.get("description") or ""), "" if author_id is None else str(author_id)

    def _answer(self, response: Any, where: str) -> Issue:
        return self._issue_of(self.client.json_of(response, where, expect=dict), where)[0]

    def open_issues(self, key: str) -> list[Any]:
        from mlops_actions.platforms.issues import TrackedIssue

        params = {"state": "opened", "search": key, "in": "description", "sort": "asc"}
        found = []
        for item in self.client.paginate(self._path(), access=self._access, params=params):
            issue, body, author = self._issue_of(item, f"GET {self._path()}")
            found.append(TrackedIssue(issue, body, author))
        return found

    def own_identity(self) -> str:
        from mlops_actions.platforms.gitlab.comments import GitLabForge

        return GitLabForge(self.client, merge_request_iid=None).own_user_id()

    def create(self, *, title: str, body: str, labels: tuple[str, ...]) -> Issue:
        document: dict[str, Any] = {"title": title, "description": body}
        if labels:
            document["labels"] = ",".join(labels)
        response = self.client.request("POST", self._path(), access=self._access, json=document, retry=False)
        return self._answer(response, "POST /projects/:id/issues")

    def update(self, issue: Issue, *, title: str, body: str, labels: tuple[str, ...] | None = None) -> Issue:
        path = self._path(f"/{issue.number}")
        document: dict[str, Any] = {"title": title, "description": body}
        if labels is not None:
            document["labels"] = ",".join(labels)
        response = self.client.request("PUT", path, access=self._access, json=document)
        return self._answer(response, "PUT /projects/:id/issues/:issue_iid")

    def comment(self, issue: Issue, body: str) -> None:
        path = self._path(f"/{issue.number}/notes")
        self.client.request("POST", path, access=self._access, json={"body": body})

    def close(self, issue: Issue) -> Issue:
        path = self._path(f"/{issue.number}")
        response = self.client.request("PUT", path, access=self._access, json={"state_event": "close"})
        return self._answer(response, "PUT /projects/:id/issues/:issue_iid")

    def is_retryable(self, error: ApiError) -> bool:
        return bool(self.client.is_retryable(error))

    def pause(self, attempt: int, wait: float) -> None:
        self.client.pause_before_retry(attempt, wait)
