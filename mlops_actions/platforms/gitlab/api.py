"""A small client of GitLab's REST API (v4) for the GitLab forge and registry.

Works on gitlab.com and self-managed instances alike: the API base URL comes from ``CI_API_V4_URL`` (set
in every GitLab CI job), the project from ``CI_PROJECT_ID``. Two kinds of token are used:

- ``MLOPS_GITLAB_TOKEN`` (or ``GITLAB_TOKEN``), sent as ``PRIVATE-TOKEN``: a project access token or
  personal access token with scope ``api``. Needed for merge request notes, which the CI/CD job token
  cannot create or edit.
- ``CI_JOB_TOKEN``, sent as ``JOB-TOKEN``: enough for releases, release links and the package registry.

Requests time out and are retried with exponential backoff (with jitter) on 429, 5xx and network errors,
honouring ``Retry-After``. A refused request (401/403/404) becomes one line that names the scope or role
the token lacks. Tokens never appear in messages.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from mlops_actions.errors import GitLabApiError
from mlops_actions.platforms.http_util import error_message
from mlops_actions.platforms.rest_client import USER_AGENT, RestClient

DEFAULT_API_URL = "https://gitlab.com/api/v4"
TIMEOUT_SECONDS = (10.0, 60.0)  # connect, read
UPLOAD_TIMEOUT_SECONDS = (10.0, 600.0)
PRIVATE_TOKEN_VARIABLES = ("MLOPS_GITLAB_TOKEN", "GITLAB_TOKEN")
PROJECT_PATTERN = re.compile(
    r"^(?:[1-9][0-9]{0,18}|[A-Za-z0-9_.][A-Za-z0-9_.+-]*(?:/[A-Za-z0-9_.][A-Za-z0-9_.+-]*)+)$"
)

NOTE_TOKEN_HINT = (
    "set the masked CI/CD variable MLOPS_GITLAB_TOKEN to a project access token with scope `api` and at "
    "least the Reporter role (CI_JOB_TOKEN cannot write merge request notes)"
)


@dataclass(frozen=True)
class Token:
    """A credential and the header GitLab expects it in (``PRIVATE-TOKEN`` or ``JOB-TOKEN``)."""

    header: str
    value: str
    source: str  # the variable it came from, for messages

    def __repr__(self) -> str:  # never show the value
        return f"Token(header={self.header!r}, source={self.source!r})"


@dataclass(frozen=True)
class Access:
    """What a request needs, for the one-line message when GitLab refuses it."""

    action: str  # e.g. "write merge request notes"
    scope: str = "api"
    role: str = "Reporter"
    token_hint: str = ""


def private_token(env: Mapping[str, str]) -> Token | None:
    """The ``PRIVATE-TOKEN`` credential from MLOPS_GITLAB_TOKEN or GITLAB_TOKEN, if set."""
    for variable in PRIVATE_TOKEN_VARIABLES:
        if env.get(variable):
            return Token("PRIVATE-TOKEN", env[variable], variable)
    return None


def job_token(env: Mapping[str, str]) -> Token | None:
    """The CI/CD job token (``JOB-TOKEN``), if set."""
    return Token("JOB-TOKEN", env["CI_JOB_TOKEN"], "CI_JOB_TOKEN") if env.get("CI_JOB_TOKEN") else None


def api_url_from(env: Mapping[str, str], configured: str | None = None) -> str:
    """The API base URL: the configured one, else CI_API_V4_URL, else CI_SERVER_URL + /api/v4, else gitlab.com."""
    if configured:
        return configured
    if env.get("CI_API_V4_URL"):
        return env["CI_API_V4_URL"]
    if env.get("CI_SERVER_URL"):
        return env["CI_SERVER_URL"].rstrip("/") + "/api/v4"
    return DEFAULT_API_URL


class GitLabClient(RestClient):
    """Calls the REST API of one GitLab project with one token, with retries and pagination."""

    service = "GitLab API"
    error = GitLabApiError

    def __init__(
        self,
        *,
        api_url: str,
        project: str,
        token: Token | None,
        session: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        timeout: tuple[float, float] = TIMEOUT_SECONDS,
        **retry_options: Any,
    ):
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise GitLabApiError(
                f"CI_API_V4_URL: expected an http(s) URL such as {DEFAULT_API_URL}, got {api_url!r}"
            )
        project = str(project).strip()
        if not PROJECT_PATTERN.match(project):
            raise GitLabApiError(
                f"CI_PROJECT_ID: expected a project id (42) or path (group/project), got {project[:80]!r}"
            )
        super().__init__(api_url, session=session, sleep=sleep, clock=clock, **retry_options)
        self.project = project
        self.token = token
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"GitLabClient(api_url={self.api_url!r}, project={self.project!r}, token={self.token!r})"

    def project_path(self, suffix: str = "") -> str:
        """``/projects/<id or URL-encoded path><suffix>``."""
        return f"/projects/{quote(self.project, safe='')}{suffix}"

    def secrets(self) -> tuple[str, ...]:
        return (self.token.value,) if self.token else ()

    # -- sending ---------------------------------------------------------------------------------

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if self.token is not None:
            headers[self.token.header] = self.token.value
        headers.update(extra or {})
        return headers

    def _send_once(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        upload: Path | None,
        stream: bool,
        access: Access,
        accept: frozenset[int] | None,
    ) -> Any:
        where = f"{method} {self.path_of(url)}"
        if upload is not None:
            headers = self._headers({"Content-Type": "application/octet-stream"})
            try:
                with open(upload, "rb") as body:
                    response = self.transport(
                        method, url, params=params, data=body, headers=headers, timeout=UPLOAD_TIMEOUT_SECONDS
                    )
            except OSError as error:
                raise GitLabApiError(f"{where}: cannot read {upload}: {error.strerror or error}") from None
        else:
            response = self.transport(
                method,
                url,
                params=params,
                json=json,
                headers=self._headers(None),
                timeout=self.timeout,
                stream=stream,
            )
        return self.checked(method, url, response, allowed=accept or frozenset(), access=access)

    def refusal(self, method: str, url: str, response: Any, access: Access) -> GitLabApiError:
        """The one-line error for a refused request, naming the scope or role the token lacks."""
        status = response.status_code
        message = self.redact(error_message(response))
        where = (
            f"GitLab refused {method} {self.path_of(url)} (HTTP {status}{': ' + message if message else ''})"
        )
        token = f"the token in {self.token.source}" if self.token else "no token"
        tail = f"; {access.token_hint}" if access.token_hint else ""
        if status == 401:
            hint = (
                f"{token} was not accepted: it is missing, expired or revoked, or lacks scope `{access.scope}`"
                + tail
            )
        elif status == 403:
            hint = (
                f"{token} may not {access.action}: it needs scope `{access.scope}` and at least the "
                f"{access.role} role in project {self.project}" + tail
            )
        elif status == 404:
            hint = (
                f"not found, or not visible to {token}: to {access.action} it needs at least the {access.role} "
                f"role in project {self.project} (check CI_API_V4_URL={self.api_url} and CI_PROJECT_ID)"
                + tail
            )
        else:
            hint = f"unexpected answer while trying to {access.action}"
        return GitLabApiError(f"{where}: {hint}", status=status)

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        access: Access,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        upload: Path | None = None,
        stream: bool = False,
        accept: frozenset[int] | None = None,
        retry: bool = True,
    ) -> Any:
        """One API call, retried with backoff on 429, 5xx and network errors.

        Statuses in ``accept`` are returned as they are (e.g. 404 when absence is an answer). With
        ``retry=False`` the first retryable failure raises ``GitLabApiError`` with its status, so the
        caller can check whether a non-idempotent request took effect before trying again.
        """
        url = self.url_of(path_or_url)
        if not self.is_same_origin(url):
            raise GitLabApiError(f"GitLab API: refusing to follow a link outside {self.api_url}")
        return self.with_retries(
            lambda: self._send_once(
                method,
                url,
                params=params,
                json=json,
                upload=upload,
                stream=stream,
                access=access,
                accept=accept,
            ),
            retry=retry,
        )


def client_from_environment(
    env: Mapping[str, str] | None = None,
    *,
    token: Token | None,
    api_url: str | None = None,
    project: str | None = None,
    **options: Any,
) -> GitLabClient:
    """A client for the CI job's project (CI_API_V4_URL, CI_PROJECT_ID) unless given explicitly."""
    env = os.environ if env is None else env
    project = project or env.get("CI_PROJECT_ID") or env.get("CI_PROJECT_PATH") or ""
    if not project:
        raise GitLabApiError(
            "CI_PROJECT_ID: not set; run in a GitLab CI job or name the project (registry.project in the config)"
        )
    return GitLabClient(api_url=api_url_from(env, api_url), project=str(project), token=token, **options)
