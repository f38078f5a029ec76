"""The quality gate: judge each rule on the metric rows, one reason per failed rule; warn about advisory regressions.

Improvement = ``sign * delta`` (sign +1 when higher is better). A change rule's allowance ``a`` (allowed_change,
or allowed_change_relative * |baseline|) is in improvement units; its effective bound is ``min(a, -margin)``
when ``a <= 0`` (the metric's negligible margin, in metric units or a fraction of the baseline for the
relative-size metrics) and ``a`` when the rule demands an improvement.

- ``interval`` rules (slice copies included) with a baseline, an interval and bootstrap deltas are one family.
  With ``correction`` holm and two or more of them, rule i fails when its Holm-adjusted bootstrap p-value is
  below alpha = (1 - confidence) / 2; a family of one (or correction none) keeps the interval decision: fail
  when the whole interval is beyond the bound.
- ``strict`` rules (non-inferiority) pass only when the whole interval clears the bound; no correction.
- ``point`` rules judge the point estimate.
- Metrics without any rule never fail: a confident regression at least their notable size is a warning line.

A metric row may carry its bootstrap deltas under ``BOOTSTRAP_DELTAS`` (a numpy array, never written to JSON:
``mlops_actions.domain.comparison.compare`` drops it after judging).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_actions.domain.config import Rule
from mlops_actions.domain.metric_names import METRICS, MetricInfo

if TYPE_CHECKING:
    import numpy as np

    from mlops_actions.domain.config import Config

BOOTSTRAP_DELTAS = "bootstrap_deltas"  # a metric row's bootstrap deltas (candidate - baseline), not JSON

DECISION_WORDS = {
    "interval": "fails only when the whole interval is beyond the allowance",
    "point": "judged on the point estimate",
    "strict": "passes only when the whole interval meets the allowance (non-inferiority)",
}


@dataclass(frozen=True)
class GateOutcome:
    rules: list[dict[str, Any]]
    reasons: list[str]
    warnings: list[str] = field(default_factory=list)  # advisory regressions: never fail the gate

    @property
    def passed(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class _Settings:
    alpha: float  # one-sided level of every rule: (1 - confidence) / 2
    correction: str
    notable: Mapping[str, float]
    task: str | None
    evaluation: str


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _signed(value: float) -> str:
    return f"{value + 0.0:+.4f}"  # + 0.0: a zero allowance never shows as -0.0000


def _minus(value: float) -> str:
    """Three decimals, always signed, with a Unicode minus."""
    return f"{value + 0.0:+.3f}".replace("-", "\N{MINUS SIGN}")


def _rows_text(rows: int) -> str:
    return f"{rows:,}"


def _about(rows: int) -> str:
    """A row count rounded up to two significant digits: 20,537 -> 21,000."""
    if rows < 100:
        return _rows_text(rows)
    step = 10 ** (len(str(rows)) - 2)
    return _rows_text(math.ceil(rows / step) * step)


def _p_text(p: float, resamples: int) -> str:
    if p == 0.0:
        return f"p < {1.0 / max(resamples, 1):.2g}"
    return f"p = {p:.4f}"


def _info(metric: str) -> MetricInfo | None:
    return METRICS.get(metric)


def _sizes_scale(info: MetricInfo | None, row: dict[str, Any]) -> float | None:
    """What a margin or notable size is multiplied by: |baseline| for relative-size metrics, else 1."""
    if info is None or not info.relative_sizes:
        return 1.0
    return None if row.get("baseline") is None else abs(float(row["baseline"]))


def _allowance(rule: Rule, row: dict[str, Any]) -> float | None:
    """The configured allowance in improvement units (None: a relative one without a baseline)."""
    if rule.allowed_change is not None:
        return float(rule.allowed_change)
    if rule.allowed_change_relative is not None and row.get("baseline") is not None:
        return float(rule.allowed_change_relative) * abs(row["baseline"])
    return None


def _margin(rule: Rule, row: dict[str, Any]) -> float | None:
    """The rule's negligible margin in metric units; None when it demands an improvement or is unknown."""
    configured = rule.allowed_change if rule.allowed_change is not None else rule.allowed_change_relative
    if configured is None or configured > 0:
        return None
    info = _info(rule.metric)
    fraction = rule.margin if rule.margin is not None else (info.margin if info else 0.0)
    scale = _sizes_scale(info, row)
    return None if scale is None else float(fraction) * scale


def _bound(allowance: float | None, margin: float | None) -> float | None:
    if allowance is None:
        return None
    if allowance > 0 or margin is None:
        return allowance
    return min(allowance, -margin)


def _margin_fraction(rule: Rule) -> float:
    """The rule's margin as configured: metric units, or a fraction of the baseline for relative sizes."""
    if rule.margin is not None:
        return float(rule.margin)
    info = _info(rule.metric)
    return info.margin if info else 0.0


def _margin_text(rule: Rule, margin: float | None) -> str:
    info = _info(rule.metric)
    if margin is None or (info is not None and info.relative_sizes):
        return f"margin {_margin_fraction(rule):.1%} of the baseline"
    return f"margin {margin:.4f}"


def _notable(metric: str, row: dict[str, Any], settings: _Settings) -> float | None:
    """The smallest change of ``metric`` that matters, in metric units (None: relative without a baseline)."""
    info = _info(metric)
    size = settings.notable.get(metric, info.notable if info else 0.0)
    scale = _sizes_scale(info, row)
    return None if scale is None else float(size) * scale


def _worst_regression(metric: str, row: dict[str, Any], task: str | None) -> float:
    """The largest regression the metric's range allows from the baseline (inf when unbounded)."""
    info = _info(metric)
    if info is None or row.get("baseline") is None:
        return math.inf
    low, high = info.value_range(task) if task else (info.low, info.high)
    baseline = float(row["baseline"])
    return baseline - low if info.higher_is_better else high - baseline


@dataclass
class _Change:
    """One change rule on one metric row, while the family is being judged."""

    rule: Rule
    row: dict[str, Any]
    where: str
    rows: int | None
    doc: dict[str, Any]
    sign: float
    bound: float | None
    margin: float | None
    interval: list[float] | None  # sorted, improvement units
    improvements: np.ndarray | None  # bootstrap improvements
    se: float | None
    decision: str  # the rule's decision, "point" when there is no interval
    p_value: float | None = None
    p_adjusted: float | None = None
    family_size: int | None = None


def _description(rule: Rule, row: dict[str, Any], margin: float | None, bound: float | None) -> str:
    """The rule in words, as the table shows it: 'Δ ≥ +0.0000 (interval, margin 0.0010)'."""
    higher = row["higher_is_better"]
    relative = rule.allowed_change_relative is not None
    configured = rule.allowed_change_relative if relative else rule.allowed_change
    assert configured is not None
    shown_value = float(configured) if higher else -float(configured)
    shown = f"{shown_value:+.1%} of the baseline" if relative else f"{shown_value + 0.0:+.4f}"
    words = rule.decision
    allowance = _allowance(rule, row)
    if bound is not None and allowance is not None:
        margin_binds = margin is not None and bound < allowance
    else:  # no baseline yet: a zero allowance is where a margin binds
        margin_binds = configured == 0 and _margin_fraction(rule) > 0
    if margin_binds:
        words += ", " + _margin_text(rule, margin)
    return f"Δ {'≥' if higher else '≤'} {shown} ({words})"


def _start_change(rule: Rule, row: dict[str, Any], where: str, rows: int | None) -> _Change:
    import numpy as np

    sign = 1.0 if row["higher_is_better"] else -1.0
    relative = rule.allowed_change_relative is not None
    configured = rule.allowed_change_relative if relative else rule.allowed_change
    assert configured is not None
    margin = _margin(rule, row)
    bound = _bound(_allowance(rule, row), margin)
    doc: dict[str, Any] = {
        "metric": rule.metric,
        "slice": where or None,
        "kind": "change_relative" if relative else "change",
        "threshold": float(configured),
        "decision": rule.decision,
        "description": _description(rule, row, margin, bound),
        "margin": margin,
        "bound": bound,
        "p_value": None,
        "p_adjusted": None,
        "family_size": None,
        "equivalent": None,
        "power": None,
    }
    low, high = row.get("ci_low"), row.get("ci_high")
    has_baseline = row.get("baseline") is not None and row.get("delta") is not None
    interval = (
        sorted((sign * low, sign * high)) if has_baseline and low is not None and high is not None else None
    )
    deltas = row.get(BOOTSTRAP_DELTAS)
    improvements = None
    if has_baseline and deltas is not None and len(deltas) > 0:
        improvements = sign * np.asarray(deltas, dtype=np.float64)
    se = row.get("se")
    se = float(se) if se is not None and math.isfinite(float(se)) and float(se) >= 0 else None
    if se is None and improvements is not None and len(improvements) > 1:
        se = float(np.std(improvements, ddof=1))
    return _Change(
        rule=rule,
        row=row,
        where=where,
        rows=rows,
        doc=doc,
        sign=sign,
        bound=bound,
        margin=margin,
        interval=interval,
        improvements=improvements,
        se=se,
        decision=rule.decision if interval is not None else "point",
    )


def _judge_family(changes: list[_Change], settings: _Settings) -> None:
    """p-values of every change rule; Holm's adjustment over the interval rules that have bootstrap deltas."""
    from mlops_actions.domain.inference import holm_adjusted, inferiority_p_value, regression_p_value

    family = [
        c for c in changes if c.decision == "interval" and c.improvements is not None and c.bound is not None
    ]
    for c in family:
        p = regression_p_value(c.improvements, c.bound)  # type: ignore[arg-type]
        c.p_value = None if math.isnan(p) else p
    family = [c for c in family if c.p_value is not None]
    if settings.correction == "holm":
        adjusted = holm_adjusted([c.p_value for c in family])  # type: ignore[misc]
        for c, p_adj in zip(family, adjusted, strict=True):
            c.p_adjusted = p_adj
            c.family_size = len(family)
    else:
        for c in family:
            c.p_adjusted = c.p_value
    for c in changes:
        if c.decision == "strict" and c.improvements is not None and c.bound is not None:
            p = inferiority_p_value(c.improvements, c.bound)
            c.p_value = c.p_adjusted = None if math.isnan(p) else p


def _failed(c: _Change, settings: _Settings) -> bool:
    assert c.bound is not None
    if c.decision == "point":
        return c.sign * c.row["delta"] < c.bound
    assert c.interval is not None
    if c.decision == "interval":
        if c.family_size is not None and c.family_size >= 2:
            return c.p_adjusted is not None and c.p_adjusted < settings.alpha
        return c.interval[1] < c.bound
    return c.interval[0] < c.bound


def _power(c: _Change, settings: _Settings) -> dict[str, Any] | None:
    """Minimum detectable effect at 80% power, underpowered / cannot-fail flags and the report's note."""
    from mlops_actions.domain.inference import POWER, detectable_beyond_bound, rows_for, z_quantile

    if c.se is None or c.bound is None:
        return None
    se, bound, rows = c.se, c.bound, c.rows
    notable = _notable(c.rule.metric, c.row, settings)
    worst = _worst_regression(c.rule.metric, c.row, settings.task)
    suggest = settings.evaluation == "holdout"
    mde: float | None
    target: float | None = None
    rows_needed: int | None = None
    underpowered = False
    note: str | None = None
    if c.decision == "interval":
        m = c.family_size if c.family_size is not None else 1
        alpha_rule = settings.alpha / m
        mde = -bound + detectable_beyond_bound(se, alpha_rule)
        cannot_fail = -bound + z_quantile(1.0 - alpha_rule) * se >= worst
        if notable is not None:
            target = max(-bound, 0.0) + notable
            underpowered = mde > target
            rows_needed = None if rows is None else rows_for(se, rows, alpha_rule, notable)
        if underpowered and not cannot_fail:
            note = f"underpowered: detects a regression of {mde:.4f} or more at {POWER:.0%} power; " + _reach(
                rows, rows_needed, suggest, f"would reach {target:.4f}"
            )
    elif c.decision == "strict":
        mde = detectable_beyond_bound(se, settings.alpha)
        target = -bound
        cannot_fail = -bound - z_quantile(1.0 - settings.alpha) * se >= worst
        if target <= 0:
            underpowered = True
            note = f"underpowered: passes only a confident improvement beyond {_signed(c.sign * bound)}"
        else:
            underpowered = mde > target
            rows_needed = None if rows is None else rows_for(se, rows, settings.alpha, target)
            if underpowered:
                note = (
                    f"underpowered: an equally good model passes {POWER:.0%} of the time only with an allowed "
                    f"regression of {mde:.4f} or more (now {target:.4f}); "
                    + _reach(rows, rows_needed, suggest, f"would bring it to {target:.4f}")
                )
    else:
        mde = -bound + z_quantile(POWER) * se
        cannot_fail = -bound >= worst
    if cannot_fail:
        note = (
            f"cannot fail on these {_rows_text(rows)} eval rows" if rows else "cannot fail on this eval set"
        )
    return {
        "mde": mde if math.isfinite(mde) else None,
        "target": target,
        "underpowered": bool(underpowered),
        "cannot_fail": bool(cannot_fail),
        "rows_needed": rows_needed,
        "note": note,
    }


def _reach(rows: int | None, rows_needed: int | None, suggest_cross_fit: bool, outcome: str) -> str:
    """'about 21,000 eval rows (now 4,000) or gate.evaluation: cross_fit would reach 0.0060'."""
    ways = []
    if rows is not None and rows_needed is not None:
        ways.append(f"about {_about(rows_needed)} eval rows (now {_rows_text(rows)})")
    if suggest_cross_fit:
        ways.append("gate.evaluation: cross_fit")
    if not ways:
        return outcome.replace("would ", "more eval rows would ", 1)
    return f"{' or '.join(ways)} {outcome}"


def _finish_change(c: _Change, settings: _Settings) -> dict[str, Any]:
    rule, row = c.rule, c.row
    doc = c.doc
    if row.get("baseline") is None or row.get("delta") is None or c.bound is None:
        return {**doc, "status": "skipped", "observed": None, "reason": "no baseline to compare with"}
    low, high = row.get("ci_low"), row.get("ci_high")
    failed = _failed(c, settings)
    doc["p_value"], doc["p_adjusted"], doc["family_size"] = c.p_value, c.p_adjusted, c.family_size
    if c.margin is not None and low is not None and high is not None:
        doc["equivalent"] = bool(-c.margin <= low and high <= c.margin)
    doc["power"] = _power(c, settings)
    reason = None
    if failed:
        label = f"{rule.metric}{f' [{c.where}]' if c.where else ''}"
        ci = "" if low is None or high is None else f" (CI {_signed(low)} to {_signed(high)})"
        allowance = _allowance(rule, row)
        assert allowance is not None
        allowed = _signed(c.sign * allowance)  # in the direction of Δ, as the table's description shows it
        if rule.allowed_change_relative is not None:
            allowed = f"{c.sign * rule.allowed_change_relative + 0.0:+.1%} of the baseline ({allowed})"
        if c.bound < allowance and c.margin is not None:
            allowed += f" with {_margin_text(rule, c.margin)}, i.e. {_signed(c.sign * c.bound)}"
        holm = c.decision == "interval" and c.family_size is not None and c.family_size >= 2
        verb = {"point": "is beyond", "interval": "is entirely beyond", "strict": "is not entirely within"}[
            "point" if holm else c.decision
        ]
        tail = f"baseline {_fmt(row['baseline'])}, candidate {_fmt(row['candidate'])}"
        if holm:
            resamples = 0 if c.improvements is None else len(c.improvements)
            tail = (
                f"Holm-adjusted {_p_text(c.p_adjusted, resamples)} across {c.family_size} rules; "  # type: ignore[arg-type]
                + tail
            )
        reason = f"{label}: Δ {_signed(row['delta'])}{ci} {verb} the allowed change {allowed} ({tail})"
    return {**doc, "status": "fail" if failed else "pass", "observed": row["delta"], "reason": reason}


def _judge_bound(rule: Rule, row: dict[str, Any], kind: str, where: str) -> dict[str, Any]:
    bound = float(rule.min if kind == "min" else rule.max)  # type: ignore[arg-type]
    value = row["candidate"]
    label = f"{rule.metric}{f' [{where}]' if where else ''}"
    description = f"{'≥' if kind == 'min' else '≤'} {bound:g}"
    base = {
        "metric": rule.metric,
        "slice": where or None,
        "kind": kind,
        "threshold": bound,
        "decision": "point",
        "description": description,
        "observed": value,
        "margin": None,
        "bound": None,
        "p_value": None,
        "p_adjusted": None,
        "family_size": None,
        "equivalent": None,
        "power": None,
    }
    if value is None:
        return {
            **base,
            "status": "fail",
            "reason": f"{label}: undefined on the evaluation rows, expected {description}",
        }
    failed = value < bound if kind == "min" else value > bound
    reason = (
        f"{label}: {_fmt(value)} is {'below the minimum' if kind == 'min' else 'above the maximum'} {bound:g}"
    )
    return {**base, "status": "fail" if failed else "pass", "reason": reason if failed else None}


def advisory_warnings(
    rows: Sequence[dict[str, Any]], ruled: set[str], notable: Mapping[str, float] | None = None
) -> list[str]:
    """One line per metric without a rule whose interval lies entirely on the worse side by a notable size.

    ``notable`` overrides the catalogue's notable sizes (``metrics.notable``). Example line:
    ``recall −0.156 [−0.247, −0.074], not gated``.
    """
    settings = _Settings(0.025, "none", notable or {}, None, "holdout")
    lines = []
    for row in rows:
        name = row["name"]
        if name in ruled or row.get("baseline") is None:
            continue
        delta, low, high = row.get("delta"), row.get("ci_low"), row.get("ci_high")
        if delta is None or low is None or high is None:
            continue
        sign = 1.0 if row["higher_is_better"] else -1.0
        size = _notable(name, row, settings)
        if size is None or max(sign * low, sign * high) >= 0 or abs(delta) < size:
            continue
        lines.append(f"{name} {_minus(delta)} [{_minus(low)}, {_minus(high)}], not gated")
    return lines


def judge(
    rules: tuple[Rule, ...],
    metrics: list[dict[str, Any]],
    slices: list[dict[str, Any]],
    *,
    min_slice_rows: int,
    config: Config | None = None,
    confidence: float | None = None,
    correction: str | None = None,
    notable: Mapping[str, float] | None = None,
    rows: int | None = None,
    advisory: Sequence[dict[str, Any]] = (),
    evaluation: str | None = None,
    task: str | None = None,
) -> GateOutcome:
    """Judge every rule (and its slice copies); the reasons list one line per failed rule.

    Settings come from the keywords, else from ``config``, else the defaults (confidence 0.95, correction
    holm, the catalogue's notable sizes, holdout evaluation). ``rows`` is the number of eval rows (for the
    power notes); ``advisory`` holds extra metric rows without rules, watched for the warnings. Rows
    straight from ``comparison.metric_rows`` carry their bootstrap deltas; rows without them (read back from
    JSON) are judged on their interval alone, outside the Holm family.
    """
    settings = _Settings(
        alpha=(1.0 - (confidence if confidence is not None else config.confidence if config else 0.95)) / 2.0,
        correction=correction or (config.correction if config else "holm"),
        notable=notable if notable is not None else (config.notable if config else {}),
        task=task or (config.task if config else None),
        evaluation=evaluation or (config.evaluation if config else "holdout"),
    )
    by_name = {row["name"]: row for row in metrics}
    slots: list[dict[str, Any] | _Change] = []
    for rule in rules:
        row = by_name.get(rule.metric)
        if row is None:
            continue
        if rule.min is not None:
            slots.append(_judge_bound(rule, row, "min", ""))
        if rule.max is not None:
            slots.append(_judge_bound(rule, row, "max", ""))
        if rule.allowed_change is not None or rule.allowed_change_relative is not None:
            slots.append(_start_change(rule, row, "", rows))
            if rule.slices:
                for part in slices:
                    if part["rows"] < min_slice_rows:
                        continue
                    slice_row = next((m for m in part["metrics"] if m["name"] == rule.metric), None)
                    if slice_row is not None:
                        where = f"{part['column']}={part['value']}"
                        slots.append(_start_change(rule, slice_row, where, int(part["rows"])))
    _judge_family([s for s in slots if isinstance(s, _Change)], settings)
    judged = [_finish_change(s, settings) if isinstance(s, _Change) else s for s in slots]
    reasons = [r["reason"] for r in judged if r["status"] == "fail" and r["reason"]]
    ruled = {rule.metric for rule in rules}
    warnings = advisory_warnings([*metrics, *advisory], ruled, settings.notable)
    return GateOutcome(rules=judged, reasons=reasons, warnings=warnings)
