"""The compact state of one monitored window, as kept between monitor runs: its status per check, the drift
score of each column and the stability counters. The trend, the alert issue and the retrain decision read
these states (oldest first), never the logs again."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlops_actions.monitoring.result import FAIL, SEVERITY, MonitorResult, WindowResult, worst

P_VALUE_METHODS = ("ks", "chi2")  # drift measures whose score is a p-value


@dataclass(frozen=True)
class WindowState:
    """One window's outcome: ``checks`` maps each check to its status; ``drift`` maps a column (a feature,
    or ``output:<name>`` for an output) to its drift score; ``drifted`` lists the columns that drifted;
    ``counters`` holds the stability and range figures (``nonfinite_share``, ``outside_unit_rows``,
    ``out_of_range:<column>`` shares); ``tested`` lists the columns whose drift score is a test's p-value
    (KS or chi-squared, in small windows: lower means more change) rather than a distance."""

    start: str
    end: str
    rows: int
    status: str
    version: str | None = None
    checks: Mapping[str, str] = field(default_factory=dict)
    drift: Mapping[str, float] = field(default_factory=dict)
    drifted: tuple[str, ...] = ()
    counters: Mapping[str, float] = field(default_factory=dict)
    tested: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "rows": self.rows,
            "status": self.status,
            "version": self.version,
            "checks": dict(self.checks),
            "drift": dict(self.drift),
            "drifted": list(self.drifted),
            "counters": dict(self.counters),
            "tested": list(self.tested),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WindowState:
        return cls(
            start=str(data["start"]),
            end=str(data["end"]),
            rows=int(data["rows"]),
            status=str(data["status"]),
            version=None if data.get("version") is None else str(data["version"]),
            checks={str(k): str(v) for k, v in dict(data.get("checks", {})).items()},
            drift={str(k): float(v) for k, v in dict(data.get("drift", {})).items()},
            drifted=tuple(str(c) for c in data.get("drifted", ())),
            counters={str(k): float(v) for k, v in dict(data.get("counters", {})).items()},
            tested=tuple(str(c) for c in data.get("tested", ())),
        )


def window_state(window: WindowResult, version: str | None) -> WindowState:
    """The compact state of one judged window."""
    drift: dict[str, float] = {}
    drifted: list[str] = []
    tested: list[str] = []
    counters: dict[str, float] = {}
    for finding in window.findings:
        if finding.check in ("input_drift", "prediction_drift"):
            prefix = "output:" if finding.check == "prediction_drift" else ""
            for name, column in dict(finding.figures.get("columns", {})).items():
                drift[prefix + name] = float(column["score"])
                if column.get("drifted"):
                    drifted.append(prefix + name)
                if column.get("method") in P_VALUE_METHODS:
                    tested.append(prefix + name)
        elif finding.check == "stability":
            for key in ("nonfinite_share", "outside_unit_rows", "sum_off_rows"):
                if key in finding.figures:
                    counters[key] = float(finding.figures[key])
        elif finding.check == "range":
            for name, column in dict(finding.figures.get("columns", {})).items():
                counters[f"out_of_range:{name}"] = float(column["share"])
    return WindowState(
        start=window.start,
        end=window.end,
        rows=window.rows,
        status=window.status,
        version=version,
        checks={f.check: f.status for f in window.findings},
        drift=drift,
        drifted=tuple(drifted),
        counters=counters,
        tested=tuple(tested),
    )


def result_states(result: MonitorResult) -> list[WindowState]:
    """The states of every window of a monitor run, oldest first."""
    return [window_state(w, result.version) for w in result.windows]


def merge_states(
    stored: Iterable[WindowState], new: Iterable[WindowState], *, keep: int
) -> list[WindowState]:
    """The stored states extended by the new ones (a window seen again takes its new state), oldest first,
    the newest ``keep`` only."""
    by_start = {s.start: s for s in stored}
    by_start.update((s.start, s) for s in new)
    return [by_start[k] for k in sorted(by_start)][-keep:] if keep > 0 else []


def consecutive_breaches(states: Sequence[WindowState], checks: Iterable[str], level: str = FAIL) -> int:
    """How many of the newest windows in a row have at least ``level`` on one of ``checks`` (windows with
    too few rows neither count nor break the run)."""
    wanted = tuple(checks)
    run = 0
    for state in reversed(states):
        statuses = [state.checks.get(c) for c in wanted if c in state.checks]
        if not statuses or all(s == "insufficient" for s in statuses):
            continue
        if SEVERITY[worst(s for s in statuses if s is not None)] >= SEVERITY[level]:
            run += 1
        else:
            break
    return run
