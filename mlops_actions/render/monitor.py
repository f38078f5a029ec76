"""The monitor's report: a one-line verdict first, then a table of windows and the problems of each.

It reads only the monitor's JSON form (``monitor.json``); every value that came from the logs (column names,
categories) is escaped, since logs hold what clients sent.
"""

from __future__ import annotations

from typing import Any

from mlops_actions.render.format import escape_md

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
