from __future__ import annotations

from typing import Any

from mlops_actions.domain.config import Rule
from mlops_actions.domain.gate import judge


def row(
    name: str = "roc_auc",
    *,
    base: float | None = 0.80,
    cand: float | None = 0.79,
    low: float | None = -0.02,
    high: float | None = 0.005,
    higher: bool = True,
) -> dict[str, Any]:
    delta = None if base is None or cand is None else cand - base
    return {
        "name": name,
        "baseline": base,
        "candidate": cand,
        "delta": delta,
        "ci_low": low,
        "ci_high": high,
        "higher_is_better": higher,
    }


def test_interval_rule_passes_a_noisy_regression() -> None:
    outcome = judge((Rule("roc_auc", allowed_change=0.0),), [row()], [], min_slice_rows=30)
    assert outcome.passed
    assert outcome.rules[0]["status"] == "pass"


def test_point_rule_fails_the_same_noisy_regression() -> None:
    outcome = judge((Rule("roc_auc", allowed_change=0.0, decision="point"),), [row()], [], min_slice_rows=30)
    assert not outcome.passed
    assert "roc_auc: Δ -0.0100" in outcome.reasons[0]


def test_interval_rule_fails_a_confident_regression() -> None:
    outcome = judge(
        (Rule("roc_auc", allowed_change=-0.005),), [row(low=-0.03, high=-0.006)], [], min_slice_rows=30
    )
    assert outcome.reasons == [
        "roc_auc: Δ -0.0100 (CI -0.0300 to -0.0060) is entirely beyond the allowed change -0.0050 "
        "(baseline 0.8000, candidate 0.7900)"
    ]


def test_negative_allowance_accepts_a_bounded_regression() -> None:
    outcome = judge(
        (Rule("roc_auc", allowed_change=-0.05),), [row(low=-0.03, high=-0.006)], [], min_slice_rows=30
    )
    assert outcome.passed


def test_strict_rule_demands_the_whole_interval_above_the_margin() -> None:
    improving = row(cand=0.82, low=-0.002, high=0.04)  # below the default ROC AUC margin of 0.001
    strict = judge(
        (Rule("roc_auc", allowed_change=0.0, decision="strict"),), [improving], [], min_slice_rows=30
    )
    lenient = judge((Rule("roc_auc", allowed_change=0.0),), [improving], [], min_slice_rows=30)
    assert not strict.passed and lenient.passed


def test_lower_is_better_metric_judges_increase_as_regression() -> None:
    worse_loss = row("log_loss", base=0.40, cand=0.45, low=0.03, high=0.07, higher=False)
    outcome = judge((Rule("log_loss", allowed_change=-0.01),), [worse_loss], [], min_slice_rows=30)
    assert not outcome.passed
    assert outcome.rules[0]["description"] == "Δ ≤ +0.0100 (interval)"


def test_relative_allowance_scales_with_the_baseline() -> None:
    # 2% of 0.5 = 0.01 allowed regression; the whole interval is below -0.01 -> fail
    outcome = judge(
        (Rule("accuracy", allowed_change_relative=-0.02),),
        [row("accuracy", base=0.5, cand=0.47, low=-0.05, high=-0.015)],
        [],
        min_slice_rows=30,
    )
    assert not outcome.passed and "-2.0% of the baseline" in outcome.reasons[0]


def test_absolute_bounds_use_the_candidate_value() -> None:
    rules = (Rule("roc_auc", min=0.85), Rule("log_loss", max=0.5))
    rows = [row(), row("log_loss", base=0.4, cand=0.6, low=0.1, high=0.3, higher=False)]
    outcome = judge(rules, rows, [], min_slice_rows=30)
    assert outcome.reasons == [
        "roc_auc: 0.7900 is below the minimum 0.85",
        "log_loss: 0.6000 is above the maximum 0.5",
    ]


def test_no_baseline_skips_change_rules_and_judges_bounds() -> None:
    rules = (Rule("roc_auc", min=0.7, allowed_change=0.0),)
    outcome = judge(rules, [row(base=None, low=0.75, high=0.82)], [], min_slice_rows=30)
    assert [r["status"] for r in outcome.rules] == ["pass", "skipped"]
    assert outcome.passed


def test_slice_rule_flags_the_one_slice_that_regressed() -> None:
    slices = [
        {"column": "region", "value": "north", "rows": 400, "metrics": [row(low=-0.01, high=0.01)]},
        {
            "column": "region",
            "value": "south",
            "rows": 400,
            "metrics": [row(cand=0.70, low=-0.14, high=-0.06)],
        },
        {"column": "region", "value": "tiny", "rows": 5, "metrics": [row(cand=0.1, low=-0.9, high=-0.6)]},
    ]
    outcome = judge(
        (Rule("roc_auc", allowed_change=-0.02, slices=True),),
        [row(low=-0.02, high=0.0)],
        slices,
        min_slice_rows=30,
    )
    assert len(outcome.reasons) == 1 and outcome.reasons[0].startswith("roc_auc [region=south]")
    assert {r["slice"] for r in outcome.rules} == {None, "region=north", "region=south"}


def test_undefined_metric_fails_a_bound() -> None:
    outcome = judge(
        (Rule("roc_auc", min=0.5),), [row(cand=None, base=None, low=None, high=None)], [], min_slice_rows=30
    )
    assert "undefined on the evaluation rows" in outcome.reasons[0]


def test_a_relative_allowance_has_one_sign_in_the_table_and_in_the_reason() -> None:
    # rmse: lower is better; -2% = up to 2% worse, i.e. Δ may rise by 2% of the baseline
    outcome = judge(
        (Rule("rmse", allowed_change_relative=-0.02),),
        [row("rmse", base=10.0, cand=10.5, low=0.3, high=0.7, higher=False)],
        [],
        min_slice_rows=30,
    )
    assert outcome.rules[0]["description"] == "Δ ≤ +2.0% of the baseline (interval)"
    assert "the allowed change +2.0% of the baseline (+0.2000)" in outcome.reasons[0]


def test_a_zero_allowance_on_a_lower_is_better_metric_shows_no_negative_zero() -> None:
    outcome = judge(
        (Rule("rmse", allowed_change=0.0),),
        [row("rmse", base=10.0, cand=10.5, low=0.3, high=0.7, higher=False)],
        [],
        min_slice_rows=30,
    )
    assert "the allowed change +0.0000 " in outcome.reasons[0]
