"""The trend dashboard (``history --trend``): one self-contained HTML page — inline CSS and SVG drawn here, no
script, no font, image or style from elsewhere — with, per model, the metrics of every released version with
their interval whiskers, the PR checks over time, the deploys and the monitor runs.

Every string that came from a record or the registry (model and metric names, verdicts, versions, pull request
titles, links) is escaped; a link is kept only when it is a plain http(s) URL.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable

from mlops_actions.metadata.trends import MetricPoint, ModelTrend, RunPoint, VersionPoint
from mlops_actions.render.format import MISSING, fmt_interval, fmt_num, one_line, safe_url, short_sha

CHART_WIDTH, CHART_HEIGHT = 720, 260
STRIP_HEIGHT = 64
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 24, 20, 40
VALUE_COLOR = "#0969da"
VERDICT_COLORS = {
    "pass": "#1a7f37",
    "released": "#1a7f37",
    "promoted": "#1a7f37",
    "ok": "#1a7f37",
    "warning": "#9a6700",
    "fail": "#cf222e",
    "rolled_back": "#cf222e",
    "alert": "#cf222e",
    "failed": "#8250df",
    "error": "#8250df",
}
OTHER_COLOR = "#6e7781"
STAGE_TITLES = {"check": "PR checks over time", "deploy": "Deploys", "monitor": "Monitor runs"}

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; margin: 24px auto;
  max-width: 1100px; padding: 0 16px; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 4px; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 4px; margin-top: 36px; }
h3 { margin: 22px 0 6px; font-size: 1.1em; }
table { border-collapse: collapse; margin: 8px 0 4px; font-size: 0.92em; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: #57606a; }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; color: #fff; font-size: 0.85em; }
.counts span { margin-right: 14px; }
.warning { background: #fff8c5; border: 1px solid #d4a72c; padding: 4px 8px; margin: 6px 0; }
svg.chart { display: block; background: #fff; border: 1px solid #d0d7de; border-radius: 6px; margin: 6px 0; }
"""


def _e(value: object, limit: int = 200) -> str:
    """An untrusted value as one line of escaped HTML text."""
    return html.escape(one_line(value, limit), quote=True)


def _color(verdict: str) -> str:
    return VERDICT_COLORS.get(verdict, OTHER_COLOR)


def _badge(verdict: str) -> str:
    return f'<span class="badge" style="background:{_color(verdict)}">{_e(verdict, 40)}</span>'


def _svg_open(kind: str, width: int, height: int, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {kind}" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="system-ui, sans-serif" font-size="11">'
        f"<title>{_e(label, 300)}</title>"
    )


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    step = (high - low) / count
    return [low + step * i for i in range(count + 1)]


def metric_chart_svg(versions: list[VersionPoint], metric: str) -> str:
    """A chart of ``metric`` per released version: a point per version on its value, a whisker over its
    interval, the points joined by a line; '' when no version carries the metric."""
    shown = [(v, p) for v in versions if (p := v.metrics.get(metric)) is not None and p.value is not None]
    if not shown:
        return ""
    ends = [x for _v, p in shown for x in (p.value, p.low, p.high) if x is not None]
    low, high = min(ends), max(ends)
    pad = (high - low) * 0.1 or abs(high) * 0.05 or 1.0
    low, high = low - pad, high + pad
    width, height = CHART_WIDTH, CHART_HEIGHT
    plot_w = width - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = height - MARGIN_TOP - MARGIN_BOTTOM
    step = plot_w / len(shown)

    def x_of(index: int) -> float:
        return round(MARGIN_LEFT + step * (index + 0.5), 1)

    def y_of(value: float) -> float:
        return round(MARGIN_TOP + (high - value) / (high - low) * plot_h, 1)

    out = [_svg_open("metric-chart", width, height, f"{metric} per released version, oldest first")]
    for tick in _ticks(low, high):
        y = y_of(tick)
        out.append(
            f'<line x1="{MARGIN_LEFT}" y1="{y}" x2="{width - MARGIN_RIGHT}" y2="{y}" stroke="#eaeef2"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4}" text-anchor="end" fill="#57606a">{tick:.4g}</text>'
        )
    out.append(
        f'<line x1="{MARGIN_LEFT}" y1="{height - MARGIN_BOTTOM}" x2="{width - MARGIN_RIGHT}" '
        f'y2="{height - MARGIN_BOTTOM}" stroke="#8c959f"/>'
    )
    line = " ".join(f"{x_of(i)},{y_of(p.value)}" for i, (_v, p) in enumerate(shown) if p.value is not None)
    out.append(
        f'<polyline class="trend-line" points="{line}" fill="none" stroke="{VALUE_COLOR}" stroke-width="2"/>'
    )
    for index, (version, point) in enumerate(shown):
        x = x_of(index)
        out.append(_whisker(x, point, y_of))
        tip = f"{version.version}: {fmt_num(point.value)}" + (
            f" {fmt_interval(point.low, point.high, signed=False)}" if point.low is not None else ""
        )
        ring = ' stroke="#1f2328" stroke-width="2"' if version.production or version.current else ""
        out.append(
            f'<circle class="point" data-version="{_e(version.version, 40)}" cx="{x}" cy="{y_of(point.value)}" '  # type: ignore[arg-type]
            f'r="6" fill="{VALUE_COLOR}"{ring}><title>{_e(tip)}</title></circle>'
        )
        label = version.version + (" ★" if version.production else "")
        out.append(
            f'<text x="{x}" y="{height - MARGIN_BOTTOM + 16}" text-anchor="middle" fill="#1f2328">'
            f"{_e(label, 24)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _whisker(x: float, point: MetricPoint, y_of: object) -> str:
    if point.low is None or point.high is None:
        return ""
    top, bottom = y_of(point.high), y_of(point.low)  # type: ignore[operator]
    return (
        f'<g class="whisker" stroke="{VALUE_COLOR}" stroke-width="1.5">'
        f'<line x1="{x}" y1="{top}" x2="{x}" y2="{bottom}"/>'
        f'<line x1="{x - 6}" y1="{top}" x2="{x + 6}" y2="{top}"/>'
        f'<line x1="{x - 6}" y1="{bottom}" x2="{x + 6}" y2="{bottom}"/></g>'
    )


def _time(text: str) -> float | None:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _run_label(run: RunPoint) -> str:
    if run.stage == "check":
        return f"#{run.pr}" if run.pr is not None else (short_sha(run.commit) or "")
    return f"v{run.version}" if run.version else ""


def runs_strip_svg(runs: list[RunPoint], stage: str) -> str:
    """One coloured mark per run of ``stage`` on a time axis (oldest left), labelled with its pull request
    (a check) or version (a deploy, a monitor run); '' when there is none."""
    if not runs:
        return ""
    width, height = CHART_WIDTH, STRIP_HEIGHT
    plot_w = width - MARGIN_LEFT - MARGIN_RIGHT
    times = [_time(run.started_at) for run in runs]
    known = [t for t in times if t is not None]
    first, last = (min(known), max(known)) if known else (0.0, 0.0)
    out = [_svg_open(f"runs-chart {stage}-chart", width, height, f"{STAGE_TITLES[stage]}, oldest first")]
    out.append(f'<line x1="{MARGIN_LEFT}" y1="36" x2="{width - MARGIN_RIGHT}" y2="36" stroke="#d0d7de"/>')
    for index, (run, when) in enumerate(zip(runs, times, strict=True)):
        if when is None or last <= first:
            share = (index + 0.5) / len(runs)
        else:
            share = 0.04 + 0.92 * (when - first) / (last - first)
        x = round(MARGIN_LEFT + plot_w * share, 1)
        tip = f"{run.started_at[:19]} {run.verdict} {_run_label(run)}" + (
            f" {run.title}" if run.title else ""
        )
        out.append(
            f'<rect class="run" data-verdict="{_e(run.verdict, 40)}" x="{x - 7}" y="29" width="14" height="14" '
            f'rx="3" fill="{_color(run.verdict)}"><title>{_e(tip, 300)}</title></rect>'
            f'<text x="{x}" y="20" text-anchor="middle" fill="#1f2328">{_e(_run_label(run), 16)}</text>'
        )
    if known:
        for x, anchor, when in ((MARGIN_LEFT, "start", first), (width - MARGIN_RIGHT, "end", last)):
            day = dt.datetime.fromtimestamp(when, dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
            out.append(f'<text x="{x}" y="58" text-anchor="{anchor}" fill="#57606a">{day}</text>')
    out.append("</svg>")
    return "".join(out)


def _link(links: dict[str, str]) -> str:
    found = []
    for name, url in links.items():
        safe = safe_url(url)
        if safe is not None:
            found.append(f'<a href="{html.escape(safe, quote=True)}">{_e(name, 30)}</a>')
    return " ".join(found) or MISSING


def _versions_table(trend: ModelTrend) -> str:
    names = trend.metric_names
    head = "".join(f"<th>{_e(name, 60)}</th>" for name in names)
    rows = []
    for v in reversed(trend.versions):
        cells = []
        for name in names:
            point = v.metrics.get(name)
            text = fmt_num(point.value) if point else MISSING
            if point and point.low is not None and point.high is not None:
                text += f' <span class="muted">{fmt_interval(point.low, point.high, signed=False)}</span>'
            cells.append(f'<td class="num">{text}</td>')
        flag = " (production)" if v.production else ""
        rows.append(
            f"<tr><td>{_e(v.version, 40)}{flag}</td>{''.join(cells)}<td>{_e((v.released_at or MISSING)[:19])}</td>"
            f"<td><code>{_e(short_sha(v.commit) or MISSING)}</code></td></tr>"
        )
    return (
        f"<table><thead><tr><th>version</th>{head}<th>released</th><th>commit</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _runs_table(runs: list[RunPoint], stage: str, metric: str) -> str:
    rows = []
    for run in reversed(runs):
        what = _e(_run_label(run), 40) + (f" {_e(run.title, 120)}" if run.title else "")
        cells = (
            f'<td class="num">{fmt_num(run.primary.value if run.primary else None)}</td>'
            f'<td class="num">{fmt_num(run.delta, signed=True)}</td>'
            if stage == "check"
            else ""
        )
        rows.append(
            f"<tr><td>{_e(run.started_at[:19])}</td><td>{what}</td><td><code>{_e(short_sha(run.commit) or MISSING)}"
            f"</code></td><td>{_badge(run.verdict)}</td>{cells}<td>{_link(run.links)}</td></tr>"
        )
    first = "pull request" if stage == "check" else "version"
    extra = f"<th>{_e(metric, 60)}</th><th>Δ</th>" if stage == "check" else ""
    return (
        f"<table><thead><tr><th>when</th><th>{first}</th><th>commit</th><th>verdict</th>{extra}<th>links</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _counts(runs: Iterable[RunPoint]) -> str:
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.verdict] = counts.get(run.verdict, 0) + 1
    return " ".join(f"{_badge(verdict)} {n}" for verdict, n in sorted(counts.items())) or "none recorded"


def model_section(trend: ModelTrend, index: int) -> str:
    """One model's part of the dashboard."""
    metric = trend.primary_metric
    better = "higher is better" if trend.higher_is_better else "lower is better"
    out = [
        f'<section class="model" id="model-{index}"><h2>{_e(trend.model, 120)}</h2>',
        f'<p class="counts"><span>PR checks: {_counts(trend.checks)}</span>'
        f"<span>deploys: {_counts(trend.deploys)}</span><span>monitor runs: {_counts(trend.monitors)}</span></p>",
    ]
    for warning in trend.warnings:
        out.append(f'<p class="warning">{_e(warning, 400)}</p>')
    out.append(f'<h3>{_e(metric, 60)} per released version <span class="muted">({better})</span></h3>')
    chart = metric_chart_svg(trend.versions, metric)
    out.append(chart or '<p class="muted">No released version carries this metric yet.</p>')
    for name in trend.metric_names[1:]:
        other = metric_chart_svg(trend.versions, name)
        if other:
            out.append(f"<details><summary>{_e(name, 60)} per released version</summary>{other}</details>")
    if trend.versions:
        out.append(_versions_table(trend))
    for stage, runs in (("check", trend.checks), ("deploy", trend.deploys), ("monitor", trend.monitors)):
        out.append(f"<h3>{STAGE_TITLES[stage]}</h3>")
        if not runs:
            out.append(f'<p class="muted">No {stage} recorded.</p>')
            continue
        out.append(runs_strip_svg(runs, stage))
        out.append(_runs_table(runs, stage, metric))
    out.append("</section>")
    return "".join(out)


def render_trend_html(trends: list[ModelTrend]) -> str:
    """The self-contained dashboard page of the models' trends."""
    names = ", ".join(one_line(t.model, 60) for t in trends) or "no model"
    body = "".join(model_section(trend, index) for index, trend in enumerate(trends))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Trends: {_e(names, 200)}</title><style>{STYLE}</style></head><body>"
        f"<h1>Trends across versions</h1>"
        f'<p class="muted">Metrics of every released version with their intervals, the PR checks, deploys and '
        f"monitor runs recorded in the metadata store, oldest first on every chart.</p>{body}</body></html>\n"
    )
