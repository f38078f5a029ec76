"""The monitor's alerts: one issue per model that follows the monitor's verdict, and the retrain dispatch.

The issue (key ``monitor:<model>``) is opened when a check fails, its body replaced by the report on every
run, a comment posted only when the state changes (the set of failing checks and columns), and it is
closed with a comment when the judged windows pass again; a run whose windows all had too few rows leaves
it as it is. The body carries that state on a hidden line, with the breach a retrain was last dispatched
for, so that a re-run compares with it and never dispatches twice for one breach.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mlops_actions.domain.config import Config, alert_settings, retrain_settings
from mlops_actions.domain.secrets import scrub
from mlops_actions.errors import ConfigError, ForgeError
from mlops_actions.monitoring.result import CHECKS, FAIL, INSUFFICIENT, SEVERITY, worst
from mlops_actions.monitoring.state import WindowState, consecutive_breaches
from mlops_actions.platforms.base import Dispatch, Issue, Platform

STATE_PREFIX = "<!-- mlops-actions:monitor-state "
STATE_LINE = re.compile(r"^<!-- mlops-actions:monitor-state (\{.*\}) -->$", re.MULTILINE)
BASE_LABEL = "mlops"
SEVERITY_ORDER = ("low", "medium", "high")
MAX_REASON_CHARS = 1000


def issue_key(model: str) -> str:
    """The key of the monitor's issue of ``model``."""
    return f"monitor:{model}"


@dataclass(frozen=True)
class AlertState:
    """What the issue's hidden line keeps between runs: the failing checks and columns (``check`` or
    ``check:column``), the severity, and the start of the newest window a retrain was dispatched at."""

    failing: tuple[str, ...] = ()
    severity: str = "low"
    retrain_window: str | None = None

    def to_line(self) -> str:
        """The hidden line (``>`` escaped, so no column name can end the HTML comment)."""
        data = {"failing": list(self.failing), "severity": self.severity, "retrain": self.retrain_window}
        text = json.dumps(data, sort_keys=True, ensure_ascii=True).replace(">", "\\u003e")
        return f"{STATE_PREFIX}{text} -->"

    @classmethod
    def from_body(cls, body: str) -> AlertState | None:
        """The state an issue body carries; None when it has none (or someone broke it)."""
        found = STATE_LINE.search(body)
        if not found:
            return None
        try:
            data = json.loads(found.group(1))
            failing = tuple(str(item) for item in data.get("failing", []))
            retrain = data.get("retrain")
            return cls(failing, str(data.get("severity", "low")), None if retrain is None else str(retrain))
        except (ValueError, TypeError, AttributeError):
            return None


@dataclass(frozen=True)
class RetrainDecision:
    """Whether the newest windows breach ``checks`` at ``level`` for ``after_windows`` in a row; ``windows``
    are the breaching windows (oldest first), ``failing`` their checks and columns, ``reason`` one line."""

    dispatch: bool
    breaches: int
    after_windows: int
    checks: tuple[str, ...]
    level: str
    windows: tuple[WindowState, ...] = ()
    failing: tuple[str, ...] = ()
    reason: str = ""

    @property
    def breach_start(self) -> str | None:
        """The start of the breach's first window: what makes two runs' breaches the same one."""
        return self.windows[0].start if self.windows else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dispatch": self.dispatch,
            "breaches": self.breaches,
            "after_windows": self.after_windows,
            "checks": list(self.checks),
            "level": self.level,
            "windows": [{"start": w.start, "end": w.end} for w in self.windows],
            "failing": list(self.failing),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RetrainOutcome:
    """What ``dispatch_retrain`` did: ``dispatched``, ``already`` (this breach was dispatched before),
    ``not-due``, or ``failed`` (refused, or its answer lost: ``error`` says which; counted as dispatched,
    so that a lost answer never starts a second run)."""

    action: str
    decision: RetrainDecision
    dispatch: Dispatch | None = None
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        sent = self.dispatch
        return {
            "action": self.action,
            "error": self.error,
            "decision": self.decision.to_dict(),
            "dispatch": None
            if sent is None
            else {
                "target": sent.target,
                "ref": sent.ref,
                "inputs": dict(sent.inputs),
                "location": sent.location,
            },
        }


@dataclass(frozen=True)
class IssueOutcome:
    """What ``sync_monitor_issue`` did to the issue of ``key``: ``opened``, ``updated``, ``closed``,
    ``kept`` (too few rows to judge: left as it is) or ``none`` (healthy and no issue open)."""

    action: str
    key: str
    issue: Issue | None = None
    failing: tuple[str, ...] = ()
    severity: str | None = None
    commented: bool = False
    labels: tuple[str, ...] = ()
    retrain: RetrainOutcome | None = None

    def to_dict(self) -> dict[str, Any]:
        issue = self.issue
        return {
            "action": self.action,
            "key": self.key,
            "issue": None
            if issue is None
            else {"number": issue.number, "url": issue.url, "state": issue.state, "title": issue.title},
            "failing": list(self.failing),
            "severity": self.severity,
            "commented": self.commented,
            "labels": list(self.labels),
            "retrain": None if self.retrain is None else self.retrain.to_dict(),
        }


# -- what fails ---------------------------------------------------------------------------------------


def _failing_columns(finding: Mapping[str, Any]) -> list[str]:
    """The columns a failing finding names (empty for checks about the outputs as a whole)."""
    check, figures, thresholds = finding["check"], finding.get("figures", {}), finding.get("thresholds", {})
    if check in ("input_drift", "prediction_drift"):
        return [str(c) for c in figures.get("drifted", [])]
    if check == "range":
        limit = float(thresholds.get("out_of_range_share", 0.0))
        return [str(n) for n, c in figures.get("columns", {}).items() if float(c.get("share", 0)) > limit]
    if check == "schema":
        columns = [*figures.get("missing_columns", []), *figures.get("wrong_types", {})]
        unseen_limit = float(thresholds.get("unseen_category_share", 0.0))
        columns += [n for n, c in figures.get("unseen_categories", {}).items() if c["share"] > unseen_limit]
        null_limit = float(thresholds.get("null_share_increase", 0.0))
        columns += [
            n
            for n, c in figures.get("null_shares", {}).items()
            if c["share"] - c.get("trained_share", 0.0) > null_limit
        ]
        return [str(c) for c in dict.fromkeys(columns)]
    return []


def failing_items(document: Mapping[str, Any]) -> tuple[str, ...]:
    """The failing checks and columns of a monitor document, over every window: ``check`` or
    ``check:column``, sorted."""
    items: set[str] = set()
    for window in document.get("windows", []):
        for finding in window.get("findings", []):
            if finding.get("status") != FAIL:
                continue
            items.update(_items(finding["check"], _failing_columns(finding)))
    return tuple(sorted(items))


def _items(check: str, columns: Sequence[str]) -> list[str]:
    """``check:column`` for each column; ``check`` alone when there are none."""
    return [f"{check}:{c}" for c in columns] if columns else [check]


def judged_status(document: Mapping[str, Any]) -> str:
    """The worst status of the windows that had enough rows to judge; ``insufficient`` when none had."""
    judged = [w["status"] for w in document.get("windows", []) if w.get("status") != INSUFFICIENT]
    return worst(judged) if judged else INSUFFICIENT


def severity_of(failing: Sequence[str], severities: Mapping[str, str]) -> str:
    """The highest severity of the failing checks (``monitor.alert.severity``; a check not named is low)."""
    levels = [severities.get(item.split(":", 1)[0], "low") for item in failing]
    return max(levels, key=SEVERITY_ORDER.index, default="low")


def issue_labels(model: str, severity: str, extra: Sequence[str]) -> tuple[str, ...]:
    """``mlops``, the model's name, ``severity:<level>`` and the configured labels."""
    return tuple(dict.fromkeys([BASE_LABEL, model, f"severity:{severity}", *extra]))


# -- retraining ----------------------------------------------------------------------------------------


def _breaching_windows(states: Sequence[WindowState], checks: Sequence[str], count: int) -> list[WindowState]:
    """The newest ``count`` windows that were judged on ``checks`` (the ones consecutive_breaches counted)."""
    judged = [s for s in states if any(s.checks.get(c) not in (None, INSUFFICIENT) for c in checks)]
    return judged[len(judged) - count :] if count else []


def _breach_items(windows: Sequence[WindowState], checks: Sequence[str], level: str) -> tuple[str, ...]:
    items: set[str] = set()
    for state in windows:
        for check in checks:
            status = state.checks.get(check)
            if status is None or SEVERITY[status] < SEVERITY[level] or status == INSUFFICIENT:
                continue
            if check == "input_drift":
                columns = [c for c in state.drifted if not c.startswith("output:")]
            elif check == "prediction_drift":
                columns = [c.removeprefix("output:") for c in state.drifted if c.startswith("output:")]
            else:
                columns = []
            items.update(_items(check, columns))
    return tuple(sorted(items))


def retrain_decision(config: Config, states: Sequence[WindowState]) -> RetrainDecision:
    """Whether the newest ``monitor.retrain.after_windows`` windows in a row breach the configured checks at
    the configured level (``states`` oldest first); the reason names the checks, columns and windows."""
    from mlops_actions.render.monitor_alert import retrain_reason

    settings = retrain_settings(config.raw)
    unknown = [c for c in settings.checks if c not in CHECKS]
    if unknown:
        raise ConfigError(
            f"monitor.retrain.checks: unknown check {unknown[0]!r}, expected one of {', '.join(CHECKS)}"
        )
    breaches = consecutive_breaches(states, settings.checks, settings.level)
    windows = tuple(_breaching_windows(states, settings.checks, breaches))
    failing = _breach_items(windows, settings.checks, settings.level)
    due = breaches >= settings.after_windows
    decision = RetrainDecision(
        due, breaches, settings.after_windows, settings.checks, settings.level, windows, failing
    )
    if not due:
        return decision
    return replace(decision, reason=retrain_reason(config.model_name, decision.to_dict())[:MAX_REASON_CHARS])


def dispatch_retrain(
    platform: Platform, config: Config, decision: RetrainDecision, *, dispatched_at: str | None = None
) -> RetrainOutcome:
    """Start ``monitor.retrain.workflow`` on ``monitor.retrain.ref`` with the reason, when the decision says
    so and the breach was not dispatched already (``dispatched_at``: the window the last dispatch was at;
    the same breach when it lies within this breach's windows)."""
    if not decision.dispatch:
        return RetrainOutcome("not-due", decision)
    start = decision.breach_start
    if dispatched_at is not None and start is not None and dispatched_at >= start:
        return RetrainOutcome("already", decision)
    settings = retrain_settings(config.raw)
    try:
        sent = platform.dispatch(settings.workflow, ref=settings.ref, inputs={"reason": decision.reason})
    except ForgeError as error:
        return RetrainOutcome("failed", decision, error=scrub(str(error)).splitlines()[0])
    return RetrainOutcome("dispatched", decision, sent)


# -- the issue -----------------------------------------------------------------------------------------


def sync_monitor_issue(
    platform: Platform,
    config: Config,
    document: Mapping[str, Any],
    *,
    retrain: RetrainDecision | None = None,
) -> IssueOutcome:
    """Bring the monitor's issue of the model in line with ``document`` (``monitor.json``): open or update
    it while a check fails (or a retrain is dispatched, ``retrain``), close it when the judged windows pass,
    leave it when none could be judged. With ``retrain`` the dispatch happens here too, since the issue
    keeps the record that stops a second dispatch for one breach."""
    from mlops_actions.render.monitor_alert import (
        change_comment,
        issue_body,
        issue_title,
        recovered_comment,
    )

    settings = alert_settings(config.raw)
    model = str(document["model"])
    key = issue_key(model)
    existing = platform.find_issue(key)
    stored = AlertState.from_body(existing.body) if existing is not None else None
    retrained = None
    if retrain is not None:
        retrained = dispatch_retrain(
            platform, config, retrain, dispatched_at=stored.retrain_window if stored else None
        )
    status = judged_status(document)
    recorded = retrained is not None and retrained.action in ("dispatched", "failed")
    # nothing judged (and no dispatch to record): the issue stays as the last judged run left it
    if status == INSUFFICIENT and not recorded:
        return IssueOutcome("kept" if existing else "none", key, existing, retrain=retrained)
    if status == FAIL:
        failing = failing_items(document)
    else:
        failing = stored.failing if stored and status == INSUFFICIENT else ()
    kept_for_retrain = retrained is not None and retrained.action != "not-due"
    if status not in (FAIL, INSUFFICIENT) and not kept_for_retrain:
        if existing is None:
            return IssueOutcome("none", key, None, retrain=retrained)
        closed = platform.close_issue(existing, comment=recovered_comment(document))
        return IssueOutcome("closed", key, closed, retrain=retrained)
    severity = severity_of(failing, settings.severity)
    labels = issue_labels(model, severity, settings.labels)
    retrain_window = stored.retrain_window if stored else None
    if retrained is not None and recorded:
        retrain_window = retrained.decision.windows[-1].start
    state = AlertState(failing, severity, retrain_window)
    retrain_view = None if retrained is None else retrained.to_dict()
    body = issue_body(document, state.to_line(), failing, severity, retrain_view)
    title = issue_title(model, failing, retrain_view)
    commented = False
    changed = stored is None or set(stored.failing) != set(failing)
    if existing is not None and (changed or recorded):
        before = stored.failing if stored else None
        platform.comment_on_issue(existing, change_comment(document, before, failing, retrain_view))
        commented = True
    issue = platform.open_issue(key, title=title, body=body, labels=labels)
    action = "updated" if existing is not None else "opened"
    return IssueOutcome(action, key, issue, failing, severity, commented, labels, retrained)
