"""A model's trend in Markdown: a Mermaid chart of the primary metric per released version, the table of
versions, the counts of check, deploy and monitor outcomes (``history --trend``); and the short trend table of
the release notes and the model card. Every string that came from a record or the registry is escaped."""

from __future__ import annotations

from mlops_actions.metadata.trends import MetricPoint, ModelTrend, VersionPoint
from mlops_actions.render.format import escape_md, escape_mermaid, fmt_interval, fmt_num, short_sha

SPARK_BARS = "▁▂▃▄▅▆▇█"
SPARK_MISSING = "·"
RECENT_RUNS = 10  # check runs listed under the counts


def sparkline(values: list[float | None]) -> str:
    """One character per value, from ▁ (the lowest) to █ (the highest); · where there is none."""
    present = [v for v in values if v is not None]
    low, high = min(present, default=0.0), max(present, default=0.0)
    span = high - low
    out = []
    for value in values:
        if value is None:
            out.append(SPARK_MISSING)
        elif span <= 0:
            out.append(SPARK_BARS[len(SPARK_BARS) // 2])
        else:
            out.append(SPARK_BARS[min(len(SPARK_BARS) - 1, int((value - low) / span * len(SPARK_BARS)))])
    return "".join(out)


def _axis(values: list[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    pad = (high - low) * 0.1 or abs(high) * 0.05 or 1.0
    return low - pad, high + pad


def _point(version: VersionPoint, metric: str) -> MetricPoint | None:
    return version.metrics.get(metric)


def mermaid_chart(trend: ModelTrend) -> str:
    """A Mermaid ``xychart-beta`` of the primary metric per released version ('' when none carries it)."""
    shown = [(v.version, p.value) for v in trend.versions if (p := _point(v, trend.primary_metric))]
    values = [value for _version, value in shown if value is not None]
    if not values:
        return ""
    low, high = _axis(values)
    metric = escape_mermaid(trend.primary_metric)
    labels = ", ".join(f'"{escape_mermaid(version, 20)}"' for version, _value in shown)
    return "\n".join(
        [
            "```mermaid",
            "xychart-beta",
            f'    title "{escape_mermaid(trend.model)}: {metric} per version"',
            f"    x-axis [{labels}]",
            f'    y-axis "{metric}" {low:.4g} --> {high:.4g}',
            f"    line [{', '.join(f'{v:.6g}' for v in values)}]",
            "```",
        ]
    )


def _counts(counts: dict[str, int]) -> str:
    if not counts:
        return "none recorded"
    return ", ".join(f"{n} {escape_md(verdict, 40)}" for verdict, n in sorted(counts.items()))


def trend_markdown(trends: list[ModelTrend]) -> str:
    """The Markdown summary of each model's trend: chart, versions, outcome counts, recent checks."""
    parts: list[str] = []
    for trend in trends:
        metric = escape_md(trend.primary_metric, 60)
        parts += [f"## Trend: {escape_md(trend.model, 80)}", ""]
        chart = mermaid_chart(trend)
        if chart:
            parts += [chart, ""]
        if trend.versions:
            parts += [f"| version | {metric} | interval | released | commit |", "|---|---|---|---|---|"]
            for v in trend.versions:
                point = _point(v, trend.primary_metric)
                name = escape_md(v.version, 40) + (" (production)" if v.production else "")
                parts.append(
                    f"| {name} | {fmt_num(point.value if point else None)} | "
                    f"{fmt_interval(point.low if point else None, point.high if point else None, signed=False)} "
                    f"| {escape_md((v.released_at or '—')[:19], 30)} | {escape_md(short_sha(v.commit) or '—', 12)} |"
                )
        else:
            parts.append("No released version yet.")
        parts += [
            "",
            f"- PR checks: {_counts(trend.counts('check'))}",
            f"- deploys: {_counts(trend.counts('deploy'))}",
            f"- monitor runs: {_counts(trend.counts('monitor'))}",
        ]
        recent = trend.checks[-RECENT_RUNS:]
        if recent:
            parts += ["", f"| check | PR | commit | verdict | {metric} | Δ |", "|---|---|---|---|---|---|"]
            for run in recent:
                parts.append(
                    f"| {escape_md(run.started_at[:19], 30)} | {f'#{run.pr}' if run.pr is not None else '—'} | "
                    f"{escape_md(short_sha(run.commit) or '—', 12)} | {escape_md(run.verdict, 20)} | "
                    f"{fmt_num(run.primary.value if run.primary else None)} | {fmt_num(run.delta, signed=True)} |"
                )
        for warning in trend.warnings:
            parts.append(f"\n> {escape_md(warning, 300)}")
        parts.append("")
    return "\n".join(parts).rstrip("\n") + "\n"


def release_trend_markdown(points: list[VersionPoint], metric: str) -> str:
    """The short trend table of the release notes and the model card: the primary metric of the last versions
    and of this one, with a sparkline ('' when there is no earlier version to compare with)."""
    if len(points) < 2:
        return ""
    values = [p.metrics[metric].value if metric in p.metrics else None for p in points]
    lines = [
        f"`{sparkline(values)}` {escape_md(metric, 60)} over the last {len(points)} versions, oldest first",
        "",
        f"| version | {escape_md(metric, 60)} | interval |",
        "|---|---|---|",
    ]
    for point, value in zip(points, values, strict=True):
        found = point.metrics.get(metric)
        name = escape_md(point.version, 40) + (" (this release)" if point.current else "")
        interval = fmt_interval(found.low if found else None, found.high if found else None, signed=False)
        lines.append(f"| {name} | {fmt_num(value)} | {interval} |")
    return "\n".join(lines) + "\n"
