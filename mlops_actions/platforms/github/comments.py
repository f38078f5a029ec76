"""The GitHub forge: the sticky pull-request comment through the REST API.

Works on github.com and GitHub Enterprise Server alike: the API base URL comes from ``GITHUB_API_URL``
(set by every Actions runner), the token from ``MLOPS_GITHUB_TOKEN`` or ``GITHUB_TOKEN``, the repository
from ``GITHUB_REPOSITORY`` and the pull request from ``MLOPS_PR_NUMBER`` or the event payload
(``GITHUB_EVENT_PATH``).

One comment per model per pull request: its first line is a hidden marker naming the model
(:func:`mlops_actions.platforms.comments.sticky_marker`); a later post finds it (following pagination) and
edits it in place (:func:`mlops_actions.platforms.comments.post_sticky`). A marker counts only on a comment the
token's own identity wrote: ``GET /user`` for a personal token; the Actions ``GITHUB_TOKEN`` and other
installation tokens, which GitHub answers ``403 Resource not accessible by integration`` there, write as
``github-actions[bot]``, or as ``<slug>[bot]`` for a GitHub App named by ``MLOPS_GITHUB_APP_SLUG``.
Comments of anyone else, or with another marker, or none, are never touched.

The HTTP side is :class:`mlops_actions.platforms.github.api.GitHubClient`: requests time out and are retried with
exponential backoff on 5xx, 429 and secondary rate limits, honouring ``Retry-After``; a refused request
(401/403/404) becomes one line naming the permission to grant; the token never appears in a message.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mlops_actions.errors import ForgeError
from mlops_actions.platforms.comments import (
    CommentResult,
    ThreadComment,
    check_sticky_key,
    post_sticky,
    with_marker,
)
from mlops_actions.platforms.github.api import (
    DEFAULT_API_URL,
    TOKEN_VARIABLES,
    Access,
    GitHubApiError,
    GitHubClient,
)
from mlops_actions.platforms.rest_client import ApiError

# GitHub rejects comment bodies longer than 65,536 characters; stay clear of it.
MAX_COMMENT_CHARS = 65_000
TRUNCATION_NOTE = (
    "\n\n_… comment truncated to fit GitHub's size limit; the full report is in the job summary._\n"
)
PR_NUMBER_PATTERN = re.compile(r"^[1-9][0-9]{0,9}$")
APP_SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
ACTIONS_APP_SLUG = "github-actions"
APP_SLUG_VARIABLE = "MLOPS_GITHUB_APP_SLUG"
INTEGRATION_REFUSAL = "Resource not accessible by integration"  # GET /user with an installation token

WRITE_PERMISSION_HINT = (
    "grant the job `permissions: pull-requests: write` "
    "(pull requests from forks get a read-only token: post from the mlops-pr-comment.yml workflow instead)"
)
READ_PERMISSION_HINT = (
    "grant the job `permissions: pull-requests: read` (`pull-requests: write` to post the comment)"
)
READ_COMMENTS = Access(
    "read the pull request's comments",
    "pull-requests: read",
    advice=READ_PERMISSION_HINT,
    also_check="the pull request number",
)
WRITE_COMMENTS = Access(
    "post the sticky comment",
    "pull-requests: write",
    advice=WRITE_PERMISSION_HINT,
    also_check="the pull request number",
)
IDENTIFY = Access(
    "recognise its own comments",
    "none",
    advice=(
        "post with the job's GITHUB_TOKEN, a GitHub App installation token (name the app in "
        f"{APP_SLUG_VARIABLE}) or a personal token that may read its own user"
    ),
)


@dataclass(frozen=True)
class Comment:
    """The fields of an issue comment the forge uses."""

    id: int
    body: str
    user: str
    url: str


def parse_pr_number(text: object) -> int:
    """A pull request number: a positive integer (given as int or decimal text), else a ForgeError."""
    if isinstance(text, bool):
        raise ForgeError(f"pull request number: expected a positive integer, got {text!r}")
    if isinstance(text, int):
        if text > 0:
            return text
        raise ForgeError(f"pull request number: expected a positive integer, got {text}")
    value = str(text).strip()
    if not PR_NUMBER_PATTERN.match(value):
        shown = value if len(value) <= 20 else value[:20] + "…"
        raise ForgeError(f"pull request number: expected a positive integer, got {shown!r}")
    return int(value)


def pr_number_from_event(event: Mapping[str, Any]) -> int | None:
    """The pull request number of a pull_request / pull_request_target event payload, if any."""
    pull_request = event.get("pull_request")
    if isinstance(pull_request, Mapping) and pull_request.get("number") is not None:
        return parse_pr_number(pull_request["number"])
    if event.get("number") is not None and isinstance(pull_request, Mapping):
        return parse_pr_number(event["number"])
    return None


def load_event(env: Mapping[str, str]) -> dict[str, Any]:
    """The event payload at GITHUB_EVENT_PATH ({} when unset); a ForgeError when unreadable."""
    path = env.get("GITHUB_EVENT_PATH", "")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            event = json.load(handle)
    except (OSError, ValueError) as error:
        raise ForgeError(
            f"{path}: cannot read the GitHub event payload ({error.__class__.__name__})"
        ) from None
    if not isinstance(event, dict):
        raise ForgeError(f"{path}: expected a JSON object as the GitHub event payload")
    return event


def parse_app_slug(text: str) -> str:
    """A GitHub App slug (``my-app``, whose installation token writes as ``my-app[bot]``), else a ForgeError."""
    value = text.strip().removesuffix("[bot]")
    if not APP_SLUG_PATTERN.match(value):
        raise ForgeError(f"{APP_SLUG_VARIABLE}: expected a GitHub App slug like 'my-app', got {text[:60]!r}")
    return value


def truncate_body(body: str, limit: int = MAX_COMMENT_CHARS) -> str:
    """The body cut to at most ``limit`` characters (UTF-16 units, as GitHub counts), with a note."""

    def size(text: str) -> int:
        return len(text.encode("utf-16-le")) // 2

    if size(body) <= limit:
        return body
    budget = limit - size(TRUNCATION_NOTE)
    cut = body[:budget]
    while size(cut) > budget:
        cut = cut[: len(cut) - max(1, (size(cut) - budget) // 2)]
    # Do not end inside a table row or a code span: cut at the last full line.
    if "\n" in cut:
        cut = cut[: cut.rfind("\n")]
    return cut + TRUNCATION_NOTE


@contextmanager
def _as_forge_errors() -> Iterator[None]:
    """The API client's errors, raised as the forge's own."""
    try:
        yield
    except GitHubApiError as error:
        raise ForgeError(str(error)) from None


class GitHubForge:
    """Posts the sticky comment of each model on one pull request of one repository."""

    name = "github"

    def __init__(
        self,
        *,
        repository: str,
        token: str,
        api_url: str = DEFAULT_API_URL,
        pr_number: int | None = None,
        app_slug: str = ACTIONS_APP_SLUG,
        **client_options: Any,
    ):
        with _as_forge_errors():
            self.client = GitHubClient(repository=repository, token=token, api_url=api_url, **client_options)
        self.repository = repository
        self.api_url = self.client.api_url
        self.pr_number = pr_number
        self.app_slug = parse_app_slug(app_slug)
        self._login: str | None = None  # the token's own login, asked once

    def __repr__(self) -> str:  # never show the token
        return f"GitHubForge(repository={self.repository!r}, api_url={self.api_url!r}, pr_number={self.pr_number!r})"

    @property
    def max_attempts(self) -> int:
        return self.client.max_attempts

    @classmethod
    def from_environment(
        cls, env: Mapping[str, str] | None = None, *, pr_number: int | None = None, **options: Any
    ) -> GitHubForge:
        """The forge configured from the Actions environment (see the module docstring)."""
        env = os.environ if env is None else env
        token = next((env[name] for name in TOKEN_VARIABLES if env.get(name)), "")
        repository = env.get("GITHUB_REPOSITORY", "")
        if not repository:
            raise ForgeError("GITHUB_REPOSITORY: not set; expected owner/name (set by GitHub Actions)")
        if pr_number is None and env.get("MLOPS_PR_NUMBER"):
            pr_number = parse_pr_number(env["MLOPS_PR_NUMBER"])
        if pr_number is None:
            pr_number = pr_number_from_event(load_event(env))
        return cls(
            repository=repository,
            token=token,
            api_url=env.get("GITHUB_API_URL") or DEFAULT_API_URL,
            pr_number=pr_number,
            app_slug=env.get(APP_SLUG_VARIABLE) or ACTIONS_APP_SLUG,
            **options,
        )

    # -- HTTP ---------------------------------------------------------------------------------------

    def request(
        self, method: str, path_or_url: str, *, params: Mapping[str, Any] | None = None, body: Any = None
    ) -> Any:
        """One API call to the API's own origin, retried with backoff (see :class:`GitHubClient`)."""
        url = path_or_url if "://" in path_or_url else f"{self.api_url}{path_or_url}"
        base, other = urlsplit(self.api_url), urlsplit(url)
        if (base.scheme, base.netloc) != (other.scheme, other.netloc) or not other.path.startswith(base.path):
            raise ForgeError(f"GitHub API: refusing to follow a link outside {self.api_url}")
        access = READ_COMMENTS if method == "GET" else WRITE_COMMENTS
        with _as_forge_errors():
            return self.client.request(method, url, access=access, params=params, json=body)

    # -- comments -------------------------------------------------------------------------------------

    def _require_pr(self) -> int:
        if self.pr_number is None:
            raise ForgeError(
                "pull request number: not found; run on a pull_request event or set MLOPS_PR_NUMBER"
            )
        return self.pr_number

    def _issue_path(self, number: int) -> str:
        return f"/repos/{self.repository}/issues/{number}"

    def iter_comments(self, number: int | None = None) -> Iterator[Comment]:
        """Every comment of the pull request, oldest first, following the Link header's next pages."""
        number = self._require_pr() if number is None else number
        path = f"{self._issue_path(number)}/comments"
        with _as_forge_errors():
            for item in self.client.paginate(path, access=READ_COMMENTS):
                yield self._comment_of(item, f"GET {path}")

    def _comment_of(self, item: Mapping[str, Any], where: str) -> Comment:
        """A comment of the API's answer, or a one-line error (status 0: the outcome of a write is unknown)."""
        user = item.get("user")
        login = user.get("login") if isinstance(user, Mapping) else ""
        cid, body = item.get("id"), item.get("body")
        if not isinstance(cid, int) or isinstance(cid, bool) or not isinstance(body, (str, type(None))):
            raise GitHubApiError(f"GitHub API: expected a comment with an integer id from {where}")
        return Comment(id=cid, body=body or "", user=str(login or ""), url=str(item.get("html_url", "")))

    def own_login(self) -> str:
        """The login this token writes as: the author of a comment it created, else ``GET /user``, else
        (an installation token, refused there) ``<app slug>[bot]``. Asked once per forge."""
        if self._login is None:
            try:
                response = self.client.request("GET", "/user", access=IDENTIFY)
            except GitHubApiError as error:
                if error.status == 403 and INTEGRATION_REFUSAL in str(error):
                    self._login = f"{self.app_slug}[bot]"
                    return self._login
                raise ForgeError(str(error)) from None
            with _as_forge_errors():
                login = self.client.json_of(response, "GET /user", expect=dict).get("login")
            if not isinstance(login, str) or not login:
                raise ForgeError("GitHub API: expected a user with a login from GET /user")
            self._login = login
        return self._login

    def get_issue(self, number: int) -> dict[str, Any]:
        """The issue (or pull request, as an issue) ``number``."""
        response = self.request("GET", self._issue_path(number))
        with _as_forge_errors():
            payload: dict[str, Any] = self.client.json_of(
                response, f"GET {self._issue_path(number)}", expect=dict
            )
        return payload

    def post_sticky_comment(self, body: str, *, key: str) -> CommentResult:
        """Create our comment carrying the marker for ``key``, or edit it in place (see :func:`post_sticky`).

        A create that fails with a retryable error or an unreadable answer is not blindly repeated: the
        comments are listed again first. Our duplicates left by a race are removed, so one remains; a
        marked comment by anyone else is left as it is.
        """
        check_sticky_key(key)
        thread = _PullRequestThread(self, self._require_pr())
        with _as_forge_errors():
            return post_sticky(thread, truncate_body(with_marker(body, key)), key=key)


@dataclass
class _PullRequestThread:
    """The comments of one pull request, as :func:`post_sticky` uses them."""

    forge: GitHubForge
    number: int
    service: str = "GitHub API"

    @property
    def max_attempts(self) -> int:
        return self.forge.max_attempts

    def _thread_comment(self, comment: Comment) -> ThreadComment:
        return ThreadComment(id=comment.id, body=comment.body, author=comment.user, location=comment.url)

    def _answer(self, response: Any, where: str) -> ThreadComment:
        item = self.forge.client.json_of(response, where, expect=dict)
        return self._thread_comment(self.forge._comment_of(item, where))

    def comments(self) -> list[ThreadComment]:
        return [self._thread_comment(comment) for comment in self.forge.iter_comments(self.number)]

    def own_identity(self) -> str:
        return self.forge.own_login()

    def create(self, text: str) -> ThreadComment:
        """Create the comment; its author, as GitHub answers, is the identity this token writes as."""
        path = f"{self.forge._issue_path(self.number)}/comments"
        response = self.forge.client.request(
            "POST", path, access=WRITE_COMMENTS, json={"body": text}, retry=False
        )
        created = self._answer(response, f"POST {path}")
        if created.author:
            self.forge._login = created.author
        return created

    def update(self, comment: ThreadComment, text: str) -> ThreadComment:
        path = f"/repos/{self.forge.repository}/issues/comments/{comment.id}"
        response = self.forge.client.request("PATCH", path, access=WRITE_COMMENTS, json={"body": text})
        return self._answer(response, f"PATCH {path}")

    def delete(self, comment: ThreadComment) -> None:
        path = f"/repos/{self.forge.repository}/issues/comments/{comment.id}"
        self.forge.client.request("DELETE", path, access=WRITE_COMMENTS, allowed=frozenset({404}))

    def is_retryable(self, error: ApiError) -> bool:
        return self.forge.client.is_retryable(error)

    def pause(self, attempt: int, wait: float) -> None:
        self.forge.client.pause_before_retry(attempt, wait)


def verify_workflow_run_pr(forge: GitHubForge, event: Mapping[str, Any], pr_number: int) -> int:
    """Check that ``pr_number`` is the pull request of the run that triggered this workflow_run event.

    The number comes from an artifact that pull-request code could have written, so it is trusted only
    when it matches what GitHub itself reports: the run's ``pull_requests`` when GitHub lists them (same
    repository), else (forks, where GitHub lists none) an open pull request of this repository opened by
    the owner of the run's head repository or by the run's actor.
    """
    run = event.get("workflow_run")
    if not isinstance(run, Mapping):
        raise ForgeError("workflow_run event: the payload has no workflow_run object")
    if run.get("event") not in ("pull_request", "pull_request_target"):
        raise ForgeError(
            f"workflow_run event: the triggering run was a {run.get('event')!r} event, not a pull request"
        )
    listed = [p.get("number") for p in run.get("pull_requests") or [] if isinstance(p, Mapping)]
    if listed:
        if pr_number not in listed:
            shown = ", ".join(f"#{n}" for n in listed)
            raise ForgeError(f"pull request #{pr_number} is not the triggering run's pull request ({shown})")
        return pr_number
    issue = forge.get_issue(pr_number)
    if "pull_request" not in issue:
        raise ForgeError(f"#{pr_number} is an issue, not a pull request")
    if issue.get("state") != "open":
        raise ForgeError(f"pull request #{pr_number} is {issue.get('state')}, not open")
    author = str((issue.get("user") or {}).get("login", ""))
    head_owner = str(((run.get("head_repository") or {}).get("owner") or {}).get("login", ""))
    actor = str((run.get("actor") or {}).get("login", ""))
    if not author or author not in {head_owner, actor}:
        raise ForgeError(
            f"pull request #{pr_number} was opened by {author or 'nobody'!r}, not by the owner of the run's head "
            f"repository ({head_owner!r}) or its actor ({actor!r}); refusing to comment"
        )
    return pr_number
