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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from mlops_actions import __version__
from mlops_actions.errors import MlopsError
from mlops_actions.http_util import error_message, next_link, retry_after_seconds, retry_delay

DEFAULT_API_URL = "https://gitlab.com/api/v4"
TIMEOUT_SECONDS = (10.0, 60.0)  # connect, read
UPLOAD_TIMEOUT_SECONDS = (10.0, 600.0)
MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 1.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
PER_PAGE = 100
MAX_PAGES = 100
PRIVATE_TOKEN_VARIABLES = ("MLOPS_GITLAB_TOKEN", "GITLAB_TOKEN")
PROJECT_PATTERN = re.compile(
    r"^(?:[1-9][0-9]{0,18}|[A-Za-z0-9_.][A-Za-z0-9_.+-]*(?:/[A-Za-z0-9_.][A-Za-z0-9_.+-]*)+)$"
)

NOTE_TOKEN_HINT = (
    "set the masked CI/CD variable MLOPS_GITLAB_TOKEN to a project access token with scope `api` and at "
    "least the Reporter role (CI_JOB_TOKEN cannot write merge request notes)"
)


class GitLabApiError(MlopsError):
    """GitLab refused a request, or kept failing after every retry."""

    def __init__(self, message: str, *, status: int = 0, wait: float = 0.0):
        super().__init__(message)
        self.status = status  # HTTP status, 0 for a network error or timeout
        self.wait = wait  # seconds the server asked to wait before a retry


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


class _Retryable(Exception):
    def __init__(self, status: int, wait: float, message: str):
        super().__init__(message)
        self.status = status
        self.wait = wait


class GitLabClient:
    """Calls the REST API of one GitLab project with one token, with retries and pagination."""

    def __init__(
        self,
        *,
        api_url: str,
        project: str,
        token: Token | None,
        session: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_attempts: int = MAX_ATTEMPTS,
        backoff: float = BACKOFF_SECONDS,
        timeout: tuple[float, float] = TIMEOUT_SECONDS,
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
        self.api_url = api_url.rstrip("/")
        self.project = project
        self.token = token
        self._session = session
        self._sleep = sleep
        self._clock = clock
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"GitLabClient(api_url={self.api_url!r}, project={self.project!r}, token={self.token!r})"

    # -- URLs ------------------------------------------------------------------------------------

    def project_path(self, suffix: str = "") -> str:
        """``/projects/<id or URL-encoded path><suffix>``."""
        return f"/projects/{quote(self.project, safe='')}{suffix}"

    def _url(self, path: str) -> str:
        return f"{self.api_url}{path}"

    def _path_of(self, url: str) -> str:
        path = urlsplit(url).path
        base = urlsplit(self.api_url).path.rstrip("/")
        return path[len(base) :] if base and path.startswith(base) else path

    def _check_same_origin(self, url: str) -> None:
        base, other = urlsplit(self.api_url), urlsplit(url)
        if (base.scheme, base.netloc) != (other.scheme, other.netloc) or not other.path.startswith(base.path):
            raise GitLabApiError(f"GitLab API: refusing to follow a link outside {self.api_url}")

    def _redact(self, text: str) -> str:
        if self.token and self.token.value:
            text = text.replace(self.token.value, "***")
        return text

    # -- sending ---------------------------------------------------------------------------------

    def _http(self) -> Any:
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": f"mlops-actions/{__version__}"}
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
        import requests

        timeout = UPLOAD_TIMEOUT_SECONDS if upload is not None else self.timeout
        headers = self._headers({"Content-Type": "application/octet-stream"} if upload is not None else None)
        where = f"{method} {self._path_of(url)}"
        try:
            if upload is not None:
                with open(upload, "rb") as body:
                    response = self._http().request(
                        method,
                        url,
                        params=params,
                        data=body,
                        headers=headers,
                        timeout=timeout,
                        allow_redirects=False,
                    )
            else:
                response = self._http().request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers=headers,
                    timeout=timeout,
                    allow_redirects=False,
                    stream=stream,
                )
        except requests.Timeout:
            raise _Retryable(0, 0.0, f"{where}: timed out") from None
        except requests.ConnectionError as error:
            reason = self._redact(str(error).splitlines()[0] if str(error) else error.__class__.__name__)
            raise _Retryable(0, 0.0, f"{where}: connection failed ({reason[:160]})") from None
        except OSError as error:
            raise GitLabApiError(f"{where}: cannot read {upload}: {error.strerror or error}") from None
        status = response.status_code
        if accept is not None and status in accept:
            return response
        if status in RETRY_STATUSES:
            wait = retry_after_seconds(response.headers, self._clock())
            message = self._redact(error_message(response))
            raise _Retryable(status, wait or 0.0, f"{where}: HTTP {status} {message}".strip())
        if status >= 400:
            raise self.refusal(method, url, response, access)
        return response

    def refusal(self, method: str, url: str, response: Any, access: Access) -> GitLabApiError:
        """The one-line error for a refused request, naming the scope or role the token lacks."""
        status = response.status_code
        message = self._redact(error_message(response))
        where = (
            f"GitLab refused {method} {self._path_of(url)} (HTTP {status}{': ' + message if message else ''})"
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

    def _pause(self, attempt: int, wait: float) -> None:
        """Sleep before retry ``attempt + 1``: the server's Retry-After, or exponential backoff with jitter."""
        self._sleep(retry_delay(attempt, self.backoff, wait))

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
        url = path_or_url if "://" in path_or_url else self._url(path_or_url)
        self._check_same_origin(url)
        last = ""
        attempts = self.max_attempts if retry else 1
        for attempt in range(1, attempts + 1):
            try:
                return self._send_once(
                    method,
                    url,
                    params=params,
                    json=json,
                    upload=upload,
                    stream=stream,
                    access=access,
                    accept=accept,
                )
            except _Retryable as failure:
                last = self._redact(str(failure))
                if not retry:
                    raise GitLabApiError(last, status=failure.status, wait=failure.wait) from None
                if attempt == attempts:
                    break
                self._pause(attempt, failure.wait)
        raise GitLabApiError(f"GitLab API: giving up after {attempts} attempts: {last}")

    def pause_before_retry(self, attempt: int, wait: float = 0.0) -> None:
        """The backoff pause, for callers that retry a non-idempotent request themselves."""
        self._pause(attempt, wait)

    def paginate(
        self, path: str, *, access: Access, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list, following the Link header or else ``X-Next-Page``."""
        query: dict[str, Any] = {"per_page": PER_PAGE, **(params or {})}
        url: str | None = self._url(path)
        current: dict[str, Any] | None = query
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = self.request("GET", url, access=access, params=current)
            payload = response.json()
            if not isinstance(payload, list):
                raise GitLabApiError(f"GitLab API: expected a list from GET {self._path_of(url)}")
            for item in payload:
                if isinstance(item, dict):
                    yield item
            link = next_link(response.headers.get("Link", ""))
            following = response.headers.get("X-Next-Page", "").strip()
            if link:
                url, current = link, None
            elif following:
                url, current = self._url(path), {**query, "page": following}
            else:
                url = None
        raise GitLabApiError(f"GitLab API: more than {MAX_PAGES} pages from GET {path}; stopping")


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
