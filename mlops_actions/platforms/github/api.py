"""A small client of GitHub's REST API for the release registry and the deploy dispatch.

The sticky-comment forge (:mod:`mlops_actions.platforms.github.comments`) sends JSON only; releases also need raw
uploads (release assets go to the ``upload_url`` the API hands out) and binary downloads that follow a
redirect to storage. This client adds those and shares the forge's parsing of ``Link``, ``Retry-After``
and error bodies.

The API base URL comes from ``GITHUB_API_URL`` (github.com and GitHub Enterprise Server alike), the token
from ``MLOPS_GITHUB_TOKEN`` or ``GITHUB_TOKEN``, the repository from ``GITHUB_REPOSITORY``. Requests time
out and are retried with exponential backoff (with jitter) on 5xx, 429, secondary rate limits and
network errors, honouring ``Retry-After``. A refused request becomes one line naming the permission the
workflow job must grant. The token never appears in a message, and is never sent to a redirect target.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from mlops_actions.errors import GitHubApiError
from mlops_actions.platforms.http_util import error_message, retry_after_seconds
from mlops_actions.platforms.rest_client import USER_AGENT, ApiError, RestClient

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
REPOSITORY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
TIMEOUT_SECONDS = (10.0, 60.0)  # connect, read
TRANSFER_TIMEOUT_SECONDS = (10.0, 600.0)
TOKEN_VARIABLES = ("MLOPS_GITHUB_TOKEN", "GITHUB_TOKEN")
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class Access:
    """What a request needs: shown when GitHub refuses it."""

    what: str
    permission: str  # e.g. "contents: write"
    advice: str = ""  # replaces the default hint when set
    also_check: str = ""  # named beside GITHUB_REPOSITORY on a 404, e.g. "the pull request number"

    def hint(self) -> str:
        return self.advice or f"grant the workflow job `permissions: {self.permission}` to {self.what}"


READ_CONTENTS = Access("read releases and tags", "contents: read")
WRITE_CONTENTS = Access("create tags and releases and upload their assets", "contents: write")
WRITE_ACTIONS = Access("start the deploy workflow", "actions: write")


class GitHubClient(RestClient):
    """Calls GitHub's REST API for one repository."""

    service = "GitHub API"
    error = GitHubApiError

    def __init__(
        self,
        *,
        repository: str,
        token: str,
        api_url: str = DEFAULT_API_URL,
        session: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        **retry_options: Any,
    ):
        if not REPOSITORY_PATTERN.match(repository):
            raise GitHubApiError(f"GITHUB_REPOSITORY: expected owner/name, got {repository!r}")
        if not token:
            raise GitHubApiError(
                "GITHUB_TOKEN: not set; pass the job token as `env: GITHUB_TOKEN: ${{ github.token }}` "
                "(or MLOPS_GITHUB_TOKEN)"
            )
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise GitHubApiError(f"GITHUB_API_URL: expected an http(s) URL, got {api_url!r}")
        super().__init__(api_url, session=session, sleep=sleep, clock=clock, **retry_options)
        self.repository = repository
        self._token = token

    def __repr__(self) -> str:  # never show the token
        return f"GitHubClient(repository={self.repository!r}, api_url={self.api_url!r})"

    @classmethod
    def from_environment(
        cls, env: Mapping[str, str] | None = None, *, repository: str | None = None, **options: Any
    ) -> GitHubClient:
        """The client of ``repository`` (default GITHUB_REPOSITORY) at GITHUB_API_URL."""
        env = os.environ if env is None else env
        token = next((env[name] for name in TOKEN_VARIABLES if env.get(name)), "")
        repository = repository or env.get("GITHUB_REPOSITORY", "")
        if not repository:
            raise GitHubApiError(
                "GITHUB_REPOSITORY: not set; expected owner/name (set by GitHub Actions, or registry.repository)"
            )
        api_url = options.pop("api_url", None) or env.get("GITHUB_API_URL") or DEFAULT_API_URL
        return cls(repository=repository, token=token, api_url=api_url, **options)

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], env: Mapping[str, str] | None = None, **client_options: Any
    ) -> GitHubClient:
        """The client a config section names: ``repository`` (default GITHUB_REPOSITORY) at ``api_url``
        (default GITHUB_API_URL), as the github registry and the github metadata store read them."""
        return cls.from_environment(
            env,
            repository=options.get("repository") or None,
            api_url=options.get("api_url") or None,
            **client_options,
        )

    # -- plumbing -------------------------------------------------------------------------------------

    def repo_path(self, suffix: str = "") -> str:
        return f"/repos/{self.repository}{suffix}"

    def secrets(self) -> tuple[str, ...]:
        return (self._token,)

    def _headers(self, accept: str, content_type: str | None, *, auth: bool = True) -> dict[str, str]:
        headers = {"Accept": accept, "X-GitHub-Api-Version": API_VERSION, "User-Agent": USER_AGENT}
        if auth:
            headers["Authorization"] = f"Bearer {self._token}"
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _check_origin(self, url: str) -> None:
        """The token goes over the API's scheme only (uploads may use the host of the ``upload_url``)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise GitHubApiError(f"GitHub API: refusing to call {url!r}, not an http(s) URL")
        base = urlsplit(self.api_url)
        if parts.scheme != base.scheme and base.scheme == "https":
            raise GitHubApiError(
                f"GitHub API: refusing to send the token over {parts.scheme} to {parts.netloc}"
            )

    def _send_once(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        data: Any,
        accept: str,
        content_type: str | None,
        stream: bool,
        timeout: tuple[float, float],
        allowed: frozenset[int],
        access: Access,
    ) -> Any:
        response = self.transport(
            method,
            url,
            params=params,
            json=json,
            data=data,
            headers=self._headers(accept, content_type),
            timeout=timeout,
            stream=stream,
        )
        return self.checked(method, url, response, allowed=allowed, access=access)

    def accepts(self, status: int, allowed: frozenset[int]) -> bool:
        """A 2xx or an allowed status; a redirect only when the caller allows 302 (a download)."""
        return status in allowed or status < 300 or (status in REDIRECTS and 302 in allowed)

    def transient_wait(self, response: Any) -> float | None:
        """Also a secondary rate limit (403/429), waiting 60 s when it does not say how long."""
        status = response.status_code
        if status not in self.retry_statuses and not self._is_secondary_rate_limit(response):
            return None
        wait = retry_after_seconds(response.headers, self._clock())
        if wait is None and status in (403, 429):
            wait = 60.0  # GitHub's advice for a secondary limit without Retry-After
        return wait or 0.0

    @staticmethod
    def _is_secondary_rate_limit(response: Any) -> bool:
        if response.status_code not in (403, 429):
            return False
        if response.headers.get("Retry-After") or response.headers.get("X-RateLimit-Remaining") == "0":
            return True
        return "rate limit" in error_message(response).lower()

    def is_retryable(self, error: ApiError) -> bool:
        """Also a 403 that is a secondary rate limit (it carries a wait)."""
        return super().is_retryable(error) or (error.status == 403 and error.wait > 0)

    def refusal(self, method: str, url: str, response: Any, access: Access) -> GitHubApiError:
        """One line naming what was refused and what to grant."""
        status = response.status_code
        message = self.redact(error_message(response))
        where = (
            f"GitHub refused {method} {self.path_of(url)} (HTTP {status}{': ' + message if message else ''})"
        )
        if status == 401:
            hint = "the token is missing, expired or invalid; pass `GITHUB_TOKEN: ${{ github.token }}`"
        elif status == 403:
            hint = access.hint()
        elif status == 404:
            also = f" and {access.also_check}" if access.also_check else ""
            hint = (
                f"check GITHUB_REPOSITORY={self.repository}{also}; {access.hint()} "
                "(GitHub answers 404 when the token cannot see the repository)"
            )
        elif status in REDIRECTS:
            hint = "the repository moved or was renamed; update GITHUB_REPOSITORY"
        elif status == 422:
            hint = f"GitHub rejected the request to {access.what}"
        else:
            hint = "unexpected answer"
        return GitHubApiError(f"{where}: {hint}", status=status)

    # -- requests -------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        access: Access,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        accept: str = "application/vnd.github+json",
        content_type: str | None = None,
        stream: bool = False,
        allowed: frozenset[int] = frozenset(),
        retry: bool = True,
    ) -> Any:
        """One call, retried on 5xx/429/secondary limits/network errors (unless ``retry`` is False).

        Statuses in ``allowed`` (e.g. 404, 422) are returned instead of raising. ``data`` may be bytes
        or a callable returning a fresh file object, so an upload can be sent again on a retry.
        """
        url = self.url_of(path_or_url)
        self._check_origin(url)
        timeout = TRANSFER_TIMEOUT_SECONDS if (stream or data is not None) else TIMEOUT_SECONDS

        def send() -> Any:
            body = data() if callable(data) else data
            try:
                return self._send_once(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=body,
                    accept=accept,
                    content_type=content_type,
                    stream=stream,
                    timeout=timeout,
                    allowed=allowed,
                    access=access,
                )
            finally:
                if hasattr(body, "close"):
                    body.close()

        return self.with_retries(send, retry=retry)

    def download(self, path_or_url: str, *, access: Access, accept: str = "application/octet-stream") -> Any:
        """A streamed binary download (a release asset with ``application/octet-stream``, an artifact's zip).

        GitHub answers with the bytes or a redirect to storage; the redirect is followed without the
        token (storage URLs are pre-signed). The caller closes the returned response.
        """
        response = self.request(
            "GET", path_or_url, access=access, accept=accept, stream=True, allowed=frozenset({302})
        )
        for _ in range(3):
            if response.status_code not in REDIRECTS:
                return response
            location = response.headers.get("Location", "")
            response.close()
            if not location:
                raise GitHubApiError(f"GET {self.path_of(path_or_url)}: redirect without a Location")
            response = self.with_retries(partial(self._fetch_from_storage, location))
        raise GitHubApiError(f"GET {self.path_of(path_or_url)}: too many redirects")

    def _fetch_from_storage(self, url: str) -> Any:
        """One GET of a pre-signed storage URL, without the token."""
        response = self.transport(
            "GET",
            url,
            headers={"Accept": "application/octet-stream", "User-Agent": USER_AGENT},
            timeout=TRANSFER_TIMEOUT_SECONDS,
            stream=True,
        )
        if response.status_code >= 400:
            status = response.status_code
            response.close()
            raise GitHubApiError(f"download from storage failed: HTTP {status}", status=status)
        return response
