"""Time windows: a length such as ``1h``, ``1d`` or ``7d``, windows aligned to its boundaries in UTC (whole
weeks start on Mondays), and the rows of a chunk split by window."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from mlops_actions.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

NS = 1_000_000_000
UNITS = {"m": 60, "h": 3600, "d": 86400}
WINDOW_PATTERN = re.compile(r"^([1-9][0-9]{0,4})([mhd])$")
WEEK_NS = 7 * 86400 * NS
MONDAY_NS = 4 * 86400 * NS  # 1970-01-05, the first Monday after the epoch


def parse_window(text: str) -> int:
    """A window length (``30m``, ``1h``, ``1d``, ``7d``) in nanoseconds; a UsageError otherwise."""
    found = WINDOW_PATTERN.match(text.strip())
    if not found:
        raise UsageError(f"--window {text!r}: expected a length such as 30m, 1h, 1d or 7d")
    return int(found.group(1)) * UNITS[found.group(2)] * NS


def iso_ns(text: str) -> int:
    """An ISO 8601 time (UTC unless it names an offset) in nanoseconds since the epoch; ValueError if not one."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp()) * NS + moment.microsecond * 1000


def parse_time(text: str, what: str = "--since") -> int:
    """An ISO 8601 time in nanoseconds; a UsageError naming ``what`` otherwise."""
    try:
        return iso_ns(text)
    except ValueError:
        raise UsageError(f"{what} {text!r}: expected an ISO 8601 time such as 2026-11-30T14:00:00Z") from None


def origin(length_ns: int) -> int:
    """Where windows of this length are aligned: the epoch, or a Monday for whole weeks."""
    return MONDAY_NS if length_ns % WEEK_NS == 0 else 0


def window_starts(times_ns: np.ndarray, length_ns: int) -> np.ndarray:
    """The start of the window of every time."""
    shift = origin(length_ns)
    return (times_ns - shift) // length_ns * length_ns + shift


def split_by_window(times_ns: np.ndarray, length_ns: int) -> Iterator[tuple[int, np.ndarray | slice]]:
    """(window start, rows) for every window the times fall in: a slice when the rows are in time order
    (the usual log), else an index array."""
    import numpy as np

    if len(times_ns) == 0:
        return
    starts = window_starts(times_ns, length_ns)
    first, last = int(starts[0]), int(starts[-1])
    if first == last and (starts == first).all():
        yield first, slice(0, len(starts))
        return
    if (np.diff(starts) >= 0).all():
        bounds = np.flatnonzero(np.diff(starts)) + 1
        edges = [0, *bounds.tolist(), len(starts)]
        for begin, end in itertools.pairwise(edges):
            yield int(starts[begin]), slice(begin, end)
        return
    order = np.argsort(starts, kind="stable")
    ordered = starts[order]
    bounds = np.flatnonzero(np.diff(ordered)) + 1
    for part in np.split(order, bounds):
        yield int(starts[part[0]]), part


def iso(ns: int) -> str:
    """A time in nanoseconds as ``2026-11-30T14:00:00Z``."""
    moment = datetime.fromtimestamp(ns // NS, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
