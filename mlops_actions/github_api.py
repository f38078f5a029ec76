"""A small client of GitHub's REST API for the release registry and the deploy dispatch.

The sticky-comment forge (:mod:`mlops_actions.forges.github`) sends JSON only; releases also need raw
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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mlops_actions import __version__
from mlops_actions.errors import MlopsError
from mlops_actions.http_util import error_message, next_link, retry_after_seconds, retry_delay

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
REPOSITORY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
TIMEOUT_SECONDS = (10.0, 60.0)  # connect, read
TRANSFER_TIMEOUT_SECONDS = (10.0, 600.0)
MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 1.0
RETRY_STATUSES = frozenset({500, 502, 503, 504, 429})
PER_PAGE = 100
MAX_PAGES = 100
TOKEN_VARIABLES = ("MLOPS_GITHUB_TOKEN", "GITHUB_TOKEN")


class GitHubApiError(MlopsError):
    """GitHub refused a request, or kept failing after every retry."""

    def __init__(self, message: str, *, status: int = 0, wait: float = 0.0):
        super().__init__(message)
        self.status = status  # HTTP status, 0 for a network error or a timeout
        self.wait = wait


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


class GitHubClient:
    """Calls GitHub's REST API for one repository."""

    def __init__(
        self,
        *,
        repository: str,
        token: str,
        api_url: str = DEFAULT_API_URL,
        session: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_attempts: int = MAX_ATTEMPTS,
        backoff: float = BACKOFF_SECONDS,
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
        self.repository = repository
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._session = session
        self._sleep = sleep
        self._clock = clock
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff

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

    # -- plumbing -------------------------------------------------------------------------------------

    def repo_path(self, suffix: str = "") -> str:
        return f"/repos/{self.repository}{suffix}"

    def _http(self) -> Any:
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def _headers(self, accept: str, content_type: str | None, *, auth: bool = True) -> dict[str, str]:
        headers = {
            "Accept": accept,
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": f"mlops-actions/{__version__}",
        }
        if auth:
            headers["Authorization"] = f"Bearer {self._token}"
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def path_of(self, url: str) -> str:
        path = urlsplit(url).path
        base = urlsplit(self.api_url).path.rstrip("/")
        return path[len(base) :] if base and path.startswith(base) else path

    def _check_origin(self, url: str) -> None:
        """The token goes to the API's origin only (uploads may use the host of the ``upload_url``)."""
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
        import requests

        try:
            response = self._http().request(
                method,
                url,
                params=params,
                json=json,
                data=data,
                headers=self._headers(accept, content_type),
                timeout=timeout,
                allow_redirects=False,
                stream=stream,
            )
        except requests.Timeout:
            raise GitHubApiError(f"{method} {self.path_of(url)}: timed out", status=0) from None
        except requests.ConnectionError as error:
            reason = self.redact(str(error).splitlines()[0] if str(error) else error.__class__.__name__)
            raise GitHubApiError(
                f"{method} {self.path_of(url)}: connection failed ({reason[:160]})", status=0
            ) from None
        status = response.status_code
        if status in allowed or status < 300 or (300 <= status < 400 and 302 in allowed):
            return response
        if status in RETRY_STATUSES or self._is_secondary_rate_limit(response):
            wait = retry_after_seconds(response.headers, self._clock())
            if wait is None and status in (403, 429):
                wait = 60.0
            message = self.redact(error_message(response))
            response.close()
            raise GitHubApiError(
                f"{method} {self.path_of(url)}: HTTP {status} {message}".strip(),
                status=status,
                wait=wait or 0.0,
            )
        raise self.refusal(method, url, response, access)

    @staticmethod
    def _is_secondary_rate_limit(response: Any) -> bool:
        if response.status_code not in (403, 429):
            return False
        if response.headers.get("Retry-After") or response.headers.get("X-RateLimit-Remaining") == "0":
            return True
        return "rate limit" in error_message(response).lower()

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
        elif status in (301, 302, 307, 308):
            hint = "the repository moved or was renamed; update GITHUB_REPOSITORY"
        elif status == 422:
            hint = f"GitHub rejected the request to {access.what}"
        else:
            hint = "unexpected answer"
        return GitHubApiError(f"{where}: {hint}", status=status)

    @staticmethod
    def is_retryable(error: GitHubApiError) -> bool:
        """A 5xx, 429, secondary rate limit, time-out or network error: worth sending again."""
        return error.status in RETRY_STATUSES or error.status == 0 or (error.status == 403 and error.wait > 0)

    def pause_before_retry(self, attempt: int, wait: float = 0.0) -> None:
        """Sleep before retry ``attempt + 1``: the server's Retry-After, or exponential backoff with jitter."""
        self._sleep(retry_delay(attempt, self.backoff, wait))

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
        url = path_or_url if "://" in path_or_url else f"{self.api_url}{path_or_url}"
        self._check_origin(url)
        timeout = TRANSFER_TIMEOUT_SECONDS if (stream or data is not None) else TIMEOUT_SECONDS
        attempts = self.max_attempts if retry else 1
        last: GitHubApiError | None = None
        for attempt in range(1, attempts + 1):
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
            except GitHubApiError as error:
                if not self.is_retryable(error):
                    raise
                last = error
                if attempt == attempts:
                    break
                self.pause_before_retry(attempt, error.wait)
            finally:
                if hasattr(body, "close"):
                    body.close()
        assert last is not None
        if attempts == 1:
            raise last
        raise GitHubApiError(
            f"GitHub API: giving up after {attempts} attempts: {last}", status=last.status
        ) from None

    def paginate(
        self,
        path: str,
        *,
        access: Access,
        params: Mapping[str, Any] | None = None,
        items_key: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following the ``Link`` header's next pages.

        ``items_key`` names the list inside an object answer (e.g. ``artifacts``); None for a bare list.
        """
        url: str | None = f"{self.api_url}{path}"
        query: dict[str, Any] | None = {"per_page": PER_PAGE, **(params or {})}
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = self.request("GET", url, access=access, params=query)
            payload = response.json()
            if items_key is not None and isinstance(payload, dict):
                payload = payload.get(items_key)
            if not isinstance(payload, list):
                expected = f"an object with a list {items_key!r}" if items_key else "a list"
                raise GitHubApiError(f"GitHub API: expected {expected} from {self.path_of(url)}")
            yield from (item for item in payload if isinstance(item, dict))
            url, query = next_link(response.headers.get("Link", "")), None
            if url is not None:
                base, following = urlsplit(self.api_url), urlsplit(url)
                if (base.scheme, base.netloc) != (following.scheme, following.netloc):
                    raise GitHubApiError(
                        f"GitHub API: refusing to follow a pagination link outside {self.api_url}"
                    )
        raise GitHubApiError(f"GitHub API: more than {MAX_PAGES} pages from {path}; stopping")

    def download(self, path_or_url: str, *, access: Access, accept: str = "application/octet-stream") -> Any:
        """A streamed binary download (a release asset with ``application/octet-stream``, an artifact's zip).

        GitHub answers with the bytes or a redirect to storage; the redirect is followed without the
        token (storage URLs are pre-signed). The caller closes the returned response.
        """
        response = self.request(
            "GET",
            path_or_url,
            access=access,
            accept=accept,
            stream=True,
            allowed=frozenset({302}),
        )
        for _ in range(3):
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            location = response.headers.get("Location", "")
            response.close()
            if not location:
                raise GitHubApiError(f"GET {self.path_of(path_or_url)}: redirect without a Location")
            response = self._fetch_without_token(location)
        raise GitHubApiError(f"GET {self.path_of(path_or_url)}: too many redirects")

    def _fetch_without_token(self, url: str) -> Any:
        import requests

        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self._http().get(
                    url,
                    headers={
                        "Accept": "application/octet-stream",
                        "User-Agent": f"mlops-actions/{__version__}",
                    },
                    timeout=TRANSFER_TIMEOUT_SECONDS,
                    stream=True,
                    allow_redirects=False,
                )
            except (requests.Timeout, requests.ConnectionError):
                response = None
            if response is not None and response.status_code < 500:
                if response.status_code >= 400:
                    status = response.status_code
                    response.close()
                    raise GitHubApiError(f"download from storage failed: HTTP {status}", status=status)
                return response
            if response is not None:
                response.close()
            if attempt < self.max_attempts:
                self.pause_before_retry(attempt)
        raise GitHubApiError(f"download from storage failed after {self.max_attempts} attempts")
