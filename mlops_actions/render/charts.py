"""Charts of the deltas: a Mermaid bar chart for comments, self-drawn inline SVG for the HTML report.

Both show changes "direction-adjusted": positive means better, whatever the metric's direction.
When every baseline is non-zero the metrics share one axis in percent of the baseline (RMSE and R²
have no common unit); otherwise the axis is in the metrics' own units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape as xml_escape

from mlops_actions.render.format import escape_mermaid, fmt_num, fmt_percent, fmt_signed, one_line
from mlops_actions.render.view import MetricView, Report, SliceView

COLORS = {
    "fail": "#cf222e",
    "worse": "#bc4c00",
    "better": "#1a7f37",
    "noise": "#6e7781",
    "same": "#6e7781",
    "value": "#0969da",
}
MAX_SLICES_IN_CHART = 60


@dataclass
class ChangePoint:
    """One metric's change on the chart's scale (positive = better)."""

    label: str
    value: float
    low: float | None
    high: float | None
    allowances: list[float]
    state: str  # "fail" | "better" | "worse" | "noise" | "same"


def _finite(*values: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def _state(metric: MetricView) -> str:
    if metric.status == "fail":
        return "fail"
    if metric.within_noise:
        return "noise"
    return metric.direction or "same"


def change_scale(metrics: list[MetricView]) -> str:
    """'percent' when every compared metric has a non-zero baseline, else 'absolute'."""
    compared = [m for m in metrics if m.delta is not None]
    if compared and all(
        m.baseline is not None and m.baseline != 0 and math.isfinite(m.baseline) for m in compared
    ):
        return "percent"
    return "absolute"


def change_points(metrics: list[MetricView]) -> tuple[str, list[ChangePoint]]:
    """The metrics that have a delta, as direction-adjusted changes on a common scale."""
    scale = change_scale(metrics)
    points = []
    for metric in metrics:
        value = metric.adjusted_delta
        if value is None or not math.isfinite(value):
            continue
        interval = metric.adjusted_interval
        factor = 100 / abs(metric.baseline) if scale == "percent" and metric.baseline else 1.0
        allowances = []
        for kind, threshold in metric.allowances:
            if kind == "change":
                allowances.append(threshold * factor)
            elif scale == "percent":
                allowances.append(threshold * 100)
            elif metric.baseline is not None:
                allowances.append(threshold * abs(metric.baseline))
        low, high = (interval[0] * factor, interval[1] * factor) if interval else (None, None)
        points.append(
            ChangePoint(
                label=metric.label,
                value=value * factor,
                low=low if _finite(low) else None,
                high=high if _finite(high) else None,
                allowances=[a for a in allowances if math.isfinite(a)],
                state=_state(metric),
            )
        )
    return scale, points


def _plain(value: float) -> str:
    """A number as Mermaid reads it (no exponent, no sign for positives)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _nice_ceiling(value: float) -> float:
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * 10**exponent >= value:
            return step * 10**exponent
    return 10 ** (exponent + 1)


def mermaid_changes(report: Report) -> str | None:
    """A Mermaid ``xychart-beta`` of the size of each metric's change, or None without a baseline.

    Mermaid draws bars from the axis edge, not from zero, so a negative bar would look like a large
    positive one. The chart therefore shows sizes (|change|) on an axis starting at 0, with two
    series that never overlap: improvements (first colour) and regressions (second colour); each
    label carries the direction (▲ better, ▼ worse) and the signed value.
    """
    scale, points = change_points(report.metrics)
    if not points:
        return None
    unit = "%" if scale == "percent" else ""
    labels, better, worse = [], [], []
    for point in points:
        arrow = "▲" if point.value > 0 else "▼" if point.value < 0 else "="
        signed = fmt_percent(point.value, signed=True) if unit else fmt_signed(point.value)
        noise = " (noise)" if point.state == "noise" else ""
        labels.append(f'"{arrow} {escape_mermaid(point.label, 28)} {signed}{noise}"')
        better.append(_plain(max(point.value, 0.0)))
        worse.append(_plain(max(-point.value, 0.0)))
    top = _nice_ceiling(max(abs(p.value) for p in points) * 1.05)
    axis = "size of change, % of baseline" if unit else "size of change"
    height = 120 + 44 * len(points)
    return "\n".join(
        [
            "---",
            "config:",
            "  xyChart:",
            "    width: 720",
            f"    height: {height}",
            "  themeVariables:",
            "    xyChart:",
            f'      plotColorPalette: "{COLORS["better"]}, {COLORS["fail"]}"',
            "---",
            "xychart-beta horizontal",
            '    title "Change vs baseline (▲ better, ▼ worse)"',
            f"    x-axis [{', '.join(labels)}]",
            f'    y-axis "{axis}" 0 --> {_plain(top)}',
            f"    bar [{', '.join(better)}]",
            f"    bar [{', '.join(worse)}]",
        ]
    )


# ---------------------------------------------------------------- SVG


@dataclass
class ForestRow:
    label: str
    value: float
    low: float | None
    high: float | None
    color: str
    note: str  # text on the right
    marks: list[float]  # allowances: dashed ticks
    tooltip: str


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    span = high - low
    if span <= 0:
        return [low]
    raw = span / count
    exponent = math.floor(math.log10(raw))
    step = next(m * 10**exponent for m in (1, 2, 2.5, 5, 10) if m * 10**exponent >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    return ticks


def _tick_label(value: float, unit: str, signed: bool) -> str:
    text = f"{value:.6g}"
    return f"{'+' if signed and value > 0 else ''}{text}{unit}"


def forest_svg(
    rows: list[ForestRow],
    *,
    title: str,
    axis_title: str,
    unit: str = "",
    zero_line: bool = True,
    hints: tuple[str, str] | None = ("← worse", "better →"),
) -> str:
    """A forest plot: one row per item, a dot at the value and a whisker over its interval."""
    label_width, plot_width, note_width = 200, 360, 200
    row_height, top, bottom = 26, 52, 46
    width = label_width + plot_width + note_width
    height = top + row_height * len(rows) + bottom
    candidates = [v for row in rows for v in (row.value, row.low, row.high, *row.marks)]
    values = [v for v in candidates if v is not None and math.isfinite(v)]
    if zero_line:
        values.append(0.0)
    low, high = (min(values), max(values)) if values else (-1.0, 1.0)
    if high - low <= 0:
        pad = abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
    pad = (high - low) * 0.08
    low, high = low - pad, high + pad

    def x_of(value: float) -> float:
        return round(label_width + (value - low) / (high - low) * plot_width, 1)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">',
        f"<title>{xml_escape(one_line(title, 200))}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{label_width}" y="18" font-size="13" font-weight="600" fill="#1f2328">'
        f"{xml_escape(one_line(title, 120))}</text>",
    ]
    plot_top, plot_bottom = top - 8, top + row_height * len(rows)
    for tick in _ticks(low, high):
        x = x_of(tick)
        out.append(
            f'<line x1="{x}" y1="{plot_top}" x2="{x}" y2="{plot_bottom}" stroke="#eaeef2" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{x}" y="{plot_bottom + 16}" text-anchor="middle" fill="#57606a">'
            f"{xml_escape(_tick_label(tick, unit, zero_line))}</text>"
        )
    if zero_line and low < 0 < high:
        x = x_of(0.0)
        out.append(
            f'<line x1="{x}" y1="{plot_top}" x2="{x}" y2="{plot_bottom}" stroke="#57606a" stroke-width="1.2"/>'
        )
    out.append(
        f'<line x1="{label_width}" y1="{plot_bottom}" x2="{label_width + plot_width}" y2="{plot_bottom}" '
        'stroke="#8c959f" stroke-width="1"/>'
    )
    out.append(
        f'<text x="{label_width + plot_width / 2}" y="{plot_bottom + 34}" text-anchor="middle" fill="#1f2328">'
        f"{xml_escape(axis_title)}</text>"
    )
    if hints:
        out.append(
            f'<text x="{label_width}" y="{top - 12}" fill="#57606a" font-size="11">{xml_escape(hints[0])}</text>'
        )
        out.append(
            f'<text x="{label_width + plot_width}" y="{top - 12}" text-anchor="end" fill="#57606a" '
            f'font-size="11">{xml_escape(hints[1])}</text>'
        )
    for index, row in enumerate(rows):
        y = top + row_height * index + row_height / 2
        if index % 2:
            out.append(
                f'<rect x="0" y="{y - row_height / 2}" width="{width}" height="{row_height}" fill="#f6f8fa" '
                'fill-opacity="0.6"/>'
            )
        out.append(f"<g><title>{xml_escape(one_line(row.tooltip, 300))}</title>")
        out.append(
            f'<text x="{label_width - 10}" y="{y + 4}" text-anchor="end" fill="#1f2328">'
            f"{xml_escape(one_line(row.label, 28))}</text>"
        )
        for mark in row.marks:
            x = x_of(mark)
            out.append(
                f'<line x1="{x}" y1="{y - 10}" x2="{x}" y2="{y + 10}" stroke="{COLORS["fail"]}" '
                'stroke-width="1.5" stroke-dasharray="3 2"/>'
            )
        if row.low is not None and row.high is not None:
            x1, x2 = x_of(row.low), x_of(row.high)
            out.append(f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{row.color}" stroke-width="2"/>')
            for x in (x1, x2):
                out.append(
                    f'<line x1="{x}" y1="{y - 5}" x2="{x}" y2="{y + 5}" stroke="{row.color}" stroke-width="2"/>'
                )
        out.append(f'<circle cx="{x_of(row.value)}" cy="{y}" r="5" fill="{row.color}"/>')
        out.append(
            f'<text x="{label_width + plot_width + 12}" y="{y + 4}" fill="#1f2328" '
            f'font-family="ui-monospace, SFMono-Regular, Menlo, monospace" font-size="11.5">'
            f"{xml_escape(one_line(row.note, 40))}</text>"
        )
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def changes_svg(report: Report) -> str | None:
    """The forest plot of every metric's direction-adjusted change with its interval, or None."""
    scale, points = change_points(report.metrics)
    if not points:
        return None
    unit = "%" if scale == "percent" else ""

    def show(value: float | None) -> str:
        return fmt_percent(value, signed=True) if unit else fmt_signed(value)

    rows = []
    for point in points:
        interval = f" [{show(point.low)}, {show(point.high)}]" if point.low is not None else ""
        rows.append(
            ForestRow(
                label=point.label,
                value=point.value,
                low=point.low,
                high=point.high,
                color=COLORS[point.state],
                note=f"{show(point.value)}{interval}",
                marks=point.allowances,
                tooltip=f"{point.label}: {show(point.value)}{interval} ({point.state})",
            )
        )
    axis = "change, % of baseline (positive = better)" if unit else "change (positive = better)"
    return forest_svg(
        rows,
        title=f"Change vs baseline with {report.confidence_label} intervals",
        axis_title=axis,
        unit=unit,
    )


def _slice_color(item: SliceView, metric: MetricView) -> str:
    if item.flagged:
        return COLORS["fail"]
    if metric.delta is None:
        return COLORS["value"]
    if metric.within_noise:
        return COLORS["noise"]
    return COLORS.get(metric.direction or "same", COLORS["noise"])


def chart_slices(slices: list[SliceView], limit: int = MAX_SLICES_IN_CHART) -> list[SliceView]:
    """The slices a chart shows: flagged ones first, then the largest, in their original order."""
    usable = [
        s
        for s in slices
        if s.metric is not None and (s.metric.delta is not None or s.metric.candidate is not None)
    ]
    if len(usable) <= limit:
        return usable
    ranked = sorted(range(len(usable)), key=lambda i: (not usable[i].flagged, -(usable[i].rows or 0), i))
    keep = sorted(ranked[:limit])
    return [usable[i] for i in keep]


def slices_svg(report: Report) -> str | None:
    """A forest plot of the primary metric per slice: its change when there is a baseline, else its value."""
    shown = chart_slices(report.slices)
    if not shown:
        return None
    with_delta = any(s.metric is not None and s.metric.delta is not None for s in shown)
    rows = []
    for item in shown:
        metric = item.metric
        assert metric is not None
        if with_delta:
            value = metric.adjusted_delta
            interval = metric.adjusted_interval
            note = fmt_signed(value)
            if interval is not None:
                note += f" [{fmt_signed(interval[0])}, {fmt_signed(interval[1])}]"
        else:
            value = metric.candidate
            interval = (metric.ci_low, metric.ci_high) if _finite(metric.ci_low, metric.ci_high) else None  # type: ignore[assignment]
            note = fmt_num(metric.candidate)
            if interval is not None:
                note += f" [{fmt_num(interval[0])}, {fmt_num(interval[1])}]"
        if value is None or not math.isfinite(value):
            continue
        label = f"{item.column}={item.value}"
        rows.append(
            ForestRow(
                label=label,
                value=value,
                low=interval[0] if interval else None,
                high=interval[1] if interval else None,
                color=_slice_color(item, metric),
                note=note,
                marks=[],
                tooltip=f"{label} ({item.rows or 0:,} rows): {note}"
                + (" — rule failed" if item.flagged else ""),
            )
        )
    if not rows:
        return None
    name = report.slice_metric_label or "primary metric"
    more = len([s for s in report.slices if s.metric is not None]) - len(rows)
    suffix = f" (showing {len(rows)}; {more} more in the table)" if more > 0 else ""
    if with_delta:
        return forest_svg(
            rows,
            title=f"{name} per slice: change vs baseline{suffix}",
            axis_title=f"change in {name} (positive = better)",
        )
    return forest_svg(
        rows,
        title=f"{name} per slice{suffix}",
        axis_title=name,
        zero_line=False,
        hints=None,
    )
