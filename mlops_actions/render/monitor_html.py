"""The monitor's HTML report (``monitor.html``): one self-contained page — inline CSS and SVG, no script, no
font or image from elsewhere — with the verdict, the table of windows, the problems, and the trend as small
multiples: one small chart per feature's drift score and per stability counter, flagged windows in red.

It reads only the monitor's JSON form; every value that came from the logs is escaped.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape as xml_escape

from mlops_actions.render.charts import COLORS
from mlops_actions.render.format import fmt_num, one_line
from mlops_actions.render.monitor import (
    CHECK_TITLES,
    STATUS_MARKS,
    TrendRow,
    trend_rows,
    trend_windows,
    verdict,
)

CHART_WIDTH, CHART_HEIGHT = 260, 70
STATUS_COLORS = {"ok": COLORS["better"], "warn": "#9a6700", "fail": COLORS["fail"], "insufficient": "#d0d7de"}


def _when(iso: str) -> str:
    return str(iso).replace("T", " ")[:16]


def small_multiple_svg(row: TrendRow, starts: list[str]) -> str:
    """A small bar chart of one trend row: a bar per window on the row's own scale (zero at the bottom),
    red where the window was flagged, a grey tick where it has no value."""
    width, height, top, bottom = CHART_WIDTH, CHART_HEIGHT, 20, 6
    count = max(1, len(row.values))
    step = width / count
    present = [v for v in row.values if v is not None]
    high = max([*present, 0.0])
    low = min([*present, 0.0])
    span = (high - low) or 1.0
    plot = height - top - bottom
    title = f"{row.label}: latest {row.latest_text}" + (
        f", highest {fmt_num(row.highest)}" if row.kind == "counter" else ""
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="11">',
        f"<title>{xml_escape(one_line(title, 200))}</title>",
        f'<text x="0" y="12" fill="#1f2328" font-weight="600">{xml_escape(one_line(row.label, 40))}</text>',
        f'<text x="{width}" y="12" text-anchor="end" fill="#57606a">{xml_escape(row.latest_text)}</text>',
        f'<line x1="0" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" stroke="#8c959f" stroke-width="1"/>',
    ]
    for index, (value, flagged) in enumerate(zip(row.values, row.flagged, strict=True)):
        x = round(index * step + step * 0.1, 1)
        bar_width = round(max(step * 0.8, 1.0), 1)
        when = _when(starts[index]) if index < len(starts) else ""
        if value is None:
            tip = f"{when}: no value"
            out.append(
                f'<rect x="{x}" y="{height - bottom - 1}" width="{bar_width}" height="1" fill="#d0d7de">'
                f"<title>{xml_escape(tip)}</title></rect>"
            )
            continue
        bar = max(round((value - low) / span * plot, 1), 1.0)
        color = COLORS["fail"] if flagged else COLORS["value"]
        score = row.scores[index] if row.scores else value
        tested = bool(row.tested) and row.tested[index]
        tip = f"{when}: {'p ' if tested else ''}{fmt_num(score)}" + (" (flagged)" if flagged else "")
        out.append(
            f'<rect x="{x}" y="{round(height - bottom - bar, 1)}" width="{bar_width}" height="{bar}" '
            f'fill="{color}"><title>{xml_escape(one_line(tip, 120))}</title></rect>'
        )
    out.append("</svg>")
    return "".join(out)


def status_strip_svg(windows: list[dict[str, Any]]) -> str:
    """One coloured cell per window of the trend by its status (green ok, yellow warn, red fail, grey few
    rows)."""
    count = max(1, len(windows))
    width, height = max(CHART_WIDTH, min(12 * count, 900)), 22
    step = width / count
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="strip" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        "<title>window status, oldest first</title>",
    ]
    for index, window in enumerate(windows):
        status = str(window.get("status"))
        color = STATUS_COLORS.get(status, "#d0d7de")
        tip = f"{_when(window.get('start', ''))}: {status}, {window.get('rows', '?')} rows"
        out.append(
            f'<rect x="{round(index * step, 1)}" y="0" width="{round(max(step - 1, 1.0), 1)}" height="{height}" '
            f'fill="{color}"><title>{xml_escape(one_line(tip, 120))}</title></rect>'
        )
    out.append("</svg>")
    return "".join(out)


def render_monitor_html(document: dict[str, Any]) -> str:
    """The self-contained HTML page of a monitor run."""
    from markupsafe import Markup

    from mlops_actions.render.html import environment

    windows = trend_windows(document)
    starts = [str(w["start"]) for w in windows]
    rows = trend_rows(document)
    table = []
    for window in document["windows"]:
        statuses = {f["check"]: f["status"] for f in window["findings"]}
        table.append(
            {
                "when": _when(window["start"]),
                "rows": window["rows"],
                "status": window["status"],
                "cells": [
                    (statuses.get(c, ""), STATUS_MARKS.get(statuses.get(c, ""), "—")) for c in CHECK_TITLES
                ],
            }
        )
    problems = [
        {
            "when": _when(window["start"]),
            "rows": window["rows"],
            "entries": [
                (CHECK_TITLES.get(f["check"], f["check"]), f["status"], problem)
                for f in window["findings"]
                if f["status"] in ("fail", "warn")
                for problem in f["problems"]
            ],
        }
        for window in document["windows"]
        if window["status"] in ("fail", "warn")
    ]
    context = {
        "d": document,
        "verdict": verdict(document),
        "failed": document["status"] == "fail",
        "checks": list(CHECK_TITLES.values()),
        "table": table,
        "problems": problems,
        "trend": len(windows) >= 2,
        "trend_from": _when(starts[0]) if starts else "",
        "trend_to": _when(starts[-1]) if starts else "",
        "trend_count": len(windows),
        "status_strip": Markup(status_strip_svg(windows)),
        "drift_charts": [Markup(small_multiple_svg(r, starts)) for r in rows if r.kind == "drift"],
        "counter_charts": [Markup(small_multiple_svg(r, starts)) for r in rows if r.kind == "counter"],
    }
    return environment().get_template("monitor.html.j2").render(context)
