"""The texts of the monitor's alerts: the issue's title, body and comments, the retrain reason, and the lines
``monitor --alert`` / ``--dispatch-retrain`` print about what they did.

They read the monitor's JSON form and the plain forms (``to_dict``) of the alert outcomes; failing items are
``check`` or ``check:column`` strings. Column names come from the logs, so they are escaped in Markdown and
stripped of control characters in the one-line reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from mlops_actions.render.format import escape_md
from mlops_actions.render.monitor import CHECK_TITLES, render_monitor_markdown

MAX_BODY_CHARS = 60000  # GitHub keeps at most 65536 characters in an issue body
MAX_TITLE_CHARS = 250  # GitLab: 255
COLUMNS_SHOWN = 5
CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _when(iso: str) -> str:
    return iso.replace("T", " ")[:16]


def _grouped(failing: Sequence[str]) -> dict[str, list[str]]:
    """``check`` -> its columns (empty for a check about the outputs as a whole), in check order."""
    groups: dict[str, list[str]] = {}
    for item in failing:
        check, _, column = item.partition(":")
        groups.setdefault(check, [])
        if column:
            groups[check].append(column)
    order = list(CHECK_TITLES)
    return dict(sorted(groups.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))


def describe_failing(failing: Sequence[str], *, markdown: bool = True) -> str:
    """``input drift (income, age), stability``: the failing checks with their columns."""
    parts = []
    for check, columns in _grouped(failing).items():
        title = CHECK_TITLES.get(check, check)
        if columns:
            shown = columns[:COLUMNS_SHOWN]
            more = f", +{len(columns) - len(shown)} more" if len(columns) > len(shown) else ""
            names = ", ".join(escape_md(c) if markdown else CONTROL.sub(" ", c) for c in shown)
            parts.append(f"{title} ({names}{more})")
        else:
            parts.append(title)
    return ", ".join(parts) or "none"


def issue_title(model: str, failing: Sequence[str], retrain: Mapping[str, Any] | None) -> str:
    """``churn: monitor fails (stability, input drift)``; a retrain alone: ``churn: retrain dispatched``."""
    checks = ", ".join(CHECK_TITLES.get(c, c) for c in _grouped(failing))
    if checks:
        return f"{model}: monitor fails ({checks})"[:MAX_TITLE_CHARS]
    breach = ", ".join(
        CHECK_TITLES.get(c, c) for c in _grouped((retrain or {}).get("decision", {}).get("failing", []))
    )
    return f"{model}: retrain dispatched ({breach or 'repeated breaches'})"[:MAX_TITLE_CHARS]


def _retrain_line(retrain: Mapping[str, Any] | None) -> str:
    if not retrain or retrain["action"] == "not-due":
        return ""
    decision = retrain["decision"]
    if retrain["action"] == "already":
        return f"Retrain: already dispatched for this breach ({decision['breaches']} windows so far)."
    if retrain["action"] == "failed":
        return (
            f"Retrain dispatch failed: {escape_md(retrain['error'])}. It is not repeated for this breach "
            "(its answer may have been lost); start the retrain by hand if it did not run."
        )
    sent = retrain["dispatch"] or {}
    where = f" ({escape_md(sent['location'])})" if sent.get("location") else ""
    return f"Retrain dispatched: `{escape_md(sent.get('target', ''))}` on `{escape_md(sent.get('ref', ''))}`{where}."


def issue_body(
    document: Mapping[str, Any],
    state_line: str,
    failing: Sequence[str],
    severity: str,
    retrain: Mapping[str, Any] | None,
) -> str:
    """The issue's body, replaced on each run: the hidden state, what fails, then the monitor's report."""
    head = [
        state_line,
        f"**Severity: {severity}.** Failing: {describe_failing(failing)}.",
        "",
        "This issue follows the scheduled monitor: its body is replaced on each run, a comment says when "
        "the failing checks change, and it is closed when they pass again.",
    ]
    line = _retrain_line(retrain)
    if line:
        head += ["", line]
    report = render_monitor_markdown(dict(document))
    text = "\n".join([*head, "", report])
    if len(text) > MAX_BODY_CHARS:
        cut = "\n\n… (the report is cut here; the job's monitor.md holds all of it)\n"
        text = text[: MAX_BODY_CHARS - len(cut)] + cut
    return text


def change_comment(
    document: Mapping[str, Any],
    before: Sequence[str] | None,
    after: Sequence[str],
    retrain: Mapping[str, Any] | None = None,
) -> str:
    """The comment posted when the failing checks and columns change, or a retrain is dispatched."""
    from mlops_actions.render.monitor import verdict

    now = set(after)
    was = set(before or ())
    lines = [f"The monitor's state changed: {escape_md(verdict(dict(document)))}", ""]
    if before is None:
        lines.append(f"- failing now: {describe_failing(sorted(now))}")
    else:
        if now - was:
            lines.append(f"- newly failing: {describe_failing(sorted(now - was))}")
        if was - now:
            lines.append(f"- passing again: {describe_failing(sorted(was - now))}")
    if retrain and retrain["action"] in ("dispatched", "failed"):
        lines.append(f"- {_retrain_line(retrain)}")
    return "\n".join(lines) + "\n"


def recovered_comment(document: Mapping[str, Any]) -> str:
    """The comment the issue is closed with."""
    from mlops_actions.render.monitor import verdict

    return f"Recovered: {escape_md(verdict(dict(document)))}. Closing; a new failure opens a new issue.\n"


def retrain_reason(model: str, decision: Mapping[str, Any]) -> str:
    """One line for the retrain workflow's ``reason`` input: the checks, columns and windows."""
    windows = decision["windows"]
    span = f", {_when(windows[0]['start'])} to {_when(windows[-1]['end'])} UTC" if windows else ""
    return (
        f"{CONTROL.sub(' ', model)}: {describe_failing(decision['failing'], markdown=False)} at "
        f"{decision['level']} or worse for {decision['breaches']} consecutive "
        f"window{'' if decision['breaches'] == 1 else 's'} "
        f"(threshold {decision['after_windows']}){span}"
    )


def outcome_lines(outcome: Mapping[str, Any]) -> list[str]:
    """What the alert did, one line each (for stderr): the issue, then the retrain."""
    lines = []
    issue = outcome.get("issue") or {}
    where = f" {issue.get('url')}" if issue.get("url") else ""
    action = outcome["action"]
    if action in ("opened", "updated"):
        commented = ", state change commented" if outcome.get("commented") else ""
        lines.append(
            f"monitor issue {action}{where} (severity {outcome['severity']}{commented}): "
            f"{describe_failing(outcome['failing'], markdown=False)}"
        )
    elif action == "closed":
        lines.append(f"monitor issue closed{where}: the checks pass again")
    elif action == "kept":
        lines.append(f"monitor issue left as it is{where}: no window had enough rows to judge")
    else:
        lines.append("monitor issue: none open, and no check fails")
    retrain = outcome.get("retrain")
    if retrain:
        decision = retrain["decision"]
        if retrain["action"] == "dispatched":
            sent = retrain["dispatch"]
            lines.append(
                f"retrain dispatched: {sent['target']} on {sent['ref']} ({sent['location']}): {decision['reason']}"
            )
        elif retrain["action"] == "failed":
            lines.append(f"retrain dispatch failed (not repeated for this breach): {retrain['error']}")
        elif retrain["action"] == "already":
            lines.append(f"retrain: already dispatched for this breach ({decision['breaches']} windows)")
        else:
            lines.append(
                f"retrain: not due ({decision['breaches']} of {decision['after_windows']} consecutive windows breach)"
            )
    return lines
