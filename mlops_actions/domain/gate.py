"""The quality gate: judge each rule on the metric rows, one reason per failed rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops_actions.domain.config import Rule

DECISION_WORDS = {
    "interval": "fails only when the whole interval is beyond the allowance",
    "point": "judged on the point estimate",
    "strict": "passes only when the whole interval meets the allowance",
}


@dataclass(frozen=True)
class GateOutcome:
    rules: list[dict[str, Any]]
    reasons: list[str]

    @property
    def passed(self) -> bool:
        return not self.reasons


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _signed(value: float) -> str:
    return f"{value + 0.0:+.4f}"  # + 0.0: a zero allowance never shows as -0.0000


def _change_threshold(rule: Rule, row: dict[str, Any]) -> tuple[float, str, bool] | None:
    """(allowance in the better direction in metric units, kind, relative?) or None without a change rule."""
    if rule.allowed_change is not None:
        return float(rule.allowed_change), "change", False
    if rule.allowed_change_relative is not None:
        if row["baseline"] is None:
            return None
        return float(rule.allowed_change_relative) * abs(row["baseline"]), "change_relative", True
    return None


def _judge_change(rule: Rule, row: dict[str, Any], where: str) -> dict[str, Any]:
    sign = 1.0 if row["higher_is_better"] else -1.0
    relative = rule.allowed_change_relative is not None
    kind = "change_relative" if relative else "change"
    configured = rule.allowed_change_relative if relative else rule.allowed_change
    assert configured is not None
    bound = float(configured) if row["higher_is_better"] else -float(configured)
    shown = f"{bound:+.1%} of the baseline" if relative else f"{bound:+.4f}"
    description = f"Δ {'≥' if row['higher_is_better'] else '≤'} {shown}"
    description += f" ({rule.decision})"
    base = {
        "metric": rule.metric,
        "slice": where or None,
        "kind": kind,
        "threshold": float(configured),
        "decision": rule.decision,
        "description": description,
    }
    label = f"{rule.metric}{f' [{where}]' if where else ''}"
    if row["baseline"] is None or row["delta"] is None:
        return {**base, "status": "skipped", "observed": None, "reason": "no baseline to compare with"}
    threshold = _change_threshold(rule, row)
    assert threshold is not None
    allowance = threshold[0]
    improvement = sign * row["delta"]
    low, high = row["ci_low"], row["ci_high"]
    interval = None if low is None or high is None else sorted((sign * low, sign * high))
    decision = rule.decision if interval is not None else "point"
    if decision == "point":
        failed = improvement < allowance
    elif decision == "interval":
        failed = interval[1] < allowance  # type: ignore[index]
    else:
        failed = interval[0] < allowance  # type: ignore[index]
    reason = None
    if failed:
        ci = "" if low is None else f" (CI {_signed(low)} to {_signed(high)})"
        allowed = (  # in the direction of Δ, as the rule's description in the table shows it
            f"{sign * configured + 0.0:+.1%} of the baseline ({_signed(sign * allowance)})"
            if relative
            else _signed(sign * allowance)
        )
        verb = {"point": "is beyond", "interval": "is entirely beyond", "strict": "is not entirely within"}[
            decision
        ]
        reason = (
            f"{label}: Δ {_signed(row['delta'])}{ci} {verb} the allowed change {allowed} "
            f"(baseline {_fmt(row['baseline'])}, candidate {_fmt(row['candidate'])})"
        )
    return {**base, "status": "fail" if failed else "pass", "observed": row["delta"], "reason": reason}


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


def judge(
    rules: tuple[Rule, ...],
    metrics: list[dict[str, Any]],
    slices: list[dict[str, Any]],
    *,
    min_slice_rows: int,
) -> GateOutcome:
    """Judge every rule (and its slice copies); the reasons list one line per failed rule."""
    by_name = {row["name"]: row for row in metrics}
    judged: list[dict[str, Any]] = []
    for rule in rules:
        row = by_name.get(rule.metric)
        if row is None:
            continue
        if rule.min is not None:
            judged.append(_judge_bound(rule, row, "min", ""))
        if rule.max is not None:
            judged.append(_judge_bound(rule, row, "max", ""))
        if rule.allowed_change is not None or rule.allowed_change_relative is not None:
            judged.append(_judge_change(rule, row, ""))
            if rule.slices:
                for part in slices:
                    if part["rows"] < min_slice_rows:
                        continue
                    slice_row = next((m for m in part["metrics"] if m["name"] == rule.metric), None)
                    if slice_row is not None:
                        judged.append(_judge_change(rule, slice_row, f"{part['column']}={part['value']}"))
    reasons = [r["reason"] for r in judged if r["status"] == "fail" and r["reason"]]
    return GateOutcome(rules=judged, reasons=reasons)
