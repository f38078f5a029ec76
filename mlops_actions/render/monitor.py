"""The monitor's report: a one-line verdict first, then a table of windows and the problems of each.

It reads only the monitor's JSON form (``monitor.json``); every value that came from the logs (column names,
categories) is escaped, since logs hold what clients sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mlops_actions.render.format import escape_md, fmt_num

CHECK_TITLES = {
    "stability": "stability",
    "schema": "schema",
    "range": "range",
    "input_drift": "input drift",
    "prediction_drift": "prediction drift",
    "performance": "performance",
}
STATUS_MARKS = {"ok": "✅ ok", "warn": "⚠️ warn", "fail": "❌ fail", "insufficient": "· few rows"}
VERDICT_PROBLEMS = 3


def _when(iso: str) -> str:
    """``2026-11-30T14:00:00Z`` as ``2026-11-30 14:00``."""
    return iso.replace("T", " ")[:16]


def _label(document: dict[str, Any]) -> str:
    version = document.get("model_version")
    return f"{document['model']} v{version}" if version else str(document["model"])


def verdict(document: dict[str, Any]) -> str:
    """One line: how many windows fail and the first problems, with the window each was seen in."""
    windows = document["windows"]
    label = _label(document)
    failing = [w for w in windows if w["status"] == "fail"]
    if not failing:
        notes = []
        for status, word in (("warn", "with warnings"), ("insufficient", "with too few rows")):
            count = sum(1 for w in windows if w["status"] == status)
            if count:
                notes.append(f"{count} {word}")
        tail = f" ({', '.join(notes)})" if notes else ""
        return f"{label}: no check fails in {len(windows)} {document['window']} window(s){tail}"
    problems = []
    for window in failing:
        for finding in window["findings"]:
            if finding["status"] == "fail":
                problems += [f"{p} ({_when(window['start'])})" for p in finding["problems"]]
    shown = ", ".join(problems[:VERDICT_PROBLEMS])
    more = f", and {len(problems) - VERDICT_PROBLEMS} more" if len(problems) > VERDICT_PROBLEMS else ""
    return f"{label}: {len(failing)} of {len(windows)} windows fail: {shown}{more}"


def shown_checks(document: dict[str, Any]) -> list[str]:
    """The checks of the window table: performance only when some window has its finding."""
    judged = {f["check"] for w in document["windows"] for f in w["findings"]}
    return [c for c in CHECK_TITLES if c != "performance" or c in judged]


def performance_lines(document: dict[str, Any]) -> list[str]:
    """What the performance check rests on, and the last window's metrics against release (with the
    estimate's assumptions and calibration when estimated)."""
    basis = document.get("performance_basis")
    if not basis:
        return []
    lines = [f"- performance: {escape_md(basis)}"]
    found = [f for w in document["windows"] for f in w["findings"] if f["check"] == "performance"]
    last = next((f for f in reversed(found) if f["figures"].get("metrics")), None)
    if last is None:
        return lines
    figures = last["figures"]
    for name, m in figures["metrics"].items():
        if m.get("value") is None:
            continue
        text = f"{m['value']:.3f}"
        if m.get("low") is not None and m.get("high") is not None:
            text += f" (95% {m['low']:.3f} to {m['high']:.3f})"
        if m.get("release") is not None:
            text += f", release {m['release']:.3f}, change {m['change']:+.3f}"
        lines.append(f"  - {figures['mode']} {escape_md(name)} (last window): {text}")
    if figures["mode"] == "estimated":
        calibration = figures["calibration"]
        ece = calibration["ece"]
        verdict = "trusted" if calibration["trusted"] else "not trusted"
        lines.append(
            f"  - estimate {verdict}: eval-set calibration error "
            + (f"{ece:.3f}" if ece is not None else "unknown")
            + f" on {calibration['eval_rows']} rows; assumes "
            + "; ".join(escape_md(a) for a in figures["assumptions"])
        )
    return lines


def render_monitor_markdown(document: dict[str, Any]) -> str:
    """The Markdown report of a monitor run."""
    lines = [f"**{escape_md(verdict(document))}**", "", "## Windows", ""]
    shown = shown_checks(document)
    header = ["window (UTC)", "rows", *(CHECK_TITLES[check] for check in shown)]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for window in document["windows"]:
        statuses = {f["check"]: f["status"] for f in window["findings"]}
        cells = [_when(window["start"]), str(window["rows"])]
        cells += [STATUS_MARKS.get(statuses.get(check, ""), "—") for check in shown]
        lines.append("| " + " | ".join(cells) + " |")
    flagged = [w for w in document["windows"] if w["status"] in ("fail", "warn")]
    if flagged:
        lines += ["", "## Problems", ""]
        for window in flagged:
            lines.append(f"**{_when(window['start'])}** ({window['rows']} rows)")
            lines.append("")
            for finding in window["findings"]:
                if finding["status"] in ("fail", "warn"):
                    for problem in finding["problems"]:
                        title = CHECK_TITLES.get(finding["check"], finding["check"])
                        lines.append(f"- {title} ({finding['status']}): {escape_md(problem)}")
            lines.append("")
    lines += trend_markdown(document)
    settings = document.get("settings", {})
    drift = settings.get("drift_thresholds", {})
    lines += [
        "",
        "## What was compared",
        "",
        f"- reference: {escape_md(document['reference'])}",
        f"- prediction drift against: {escape_md(document['prediction_drift_reference'])}",
        *performance_lines(document),
        f"- logs: {len(document['files'])} file(s), {document['rows_read']} rows"
        + (
            f", {document['rows_before_since']} before {escape_md(document['since'])}"
            if document["since"]
            else ""
        )
        + (
            f", {document['partial_lines']} unfinished last line(s) left out"
            if document["partial_lines"]
            else ""
        ),
        "- thresholds: "
        + ", ".join(f"{k} {v:g}" for k, v in settings.items() if isinstance(v, (int, float)))
        + "; drift: "
        + ", ".join(f"{k} {v:g}" for k, v in drift.items()),
    ]
    return "\n".join(lines) + "\n"


# -- the trend: drift and stability over the windows kept with the version ------------------------------

TREND_WINDOWS = 48  # the newest windows the trend shows
SPARK_BARS = "▁▂▃▄▅▆▇█"
SPARK_MISSING = "·"  # a window without a value
MARK_FLAGGED, MARK_CLEAR = "!", "."
STATUS_GLYPHS = {"ok": "✓", "warn": "w", "fail": "✗", "insufficient": "·"}
STABILITY_COUNTERS = {
    "nonfinite_share": "NaN / infinite outputs (share)",
    "outside_unit_rows": "probabilities outside [0, 1] (rows)",
    "sum_off_rows": "probabilities not summing to 1 (rows)",
}
OUT_OF_RANGE = "out_of_range:"
OUTPUT = "output:"


@dataclass(frozen=True)
class TrendRow:
    """One line of the trend: per window (None: no value) a column's drift or a counter as drawn (higher
    means more change: a distance as it is, a test's p-value as 1 - p), the score as the check gave it, whether
    it was a p-value, and whether the window was flagged (drifted, or the counter's check failed)."""

    kind: str  # "drift" | "counter"
    name: str
    label: str
    values: tuple[float | None, ...]
    flagged: tuple[bool, ...]
    scores: tuple[float | None, ...] = ()
    tested: tuple[bool, ...] = ()

    def _latest_index(self) -> int | None:
        return next((i for i in reversed(range(len(self.values))) if self.values[i] is not None), None)

    @property
    def latest(self) -> float | None:
        """The newest score (the counter, or the drift score as the check gave it)."""
        index = self._latest_index()
        return None if index is None else (self.scores or self.values)[index]

    @property
    def latest_text(self) -> str:
        index = self._latest_index()
        tested = index is not None and bool(self.tested) and self.tested[index]
        return ("p " if tested else "") + fmt_num(self.latest)

    @property
    def highest(self) -> float | None:
        present = [v for v in self.values if v is not None]
        return max(present) if present else None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def trend_windows(document: dict[str, Any], last: int = TREND_WINDOWS) -> list[dict[str, Any]]:
    """The newest ``last`` window states of the document's history, oldest first ([] without one)."""
    history = document.get("history")
    if not isinstance(history, list):
        return []
    states = [s for s in history if isinstance(s, dict) and isinstance(s.get("start"), str)]
    return sorted(states, key=lambda s: s["start"])[-last:]


def trend_rows(document: dict[str, Any], last: int = TREND_WINDOWS) -> list[TrendRow]:
    """The trend's rows: each input feature's drift score, each output's, then the stability counters and
    the out-of-range shares of the columns that had any."""
    windows = trend_windows(document, last)
    threshold = _number(document.get("settings", {}).get("out_of_range_share")) or 0.0

    def series(field: str, name: str, check: str | None = None) -> tuple[float | None, ...]:
        """The values of ``name`` per window; a counter that is absent where its ``check`` ran is zero
        (the stored states leave zero counters out)."""
        values = []
        for w in windows:
            value = _number(dict(w.get(field) or {}).get(name))
            ran = check is not None and dict(w.get("checks") or {}).get(check) not in (None, "insufficient")
            values.append(0.0 if value is None and ran else value)
        return tuple(values)

    def failed(window: dict[str, Any], check: str) -> bool:
        return dict(window.get("checks") or {}).get(check) == "fail"

    drifting = sorted({str(n) for w in windows for n in dict(w.get("drift") or {})})
    drifted_in = {n: tuple(n in (w.get("drifted") or ()) for w in windows) for n in drifting}
    inputs = [n for n in drifting if not n.startswith(OUTPUT)]
    outputs = [n for n in drifting if n.startswith(OUTPUT)]
    rows = []
    for name in [*sorted(inputs, key=lambda n: (-sum(drifted_in[n]), n)), *outputs]:
        label = f"{name[len(OUTPUT) :]} (output)" if name.startswith(OUTPUT) else name
        scores = series("drift", name)
        tested = tuple(name in (w.get("tested") or ()) for w in windows)
        drawn = tuple(
            None if v is None else max(0.0, 1.0 - v) if t else v for v, t in zip(scores, tested, strict=True)
        )
        rows.append(TrendRow("drift", name, label, drawn, drifted_in[name], scores, tested))
    counters = {str(n) for w in windows for n in dict(w.get("counters") or {})}
    ran_stability = any("stability" in dict(w.get("checks") or {}) for w in windows)
    for name, label in STABILITY_COUNTERS.items():
        if name in counters or (ran_stability and name == "nonfinite_share"):
            values = series("counters", name, "stability")
            flagged = tuple(failed(w, "stability") and bool(v) for w, v in zip(windows, values, strict=True))
            rows.append(TrendRow("counter", name, label, values, flagged))
    for name in sorted(n for n in counters if n.startswith(OUT_OF_RANGE)):
        values = series("counters", name, "range")
        if not any(values):
            continue
        flagged = tuple(
            failed(w, "range") and (v or 0.0) > threshold for w, v in zip(windows, values, strict=True)
        )
        rows.append(TrendRow("counter", name, f"out of range: {name[len(OUT_OF_RANGE) :]}", values, flagged))
    return rows


def sparkline(values: tuple[float | None, ...]) -> str:
    """One character per window: a bar from ▁ (zero) to █ (the row's highest), · where there is no value."""
    present = [v for v in values if v is not None]
    high = max(present, default=0.0)
    low = min(0.0, *present) if present else 0.0
    span = high - low
    bars = []
    for value in values:
        if value is None:
            bars.append(SPARK_MISSING)
        elif span <= 0:
            bars.append(SPARK_BARS[0])
        else:
            bars.append(SPARK_BARS[min(len(SPARK_BARS) - 1, int((value - low) / span * len(SPARK_BARS)))])
    return "".join(bars)


def flag_marks(flagged: tuple[bool, ...]) -> str:
    """``!`` under each flagged window, ``.`` under the others."""
    return "".join(MARK_FLAGGED if f else MARK_CLEAR for f in flagged)


def _spark_cell(row: TrendRow) -> str:
    return f"`{sparkline(row.values)}`<br>`{flag_marks(row.flagged)}`"


def trend_markdown(document: dict[str, Any], last: int = TREND_WINDOWS) -> list[str]:
    """The report's trend section as lines ([] when the history holds fewer than two windows)."""
    windows = trend_windows(document, last)
    if len(windows) < 2:
        return []
    rows = trend_rows(document, last)
    this_run = {w["start"] for w in document.get("windows", [])}
    earlier = sum(1 for w in windows if w["start"] not in this_run)
    lines = [
        "",
        "## Trend",
        "",
        f"The last {len(windows)} {escape_md(document.get('window', ''))} windows, oldest first "
        f"({_when(windows[0]['start'])} to {_when(windows[-1]['start'])} UTC"
        + (f"; {earlier} of them from earlier runs" if earlier else "")
        + "). Each line is scaled to its own highest value (▁ zero, █ highest, · no value); under it `!` marks "
        "the windows where the column drifted or the counter's check failed. A drift bar is the check's "
        "distance (PSI or Jensen-Shannon), or 1 − p for a window judged by a test (at most `small_sample` "
        "rows), so a taller bar always means more change; the latest score is the check's own (p: a p-value).",
        "",
        f"Window status: `{''.join(STATUS_GLYPHS.get(str(w.get('status')), '?') for w in windows)}` "
        "(✓ ok, w warn, ✗ fail, · too few rows)",
        "",
    ]
    drift = [r for r in rows if r.kind == "drift"]
    if drift:
        lines += ["| column | drift by window | latest score | drifted |", "|---|---|---|---|"]
        for row in drift:
            lines.append(
                f"| {escape_md(row.label)} | {_spark_cell(row)} | {row.latest_text} | "
                f"{sum(row.flagged)} of {len(row.flagged)} |"
            )
        lines.append("")
    counters = [r for r in rows if r.kind == "counter"]
    if counters:
        lines += ["| stability and range | by window | latest | highest | failed |", "|---|---|---|---|---|"]
        for row in counters:
            lines.append(
                f"| {escape_md(row.label)} | {_spark_cell(row)} | {fmt_num(row.latest)} | "
                f"{fmt_num(row.highest)} | {sum(row.flagged)} of {len(row.flagged)} |"
            )
        lines.append("")
    return lines[:-1] if lines[-1] == "" else lines
