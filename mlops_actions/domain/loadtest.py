"""What a load test measured, judged against its thresholds: pure figures, no load generator.

The load itself runs in a child process (``mlops_actions/serving/loadtest.py``); it hands back every
response time and the error kinds, and :func:`summarise` turns them into a :class:`LoadTestResult`:
exact percentiles of the recorded times, the error rate, the throughput, and one line per breached
threshold. :func:`request_plan` builds the request bodies of the mix from the eval rows.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from mlops_actions.domain.config import LoadTestThresholds, RequestMix

ABORT_MIN_REQUESTS = 200  # an early stop on the error rate waits for this many answers
BODIES_PER_KIND = 32  # distinct bodies prepared per kind of request of the mix


@dataclass(frozen=True)
class LoadTestResult:
    """One load test: the verdict, why it failed (one line per breached threshold), and its figures."""

    passed: bool
    aborted: bool
    failures: list[str]
    requests: int
    errors: int
    error_rate: float
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    duration_s: float
    users: int
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-safe copy (plain numbers, lists and dicts)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> LoadTestResult:
        """The result :meth:`as_dict` wrote."""

        def number(key: str) -> float | None:
            value = document.get(key)
            return None if value is None else float(value)

        return cls(
            passed=bool(document["passed"]),
            aborted=bool(document.get("aborted", False)),
            failures=[str(line) for line in document.get("failures", [])],
            requests=int(document["requests"]),
            errors=int(document.get("errors", 0)),
            error_rate=float(document.get("error_rate", 0.0)),
            rps=float(document.get("rps", 0.0)),
            p50_ms=number("p50_ms"),
            p95_ms=number("p95_ms"),
            p99_ms=number("p99_ms"),
            max_ms=number("max_ms"),
            duration_s=float(document.get("duration_s", 0.0)),
            users=int(document.get("users", 0)),
            errors_by_kind={str(k): int(v) for k, v in (document.get("errors_by_kind") or {}).items()},
            thresholds={str(k): float(v) for k, v in (document.get("thresholds") or {}).items()},
        )


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of sorted values, interpolated linearly between the closest ranks
    (as numpy's default); None for no values."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def format_ms(value: float) -> str:
    """A time in ms as a report shows it: whole ms from 100 ms, else three significant digits."""
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def format_rate(value: float) -> str:
    """A share as a percentage: ``0.0123`` -> ``1.23%``."""
    return f"{value * 100:.3g}%"


def threshold_failures(figures: Mapping[str, float | None], thresholds: Mapping[str, float]) -> list[str]:
    """One line per breached threshold, e.g. ``p99 612 ms > 200 ms (loadtest.thresholds.p99_ms)``.
    ``figures`` holds p95_ms, p99_ms, error_rate and rps; a latency of None (no answer) breaches its bound."""
    failures = []
    for key, label in (("p95_ms", "p95"), ("p99_ms", "p99")):
        if key not in thresholds:
            continue
        bound, value = thresholds[key], figures.get(key)
        if value is None:
            failures.append(f"{label}: no request answered (loadtest.thresholds.{key} {format_ms(bound)} ms)")
        elif value > bound:
            failures.append(
                f"{label} {format_ms(value)} ms > {format_ms(bound)} ms (loadtest.thresholds.{key})"
            )
    rate = figures.get("error_rate")
    if "error_rate" in thresholds and rate is not None and rate > thresholds["error_rate"]:
        failures.append(
            f"error rate {format_rate(rate)} > {format_rate(thresholds['error_rate'])} "
            "(loadtest.thresholds.error_rate)"
        )
    rps = figures.get("rps")
    if "min_rps" in thresholds and rps is not None and rps < thresholds["min_rps"]:
        failures.append(
            f"throughput {rps:.1f} rps < {thresholds['min_rps']:g} rps (loadtest.thresholds.min_rps)"
        )
    return failures


def should_abort(
    requests: int,
    errors: int,
    error_rate_limit: float | None,
    *,
    elapsed_s: float = float("inf"),
    delay_s: float = 0.0,
) -> bool:
    """True once the error rate is over its threshold on a sample of at least ABORT_MIN_REQUESTS answers,
    after ``delay_s`` seconds of load."""
    return (
        error_rate_limit is not None
        and elapsed_s >= delay_s
        and requests >= ABORT_MIN_REQUESTS
        and errors > error_rate_limit * requests
    )


def summarise(
    latencies_ms: Sequence[float],
    errors_by_kind: Mapping[str, int],
    *,
    elapsed_s: float,
    users: int,
    thresholds: LoadTestThresholds,
    aborted: bool = False,
) -> LoadTestResult:
    """The result of a run: every completed request's response time (errors included), the failed ones by
    kind (HTTP status, ``timeout``, ``connection``), the measured run time and the users that ran."""
    ordered = sorted(float(value) for value in latencies_ms)
    requests = len(ordered)
    errors = sum(int(count) for count in errors_by_kind.values())
    error_rate = errors / requests if requests else 0.0
    rps = requests / elapsed_s if elapsed_s > 0 else 0.0
    figures = {
        "p50_ms": percentile(ordered, 50),
        "p95_ms": percentile(ordered, 95),
        "p99_ms": percentile(ordered, 99),
        "error_rate": error_rate,
        "rps": rps,
    }
    judged = thresholds.as_dict()
    failures = [] if requests else [f"no request was answered in {elapsed_s:.1f} s"]
    failures += threshold_failures(figures, judged)
    return LoadTestResult(
        passed=not failures and not aborted,
        aborted=aborted,
        failures=failures,
        requests=requests,
        errors=errors,
        error_rate=error_rate,
        rps=rps,
        p50_ms=figures["p50_ms"],
        p95_ms=figures["p95_ms"],
        p99_ms=figures["p99_ms"],
        max_ms=ordered[-1] if ordered else None,
        duration_s=elapsed_s,
        users=users,
        errors_by_kind={str(kind): int(count) for kind, count in sorted(errors_by_kind.items()) if count},
        thresholds=judged,
    )


@dataclass(frozen=True)
class RequestPlan:
    """Prepared request bodies, one tuple per kind of the mix, and the kinds' weights."""

    bodies: tuple[tuple[bytes, ...], ...]
    weights: tuple[float, ...]
    rows: tuple[int, ...]  # rows in one body of each kind

    def pick(self, rng: random.Random) -> bytes:
        """A body: its kind drawn by weight, then one of that kind's bodies."""
        (kind,) = rng.choices(range(len(self.bodies)), weights=self.weights)
        return rng.choice(self.bodies[kind])


def request_plan(
    rows: Sequence[Mapping[str, Any]], mix: Sequence[RequestMix], *, seed: int = 0
) -> RequestPlan:
    """Bodies of ``POST /predict`` for each kind of the mix: ``rows`` consecutive records (wrapping around
    the given rows) from spread starting points; a one-row request is a single JSON object, else a list."""
    if not rows:
        raise ValueError("no rows to send")
    rng = random.Random(seed)
    records = [dict(row) for row in rows]
    bodies = []
    for kind in mix:
        prepared = []
        for _ in range(BODIES_PER_KIND if len(records) > 1 else 1):
            start = rng.randrange(len(records))
            chosen = [records[(start + i) % len(records)] for i in range(kind.rows)]
            document: Any = chosen[0] if kind.rows == 1 else chosen
            prepared.append(json.dumps(document, allow_nan=False, separators=(",", ":")).encode())
        bodies.append(tuple(dict.fromkeys(prepared)))
    return RequestPlan(
        bodies=tuple(bodies),
        weights=tuple(float(kind.weight) for kind in mix),
        rows=tuple(int(kind.rows) for kind in mix),
    )
