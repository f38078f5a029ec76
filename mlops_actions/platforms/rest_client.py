"""What the GitHub and GitLab API clients share: the session, time-outs, retries, pagination, redaction.

A subclass sends one request in its own ``_send_once`` (its headers, uploads and refusal messages) and
raises its ``error`` class with the HTTP ``status`` (0 for a time-out, a network error or an unreadable
answer: the outcome is unknown) and the ``wait`` the server asked for. :meth:`RestClient.with_retries`
repeats what :meth:`RestClient.is_retryable` allows, sleeping the server's ``Retry-After`` or an exponential
backoff with jitter, and gives up with one line.

Every exchange has a total deadline, the reading of its body included (a time-out of ``requests`` bounds
one socket read only, which a server trickling a byte at a time never trips): ``MLOPS_API_DEADLINE``
seconds (default 30) for an API call, ``MLOPS_TRANSFER_DEADLINE`` (default 900) for an upload or a
streamed download. A 2xx answer whose JSON body is truncated or malformed is refused as one line.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from mlops_actions import __version__
from mlops_actions.errors import ForgeError, MlopsError
from mlops_actions.platforms.http_util import next_link, retry_delay

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 1.0
PER_PAGE = 100
MAX_PAGES = 100
USER_AGENT = f"mlops-actions/{__version__}"
DEADLINE_VARIABLE = "MLOPS_API_DEADLINE"
TRANSFER_DEADLINE_VARIABLE = "MLOPS_TRANSFER_DEADLINE"
DEFAULT_DEADLINE_SECONDS = 30.0
DEFAULT_TRANSFER_DEADLINE_SECONDS = 900.0
READ_BYTES = 64 * 1024  # at most one socket read per piece, so the deadline is checked as bytes arrive
MAX_ANSWER_BYTES = 32 * 1024 * 1024  # an API answer (not a download) larger than this is refused
Result = TypeVar("Result")


def deadline_from_environment(variable: str, default: float, env: Mapping[str, str] | None = None) -> float:
    """Seconds from ``variable`` (a positive number), else ``default``; a bad value is one clear line."""
    env = os.environ if env is None else env
    text = env.get(variable, "").strip()
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 86_400:
        raise MlopsError(f"{variable}: expected a number of seconds between 0 and 86400, got {text[:40]!r}")
    return seconds


class ApiError(MlopsError):
    """The API refused a request, or kept failing after every retry."""

    def __init__(self, message: str, *, status: int = 0, wait: float = 0.0, final: bool = False):
        super().__init__(message)
        self.status = status  # HTTP status, 0 for a network error, a time-out or an unreadable answer
        self.wait = wait  # seconds the server asked to wait before a retry
        self.final = final  # not worth sending again (the deadline ran out: retries would multiply it)


@dataclass(frozen=True)
class Limit:
    """The deadline of one exchange: when it ends (monotonic clock), its length and what sets it."""

    deadline: float
    seconds: float
    variable: str

    def exceeded(self) -> str:
        return f"within {self.seconds:g} s (set {self.variable} to allow longer)"


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
        deadline: float | None = None,
        transfer_deadline: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.api_url = api_url.rstrip("/")
        self._session = session
        self._sleep = sleep
        self._clock = clock
        self._monotonic = monotonic
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.deadline = (
            deadline_from_environment(DEADLINE_VARIABLE, DEFAULT_DEADLINE_SECONDS)
            if deadline is None
            else deadline
        )
        self.transfer_deadline = (
            deadline_from_environment(TRANSFER_DEADLINE_VARIABLE, DEFAULT_TRANSFER_DEADLINE_SECONDS)
            if transfer_deadline is None
            else transfer_deadline
        )

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
        """One HTTP exchange within its deadline, redirects not followed.

        The body of an answer is read here, piece by piece against the deadline, unless ``stream`` is
        set: then :meth:`~requests.Response.iter_content` of the returned response is bounded by the
        transfer deadline instead. A time-out, a network error, a cut-off answer or a 2xx whose JSON
        body is malformed raises ``error`` with status 0 (the request may or may not have taken effect).
        """
        import requests

        where = f"{method} {self.path_of(url)}"
        stream = bool(options.pop("stream", False))
        transfer = stream or options.get("data") is not None
        budget = self.transfer_deadline if transfer else self.deadline
        limit = Limit(
            self._monotonic() + budget, budget, TRANSFER_DEADLINE_VARIABLE if transfer else DEADLINE_VARIABLE
        )
        options["timeout"] = _capped_timeout(options.get("timeout"), budget)
        try:
            response = self._headers_within(limit, where, method, url, **options)
        except requests.Timeout:
            raise self.error(f"{where}: timed out") from None
        except requests.ConnectionError as error:
            reason = self.redact(str(error).splitlines()[0] if str(error) else error.__class__.__name__)
            raise self.error(f"{where}: connection failed ({reason[:160]})") from None
        if stream:
            bounded = self._bounded_pieces(response, where, limit, max_bytes=None)
            response.iter_content = lambda chunk_size=1, decode_unicode=False: bounded
            return response
        body = b"".join(self._bounded_pieces(response, where, limit, max_bytes=MAX_ANSWER_BYTES))
        response._content, response._content_consumed = body, True
        response.close()  # the body is read: the connection goes back to the pool
        if 200 <= response.status_code < 300 and body.strip() and _wants_json(options.get("headers")):
            try:
                json.loads(body)
            except ValueError:
                raise self.error(
                    f"{where}: the HTTP {response.status_code} answer is not valid JSON "
                    f"(truncated or malformed, {len(body)} bytes); the request may have taken effect"
                ) from None
        return response

    def _headers_within(self, limit: Limit, where: str, method: str, url: str, **options: Any) -> Any:
        """The answer's status and headers (its body unread), or ``error`` once the deadline has passed.

        The exchange runs in a daemon thread, so that a server trickling its headers cannot hold the
        caller past the deadline (a thread given up on ends with its connection).
        """
        outcome: dict[str, Any] = {}

        def exchange() -> None:
            try:
                outcome["response"] = self._http().request(
                    method, url, allow_redirects=False, stream=True, **options
                )
            except BaseException as error:  # handed to the caller's thread
                outcome["error"] = error

        worker = threading.Thread(target=exchange, name=f"mlops-actions {where}"[:60], daemon=True)
        worker.start()
        worker.join(max(0.0, limit.deadline - self._monotonic()))
        if worker.is_alive():
            raise self.error(f"{where}: no answer from {urlsplit(url).netloc} {limit.exceeded()}", final=True)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["response"]

    def _bounded_pieces(
        self, response: Any, where: str, limit: Limit, *, max_bytes: int | None
    ) -> Iterator[bytes]:
        """The body of ``response`` as it arrives; ``error`` when it is cut off, too large or too slow."""
        import requests
        import urllib3

        raw = response.raw
        read = getattr(raw, "read1", None) or raw.read
        received = 0
        try:
            while True:
                if self._monotonic() > limit.deadline:
                    response.close()
                    host = urlsplit(response.url or self.api_url).netloc
                    raise self.error(
                        f"{where}: no complete answer from {host} {limit.exceeded()}", final=True
                    )
                piece = read(READ_BYTES, decode_content=True)
                if not piece:
                    return
                received += len(piece)
                if max_bytes is not None and received > max_bytes:
                    response.close()
                    raise self.error(f"{where}: the answer is larger than {max_bytes // (1024 * 1024)} MiB")
                yield piece
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
            response.close()
            first = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
            reason = self.redact(first.splitlines()[0] if first else error.__class__.__name__)
            raise self.error(f"{where}: the answer was cut off ({reason[:160]})") from None

    def json_of(self, response: Any, where: str, *, expect: type = object) -> Any:
        """The JSON document of an answer, checked to be an ``expect`` (e.g. ``dict``); else one line."""
        shown = "a JSON object" if expect is dict else "a JSON list" if expect is list else "a JSON document"
        try:
            payload = response.json()
        except ValueError:
            raise self.error(f"{self.service}: expected {shown} from {where}, got malformed JSON") from None
        if not isinstance(payload, expect):
            raise self.error(f"{self.service}: expected {shown} from {where}, got {type(payload).__name__}")
        return payload

    def is_retryable(self, error: ApiError) -> bool:
        """A 429, a 5xx, a time-out, a network error or an unreadable answer (not a spent deadline)."""
        return not error.final and (error.status in self.retry_statuses or error.status == 0)

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
            payload = self.json_of(response, f"GET {self.path_of(url)}")
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


def _capped_timeout(timeout: Any, budget: float) -> Any:
    """A ``requests`` time-out (connect, read) whose parts do not exceed the deadline's ``budget``."""
    if timeout is None:
        return (min(10.0, budget), budget)
    if isinstance(timeout, tuple):
        return tuple(min(float(part), budget) for part in timeout)
    return min(float(timeout), budget)


def _wants_json(headers: Mapping[str, str] | None) -> bool:
    accept = (headers or {}).get("Accept", "")
    return "json" in accept


@contextmanager
def as_forge_errors(what: str) -> Iterator[None]:
    """An API client's :class:`ApiError` raised as a ForgeError, its line prefixed with ``what``."""
    try:
        yield
    except ApiError as error:
        raise ForgeError(f"{what}: {error}") from None
