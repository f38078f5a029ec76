"""Small pieces every forge and registry HTTP client shares: pagination links, Retry-After, error text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_NEXT = re.compile(r'\s*<([^>]+)>\s*;.*\brel="?next"?')
# (remaining, reset) header pairs: GitHub's X-RateLimit-*, GitLab's RateLimit-*.
_RATE_LIMIT_HEADERS = (
    ("X-RateLimit-Remaining", "X-RateLimit-Reset"),
    ("RateLimit-Remaining", "RateLimit-Reset"),
)


def next_link(link_header: str) -> str | None:
    """The ``rel="next"`` URL of a Link header, if any."""
    for part in link_header.split(","):
        match = _NEXT.match(part.strip())
        if match:
            return match.group(1)
    return None


def retry_after_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date), or from an exhausted rate limit's reset
    time (epoch seconds); None when the response says nothing."""
    value = headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                return None
    for remaining, reset in _RATE_LIMIT_HEADERS:
        if headers.get(remaining) == "0" and headers.get(reset):
            try:
                return max(0.0, float(headers[reset]) - now)
            except ValueError:
                return None
    return None


def error_message(response: Any) -> str:
    """The server's own reason (``message`` or ``error`` of a JSON body), first line, at most 200 characters."""
    try:
        payload = response.json()
    except ValueError:
        return ""
    if isinstance(payload, dict):
        for key in ("message", "error"):
            value = payload.get(key)
            if isinstance(value, str) and value:
                return value.splitlines()[0][:200]
            if isinstance(value, (dict, list)) and value:
                return str(value)[:200]
    return ""


MAX_WAIT_SECONDS = 120.0


def retry_delay(attempt: int, backoff: float, wait: float = 0.0, cap: float = MAX_WAIT_SECONDS) -> float:
    """Seconds to sleep before retry ``attempt + 1``: the server's Retry-After (``wait``), or exponential
    backoff with 10% jitter, whichever is longer, at most ``cap``."""
    import random

    jittered = backoff * (2 ** (attempt - 1)) * (1 + 0.1 * random.random())
    return min(cap, max(wait, jittered))
