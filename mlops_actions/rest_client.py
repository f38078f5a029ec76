"""What the GitHub and GitLab API clients share: the session, time-outs, retries, pagination, redaction.

A subclass sends one request in its own ``_send_once`` (its headers, uploads and refusal messages) and
raises its ``error`` class with the HTTP ``status`` (0 for a time-out or a network error) and the ``wait``
the server asked for. :meth:`RestClient.with_retries` repeats what :meth:`RestClient.is_retryable` allows,
sleeping the server's ``Retry-After`` or an exponential backoff with jitter, and gives up with one line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from mlops_actions import __version__
from mlops_actions.errors import MlopsError
from mlops_actions.http_util import next_link, retry_delay

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 1.0
PER_PAGE = 100
MAX_PAGES = 100
USER_AGENT = f"mlops-actions/{__version__}"
Result = TypeVar("Result")


class ApiError(MlopsError):
    """The API refused a request, or kept failing after every retry."""

    def __init__(self, message: str, *, status: int = 0, wait: float = 0.0):
        super().__init__(message)
        self.status = status  # HTTP status, 0 for a network error or a time-out
        self.wait = wait  # seconds the server asked to wait before a retry


class RestClient:
    """The transport of one API: subclasses add headers, uploads and the refusal messages."""

    service: ClassVar[str] = "API"  # named in messages, e.g. "GitHub API"
    error: ClassVar[type[ApiError]] = ApiError
    retry_statuses: ClassVar[frozenset[int]] = frozenset({429, 500, 502, 503, 504})

    def __init__(
        self,
        api_url: str,
        *,
        session: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_attempts: int = MAX_ATTEMPTS,
        backoff: float = BACKOFF_SECONDS,
    ):
        self.api_url = api_url.rstrip("/")
        self._session = session
        self._sleep = sleep
        self._clock = clock
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff

    # -- text ---------------------------------------------------------------------------------------

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a message."""
        return ()

    def redact(self, text: str) -> str:
        for secret in self.secrets():
            if secret:
                text = text.replace(secret, "***")
        return text

    def path_of(self, url: str) -> str:
        """The URL's path below the API base, for messages."""
        path = urlsplit(url).path
        base = urlsplit(self.api_url).path.rstrip("/")
        return path[len(base) :] if base and path.startswith(base) else path

    def url_of(self, path_or_url: str) -> str:
        return path_or_url if "://" in path_or_url else f"{self.api_url}{path_or_url}"

    def is_same_origin(self, url: str) -> bool:
        base, other = urlsplit(self.api_url), urlsplit(url)
        return (base.scheme, base.netloc) == (other.scheme, other.netloc) and other.path.startswith(base.path)

    # -- sending ------------------------------------------------------------------------------------

    def _http(self) -> Any:
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def transport(self, method: str, url: str, **options: Any) -> Any:
        """One HTTP exchange, redirects not followed; a time-out or a network error raises ``error`` (status 0)."""
        import requests

        try:
            return self._http().request(method, url, allow_redirects=False, **options)
        except requests.Timeout:
            raise self.error(f"{method} {self.path_of(url)}: timed out") from None
        except requests.ConnectionError as error:
            reason = self.redact(str(error).splitlines()[0] if str(error) else error.__class__.__name__)
            raise self.error(f"{method} {self.path_of(url)}: connection failed ({reason[:160]})") from None

    def is_retryable(self, error: ApiError) -> bool:
        """A 429, a 5xx, a time-out or a network error: worth sending again."""
        return error.status in self.retry_statuses or error.status == 0

    def pause_before_retry(self, attempt: int, wait: float = 0.0) -> None:
        """Sleep before retry ``attempt + 1``: the server's Retry-After, or exponential backoff with jitter."""
        self._sleep(retry_delay(attempt, self.backoff, wait))

    def with_retries(self, send: Callable[[], Result], *, retry: bool = True) -> Result:
        """``send()``, repeated while it fails retryably, up to ``max_attempts`` (once without ``retry``).

        Without ``retry`` the first failure is raised as it is (with its status), so that the caller can
        check whether a non-idempotent request took effect before sending it again.
        """
        attempts = self.max_attempts if retry else 1
        last: ApiError | None = None
        for attempt in range(1, attempts + 1):
            try:
                return send()
            except ApiError as error:
                if not isinstance(error, self.error) or not self.is_retryable(error):
                    raise
                last = error
                if attempt < attempts:
                    self.pause_before_retry(attempt, error.wait)
        assert last is not None
        if attempts == 1:
            raise last
        raise self.error(
            f"{self.service}: giving up after {attempts} attempts: {self.redact(str(last))}",
            status=last.status,
        ) from None

    def request(
        self, method: str, path_or_url: str, *, access: Any, params: Mapping[str, Any] | None = None
    ) -> Any:
        """One API call with retries; each subclass sends it with its own headers and refusal messages."""
        raise NotImplementedError

    def paginate(
        self,
        path: str,
        *,
        access: Any,
        params: Mapping[str, Any] | None = None,
        items_key: str | None = None,
        max_pages: int = MAX_PAGES,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following the ``Link`` header's next page (or ``X-Next-Page``).

        ``items_key`` names the list inside an object answer (e.g. ``artifacts``); None for a bare list.
        """
        query: dict[str, Any] = {"per_page": PER_PAGE, **(params or {})}
        url: str | None = self.url_of(path)
        current: dict[str, Any] | None = query
        for _ in range(max_pages):
            if url is None:
                return
            response = self.request("GET", url, access=access, params=current)
            payload = response.json()
            if items_key is not None and isinstance(payload, dict):
                payload = payload.get(items_key)
            if not isinstance(payload, list):
                expected = f"an object with a list {items_key!r}" if items_key else "a list"
                raise self.error(f"{self.service}: expected {expected} from GET {self.path_of(url)}")
            yield from (item for item in payload if isinstance(item, dict))
            link = next_link(response.headers.get("Link", ""))
            following = response.headers.get("X-Next-Page", "").strip()
            if link:
                if not self.is_same_origin(link):
                    raise self.error(
                        f"{self.service}: refusing to follow a pagination link outside {self.api_url}"
                    )
                url, current = link, None
            elif following:
                url, current = self.url_of(path), {**query, "page": following}
            else:
                url = None
        raise self.error(f"{self.service}: more than {max_pages} pages from GET {path}; stopping")
