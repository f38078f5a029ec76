"""A load test as Markdown: the verdict in one line, then the figures against their thresholds."""

from __future__ import annotations

from mlops_actions.domain.loadtest import LoadTestResult, format_ms, format_rate
from mlops_actions.render.format import MISSING, escape_md, safe_url


def _ms(value: float | None) -> str:
    return MISSING if value is None else f"{format_ms(value)} ms"


def verdict_line(result: LoadTestResult, url: str) -> str:
    """One line: passed or failed (and aborted), the load, and the breached thresholds."""
    load = (
        f"{result.requests:,} requests in {result.duration_s:.1f} s at {result.rps:.1f} rps, "
        f"{result.users} users, p99 {_ms(result.p99_ms)}, error rate {format_rate(result.error_rate)}"
    )
    plain = safe_url(url)
    target = f"`{plain}`" if plain is not None and len(plain) <= 200 else escape_md(url, 200)
    if result.passed:
        return f"**Load test passed** on {target}: {load}"
    stopped = f" (aborted after {result.requests:,} requests)" if result.aborted else ""
    why = "; ".join(result.failures) or "thresholds not met"
    return f"**Load test failed{stopped}** on {target}: {why} — {load}"


def loadtest_markdown(result: LoadTestResult, url: str) -> str:
    """The Markdown of a load test: the verdict line first, then a table of figures vs thresholds and the
    errors by kind."""
    limits = result.thresholds

    def judged(key: str, value: float | None, shown: str, *, lower_is_better: bool = True) -> list[str]:
        if key not in limits:
            return [shown, "", ""]
        bound = limits[key]
        ok = value is not None and (value <= bound if lower_is_better else value >= bound)
        if key == "error_rate":
            limit = f"≤ {format_rate(bound)}"
        elif key == "min_rps":
            limit = f"≥ {bound:g} rps"
        else:
            limit = f"≤ {format_ms(bound)} ms"
        return [shown, limit, "pass" if ok else "**fail**"]

    rows = [
        ["requests", f"{result.requests:,}", "", ""],
        ["errors", f"{result.errors:,}", "", ""],
        ["error rate", *judged("error_rate", result.error_rate, format_rate(result.error_rate))],
        ["throughput", *judged("min_rps", result.rps, f"{result.rps:.1f} rps", lower_is_better=False)],
        ["p50", _ms(result.p50_ms), "", ""],
        ["p95", *judged("p95_ms", result.p95_ms, _ms(result.p95_ms))],
        ["p99", *judged("p99_ms", result.p99_ms, _ms(result.p99_ms))],
        ["max", _ms(result.max_ms), "", ""],
        ["run time", f"{result.duration_s:.1f} s", "", ""],
        ["users", str(result.users), "", ""],
    ]
    lines = [verdict_line(result, url), "", "| figure | value | threshold | result |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    if result.errors_by_kind:
        lines += ["", "Errors by kind:", ""]
        lines += [f"- {escape_md(kind, 60)}: {count:,}" for kind, count in result.errors_by_kind.items()]
    if result.aborted:
        lines += [
            "",
            "The run stopped early: the error rate was over its threshold (loadtest.abort_on_fail).",
        ]
    return "\n".join(lines) + "\n"
