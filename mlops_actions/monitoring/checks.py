"""One window judged: numerical stability of the outputs, schema, out-of-range shares, input drift and
prediction drift, each a Finding with its status, figures and thresholds.

Drift is measured by the data checks' own comparison of profiles (``domain/data/drift.py``): inputs on the
reference's bins against the training data, outputs (their finite values) against a baseline window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops_actions.domain.config import MonitorSettings
from mlops_actions.domain.data.drift import compare_profiles
from mlops_actions.domain.data.profile import CategoricalProfile, NumericProfile, Profile
from mlops_actions.monitoring.accumulate import WindowCounts, finite_only
from mlops_actions.monitoring.columns import PREDICTION
from mlops_actions.monitoring.result import FAIL, INSUFFICIENT, OK, WARN, Finding, WindowResult

UNSEEN_EXAMPLES = 5


@dataclass(frozen=True)
class Window:
    """What a window collected: its bounds (ISO), input and output profiles, counts."""

    start: str
    end: str
    inputs: Profile
    outputs: Profile
    counts: WindowCounts


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _pct(value: float) -> str:
    return f"{value:.1%}"


def judge_window(
    window: Window,
    reference: Profile,
    settings: MonitorSettings,
    drift_thresholds: dict[str, float],
    baseline: Profile | None,
    performance: Finding | None = None,
) -> WindowResult:
    """Every check of one window (``performance``: its finding, when the check applies, from
    ``monitoring/performance.py``); a window of fewer than ``min_window_rows`` rows is insufficient."""
    findings: tuple[Finding, ...] = (
        stability(window, settings),
        schema(window, reference, settings),
        out_of_range(window, reference, settings),
        input_drift(window, reference, drift_thresholds),
        prediction_drift(window, baseline, drift_thresholds),
    )
    if performance is not None:
        findings += (performance,)
    if window.counts.rows < settings.min_window_rows:
        note = f"{window.counts.rows} rows, fewer than monitor.min_window_rows ({settings.min_window_rows})"
        findings = tuple(Finding(f.check, INSUFFICIENT, (note,), f.figures, f.thresholds) for f in findings)
    return WindowResult(window.start, window.end, window.counts.rows, findings)


def stability(window: Window, settings: MonitorSettings) -> Finding:
    """NaN, infinite or missing outputs; probabilities outside [0, 1] or not summing to 1; a constant output."""
    c = window.counts
    nonfinite = _share(c.nonfinite_rows, c.rows)
    constant, value = constant_output(window.outputs)
    constant = constant and c.rows >= settings.constant_output_rows
    problems = []
    if nonfinite > settings.nan_output_share:
        problems.append(f"{_pct(nonfinite)} NaN outputs")  # NaN, infinite or missing: figures tell which
    if c.outside_unit_rows:
        problems.append(f"{c.outside_unit_rows} rows with a probability outside [0, 1]")
    if c.sum_off_rows:
        problems.append(f"{c.sum_off_rows} rows whose probabilities do not sum to 1")
    if constant:
        problems.append(f"constant output {value} over all {c.rows} rows")
    return Finding(
        "stability",
        FAIL if problems else OK,
        tuple(problems),
        {
            "rows": c.rows,
            "nonfinite_rows": c.nonfinite_rows,
            "nonfinite_share": nonfinite,
            "infinite_rows": c.infinite_rows,
            "outside_unit_rows": c.outside_unit_rows,
            "sum_off_rows": c.sum_off_rows,
            "constant": constant,
        },
        {
            "nan_output_share": settings.nan_output_share,
            "probability_tolerance": settings.probability_tolerance,
            "constant_output_rows": settings.constant_output_rows,
        },
    )


def constant_output(outputs: Profile) -> tuple[bool, str]:
    """Whether every output took one value in the window (the probabilities if logged, else the prediction)."""
    scores = {n: c for n, c in outputs.columns.items() if n != PREDICTION} or {
        PREDICTION: outputs.columns[PREDICTION]
    }
    shown = []
    for name, column in scores.items():
        if isinstance(column, NumericProfile):
            if column.count == 0 or column.min != column.max:
                return False, ""
            shown.append(f"{name}={column.min:g}")
        elif isinstance(column, CategoricalProfile):
            if column.counts is None or len(column.counts) != 1:
                return False, ""
            shown.append(f"{name}={next(iter(column.counts))}")
        else:
            return False, ""
    return True, ", ".join(shown)


def _null_share(column: Any) -> float:
    total = column.count + column.missing + getattr(column, "infinite", 0)
    return _share(column.missing, total)


def absent_columns(window: Window) -> list[str]:
    """Features without any value in the window (not in the logs, or always missing)."""
    wrong = window.counts.wrong_type
    return [n for n, c in window.inputs.columns.items() if c.count == 0 and not wrong.get(n)]


def unseen_categories(column: Any, trained: Any) -> dict[str, int]:
    """The window's counts of categories the training data never had (none when either is not tracked)."""
    if not (isinstance(column, CategoricalProfile) and isinstance(trained, CategoricalProfile)):
        return {}
    if column.counts is None or trained.counts is None:
        return {}
    return {k: v for k, v in column.counts.items() if k not in trained.counts}


def schema(window: Window, reference: Profile, settings: MonitorSettings) -> Finding:
    """Missing and new columns, values of a wrong type, unseen categories, null shares above the training's."""
    c = window.counts
    problems: list[str] = []
    missing = absent_columns(window)
    problems += [f"column {name} has no value (absent or always missing)" for name in missing]
    wrong = {n: k for n, k in c.wrong_type.items() if k}
    problems += [
        f"{name}: {count} values ({_pct(_share(count, c.rows))}) of a wrong type"
        for name, count in wrong.items()
    ]
    unseen: dict[str, Any] = {}
    nulls: dict[str, Any] = {}
    for name, column in window.inputs.columns.items():
        trained = reference.columns[name]
        if name in missing:
            continue
        found = unseen_categories(column, trained)
        if found:
            count = sum(found.values())
            top = sorted(found, key=lambda k: -found[k])[:UNSEEN_EXAMPLES]
            unseen[name] = {"count": count, "share": _share(count, c.rows), "examples": top}
            if unseen[name]["share"] > settings.unseen_category_share:
                problems.append(f"{name}: {_pct(unseen[name]['share'])} unseen categories ({', '.join(top)})")
        before = _null_share(trained)
        now = _share(column.missing - c.wrong_type.get(name, 0), c.rows)
        if now > 0:
            nulls[name] = {"share": now, "trained_share": before}
            if now - before > settings.null_share_increase:
                problems.append(f"{name}: {_pct(now)} missing values (trained {_pct(before)})")
    new_columns = sorted(n for n, k in c.new_columns.items() if k)
    status = FAIL if problems else (WARN if new_columns else OK)
    problems += [f"new column {name} (not in the training data)" for name in new_columns]
    return Finding(
        "schema",
        status,
        tuple(problems),
        {
            "missing_columns": missing,
            "new_columns": new_columns,
            "wrong_types": wrong,
            "unseen_categories": unseen,
            "null_shares": nulls,
        },
        {
            "unseen_category_share": settings.unseen_category_share,
            "null_share_increase": settings.null_share_increase,
        },
    )


def out_of_range(window: Window, reference: Profile, settings: MonitorSettings) -> Finding:
    """The share of each numeric column outside the trained [min, max] (the range shown)."""
    c = window.counts
    columns: dict[str, Any] = {}
    problems = []
    for name, count in sorted(c.out_of_range.items()):
        trained = reference.columns[name]
        assert isinstance(trained, NumericProfile)
        share = _share(count, c.rows)
        columns[name] = {
            "count": count,
            "share": share,
            "trained_min": trained.min,
            "trained_max": trained.max,
        }
        if share > settings.out_of_range_share:
            problems.append(f"out-of-range {name} {_pct(share)} (trained {trained.min:g} to {trained.max:g})")
    return Finding(
        "range",
        FAIL if problems else OK,
        tuple(problems),
        {"columns": columns},
        {"out_of_range_share": settings.out_of_range_share},
    )


def _drift_finding(check: str, report: Any, what: str) -> Finding:
    columns = {
        d.column: {"method": d.method, "score": d.score, "threshold": d.threshold, "drifted": bool(d.drifted)}
        for d in report.columns
    }
    problems = []
    for d in report.columns:
        if d.drifted:
            sign = "<" if d.method in ("ks", "chi2") else ">="
            problems.append(f"{what}{d.column} drifted ({d.method} {d.score:.3g} {sign} {d.threshold:g})")
    return Finding(
        check,
        FAIL if problems else OK,
        tuple(problems),
        {
            "columns": columns,
            "drifted": [d.column for d in report.columns if d.drifted],
            "share": report.share,
            "skipped": report.skipped,
        },
        dict(report.thresholds),
    )


def input_drift(window: Window, reference: Profile, thresholds: dict[str, float]) -> Finding:
    """Per-feature drift against the training data (columns without any value are left to the schema check)."""
    report = compare_profiles(reference, window.inputs, thresholds=thresholds, exclude=absent_columns(window))
    return _drift_finding("input_drift", report, "")


def prediction_drift(window: Window, baseline: Profile | None, thresholds: dict[str, float]) -> Finding:
    """Drift of the finite outputs against the baseline window (None: this window is the baseline)."""
    if baseline is None:
        return Finding("prediction_drift", OK, (), {"baseline": True}, dict(thresholds))
    report = compare_profiles(finite_only(baseline), finite_only(window.outputs), thresholds=thresholds)
    return _drift_finding("prediction_drift", report, "output ")
