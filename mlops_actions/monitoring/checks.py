"""One window judged: numerical stability of the outputs, schema, out-of-range shares, input drift and
prediction drift, each a Finding with its status, figures and thresholds.

Drift is measured by the data checks' own comparison of profiles (``domain/data/drift.py``): inputs on the
reference's bins against the training data, outputs (their finite values) against a baseline window. The
verdict of a column judged by a test (a small sample) is gated (``gated_verdicts``), so noise is not drift.
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
        input_drift(window, reference, drift_thresholds, drift_gate(settings)),
        prediction_drift(window, baseline, drift_thresholds, drift_gate(settings)),
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


def holm_adjusted(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order): each below a level means that test rejects with the
    family-wise error rate of the whole family held at that level."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted = [1.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class DriftGate:
    """What confirms a small sample's significant test (KS or chi-squared): with ``holm``, Holm's correction
    over the tested columns of the check, at the family's ``level`` (else each test at its own
    ``ks_pvalue`` / ``chi2_pvalue``); and the least drift measure the column must also show (PSI for numbers,
    the Jensen-Shannon distance for categories; None: the large-sample threshold of that measure)."""

    holm: bool = True
    level: float = 0.01
    min_psi: float | None = None
    min_jensenshannon: float | None = None


NO_GATE = DriftGate(holm=False, min_psi=0.0, min_jensenshannon=0.0)  # the data checks' own verdict


def drift_gate(settings: MonitorSettings) -> DriftGate:
    """The gate of the ``monitor:`` section (``drift_correction``, ``drift_family_level``, ``drift_min_psi``,
    ``drift_min_jensenshannon``)."""
    return DriftGate(
        holm=settings.drift_correction == "holm",
        level=settings.drift_family_level,
        min_psi=settings.drift_min_psi,
        min_jensenshannon=settings.drift_min_jensenshannon,
    )


def noise_level(reference: Any, current: Any) -> float:
    """What sampling noise alone gives the drift measure on average when nothing changed: PSI about
    (B - 1)(1/n + 1/N) over B non-empty reference bins, the squared Jensen-Shannon distance (base 2) about
    (k - 1)(1/n + 1/N) / (8 ln 2) over k reference categories (n, N: the current and reference values)."""
    import math

    if isinstance(reference, NumericProfile):
        bins = int((reference.decile_counts() > 0).sum()) + int(reference.missing + reference.infinite > 0)
        n, big_n = current.count + current.missing + current.infinite, reference.count + reference.missing
        big_n += reference.infinite
        scale = 1.0
    else:
        bins = sum(1 for v in (reference.counts or {}).values() if v > 0) + int(reference.missing > 0)
        n, big_n = current.count + current.missing, reference.count + reference.missing
        scale = 1 / (8 * math.log(2))
    if n <= 0 or big_n <= 0:
        return 0.0
    return max(0, bins - 1) * (1 / n + 1 / big_n) * scale


def gated_verdicts(
    report: Any, thresholds: dict[str, float], gate: DriftGate, reference: Profile, current: Profile
) -> dict[str, dict[str, Any]]:
    """Column -> its figures and verdict. A column judged by a distance (a large sample) keeps the data
    checks' verdict. One judged by a test (a small sample) flags only when the test is significant after
    the family's correction and the drift measure, less what noise gives it on average at this size
    (``noise_level``), reaches the gate's minimum: one test in twenty of a healthy column is significant
    at 5%, and noise inflates a small sample's distances."""
    import math

    tested = [d for d in report.columns if d.method in ("ks", "chi2")]
    raw = [d.score if d.score == d.score else 1.0 for d in tested]  # a NaN p-value (no values) never rejects
    adjusted = dict(zip((d.column for d in tested), holm_adjusted(raw) if gate.holm else raw, strict=True))
    verdicts: dict[str, dict[str, Any]] = {}
    for d in report.columns:
        item: dict[str, Any] = {"method": d.method, "score": d.score, "threshold": d.threshold}
        if d.column in adjusted:
            numeric = d.method == "ks"
            measure = "psi" if numeric else "jensenshannon"
            least = gate.min_psi if numeric else gate.min_jensenshannon
            least = thresholds[measure] if least is None else least
            value = float(d.extras.get(measure) or 0.0)
            noise = noise_level(reference.columns[d.column], current.columns[d.column])
            effect = max(0.0, value - noise) if numeric else math.sqrt(max(0.0, value**2 - noise))
            item.update(
                adjusted_pvalue=adjusted[d.column],
                correction="holm" if gate.holm else "none",
                effect_measure=measure,
                measured=value,
                effect=effect,
                effect_threshold=least,
                level=gate.level if gate.holm else d.threshold,
                drifted=bool(
                    adjusted[d.column] < (gate.level if gate.holm else d.threshold) and effect >= least
                ),
            )
        else:
            item["drifted"] = bool(d.drifted)
        verdicts[d.column] = item
    return verdicts


def _drift_problem(what: str, name: str, item: dict[str, Any]) -> str:
    if "adjusted_pvalue" in item:
        after = " after Holm" if item["correction"] == "holm" else ""
        return (
            f"{what}{name} drifted ({item['method']} p {item['adjusted_pvalue']:.3g}{after} < "
            f"{item['level']:g}, {item['effect_measure']} less noise {item['effect']:.3g} >= "
            f"{item['effect_threshold']:g})"
        )
    sign = "<" if item["method"] in ("ks", "chi2") else ">="
    return f"{what}{name} drifted ({item['method']} {item['score']:.3g} {sign} {item['threshold']:g})"


def _drift_finding(
    check: str,
    compared: tuple[Profile, Profile],
    what: str,
    thresholds: dict[str, float],
    gate: DriftGate,
    exclude: list[str] | None = None,
) -> Finding:
    reference, current = compared
    report = compare_profiles(reference, current, thresholds=thresholds, exclude=exclude or ())
    columns = gated_verdicts(report, thresholds, gate, reference, current)
    drifted = [name for name, item in columns.items() if item["drifted"]]
    problems = [_drift_problem(what, name, columns[name]) for name in drifted]
    limits: dict[str, float] = dict(report.thresholds)
    if gate.holm:  # the tests' level after Holm's correction (without it: ks_pvalue, chi2_pvalue)
        limits["family_level"] = gate.level
    limits["min_psi"] = thresholds["psi"] if gate.min_psi is None else gate.min_psi
    limits["min_jensenshannon"] = (
        thresholds["jensenshannon"] if gate.min_jensenshannon is None else gate.min_jensenshannon
    )
    return Finding(
        check,
        FAIL if problems else OK,
        tuple(problems),
        {
            "columns": columns,
            "drifted": drifted,
            "share": len(drifted) / len(columns) if columns else 0.0,
            "skipped": report.skipped,
        },
        limits,
    )


def input_drift(
    window: Window, reference: Profile, thresholds: dict[str, float], gate: DriftGate = DriftGate()
) -> Finding:
    """Per-feature drift against the training data (columns without any value are left to the schema check)."""
    compared = (reference, window.inputs)
    return _drift_finding("input_drift", compared, "", thresholds, gate, absent_columns(window))


def prediction_drift(
    window: Window, baseline: Profile | None, thresholds: dict[str, float], gate: DriftGate = DriftGate()
) -> Finding:
    """Drift of the finite outputs against the baseline window (None: this window is the baseline)."""
    if baseline is None:
        return Finding("prediction_drift", OK, (), {"baseline": True}, dict(thresholds))
    compared = (finite_only(baseline), finite_only(window.outputs))
    return _drift_finding("prediction_drift", compared, "output ", thresholds, gate)
