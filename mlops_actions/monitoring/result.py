"""The monitor's typed result: per window, one finding per check, each with its status, figures and
thresholds; and its JSON form (``monitor.json``), which the renderers read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MONITOR_FORMAT = "mlops-actions/monitor"
MONITOR_VERSION = 1
OK, WARN, FAIL, INSUFFICIENT = "ok", "warn", "fail", "insufficient"
CHECKS = ("stability", "schema", "range", "input_drift", "prediction_drift", "performance")
SEVERITY = {OK: 0, INSUFFICIENT: 1, WARN: 2, FAIL: 3}


def worst(statuses: Any) -> str:
    """The most severe of some statuses (ok when there are none)."""
    return max(statuses, key=SEVERITY.__getitem__, default=OK)


@dataclass(frozen=True)
class Finding:
    """One check of one window: ``problems`` are one-line reasons (empty when ok)."""

    check: str
    status: str
    problems: tuple[str, ...] = ()
    figures: Mapping[str, Any] = field(default_factory=dict)
    thresholds: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status,
            "problems": list(self.problems),
            "figures": dict(self.figures),
            "thresholds": dict(self.thresholds),
        }


@dataclass(frozen=True)
class WindowResult:
    """One time window [start, end) and its findings."""

    start: str
    end: str
    rows: int
    findings: tuple[Finding, ...]

    @property
    def status(self) -> str:
        return worst(f.status for f in self.findings)

    def finding(self, check: str) -> Finding:
        return next(f for f in self.findings if f.check == check)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "rows": self.rows,
            "status": self.status,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class MonitorResult:
    """Every window of the logs checked against the reference."""

    model: str
    version: str | None
    reference: str  # where the reference profile came from
    window: str
    since: str | None
    files: tuple[str, ...]
    rows_read: int
    rows_before_since: int
    partial_lines: int
    prediction_drift_reference: str
    windows: tuple[WindowResult, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)
    performance_basis: str = "none"  # what the performance check rests on (labels, an estimate, or none)

    @property
    def status(self) -> str:
        return worst(w.status for w in self.windows)

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": MONITOR_FORMAT,
            "version": MONITOR_VERSION,
            "model": self.model,
            "model_version": self.version,
            "status": self.status,
            "reference": self.reference,
            "window": self.window,
            "since": self.since,
            "files": list(self.files),
            "rows_read": self.rows_read,
            "rows_before_since": self.rows_before_since,
            "partial_lines": self.partial_lines,
            "prediction_drift_reference": self.prediction_drift_reference,
            "performance_basis": self.performance_basis,
            "settings": dict(self.settings),
            "windows": [w.to_dict() for w in self.windows],
        }
