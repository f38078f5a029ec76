"""The gate's family of change rules: Holm, bootstrap p-values, margins, power and advisory warnings."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from mlops_actions.domain.comparison import compare, metric_rows
from mlops_actions.domain.config import Rule
from mlops_actions.domain.gate import BOOTSTRAP_DELTAS, advisory_warnings, judge
from mlops_actions.domain.inference import (
    detectable_beyond_bound,
    holm_adjusted,
    regression_p_value,
    z_quantile,
)
from tests.unit.domain.gate_cases import binary_config, binormal_pair, sampled_row

ALPHA = 0.025


def plain_row(
    name: str = "roc_auc",
    *,
    base: float | None = 0.80,
    delta: float = -0.01,
    low: float | None = -0.02,
    high: float | None = 0.005,
    higher: bool = True,
    se: float | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "baseline": base,
        "candidate": None if base is None else base + delta,
        "delta": None if base is None else delta,
        "ci_low": low,
        "ci_high": high,
        "higher_is_better": higher,
        "se": se,
    }


def one(rule: Rule, row: dict[str, Any], **keywords: Any) -> dict[str, Any]:
    outcome = judge((rule,), [row], [], min_slice_rows=30, **keywords)
    return outcome.rules[-1]


# -- Holm and the bootstrap p-values ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_holm_adjusted_p_values_match_statsmodels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p_values = rng.random(12) ** 3
    ours = holm_adjusted(list(p_values))
    _, theirs, _, _ = multipletests(p_values, alpha=ALPHA, method="holm")
    assert ours == pytest.approx(list(theirs), abs=1e-12)


def test_holm_leaves_missing_p_values_out_of_the_family() -> None:
    ours = holm_adjusted([0.01, math.nan, 0.02])
    _, theirs, _, _ = multipletests([0.01, 0.02], method="holm")
    assert math.isnan(ours[1]) and [ours[0], ours[2]] == pytest.approx(list(theirs))


def test_the_bootstrap_p_value_falls_below_alpha_exactly_when_the_interval_clears_the_bound() -> None:
    deltas = np.random.default_rng(1).normal(-0.01, 0.004, size=2000)
    upper = float(np.percentile(deltas, 100 * (1 - ALPHA)))
    spacing = float(np.max(np.diff(np.sort(deltas)[-60:])))
    checked = 0
    for bound in np.linspace(-0.02, 0.01, 301):
        if abs(bound - upper) <= spacing:
            continue  # the percentile interpolates between two deltas: either answer is right there
        assert (regression_p_value(deltas, bound) < ALPHA) == (upper < bound), bound
        checked += 1
    assert checked > 250


def test_a_family_of_two_rules_is_judged_on_holm_adjusted_p_values() -> None:
    # each interval alone clears its bound (p about 0.016), but not at Holm's level for two rules
    rows = [sampled_row("accuracy", -0.0215, 0.01, seed=1), sampled_row("f1", -0.0215, 0.01, seed=2)]
    rules = (Rule("accuracy", allowed_change=0.0, margin=0.0), Rule("f1", allowed_change=0.0, margin=0.0))
    holm = judge(rules, rows, [], min_slice_rows=30)
    alone = judge(rules, rows, [], min_slice_rows=30, correction="none")
    assert [r["status"] for r in alone.rules] == ["fail", "fail"]
    assert [r["status"] for r in holm.rules] == ["pass", "pass"]
    first, second = holm.rules
    assert first["family_size"] == 2 and first["p_value"] < ALPHA <= first["p_adjusted"]
    smaller = min(first["p_value"], second["p_value"])
    assert first["p_adjusted"] == pytest.approx(max(2 * smaller, first["p_value"]))
    assert alone.rules[1]["family_size"] is None and alone.rules[1]["p_adjusted"] == alone.rules[1]["p_value"]


def test_holm_steps_down_a_clear_regression_then_judges_the_next_at_the_full_level() -> None:
    rows = [sampled_row("roc_auc", -0.03, 0.006, seed=1), sampled_row("accuracy", -0.0215, 0.01, seed=2)]
    rules = (Rule("roc_auc", allowed_change=-0.005), Rule("accuracy", allowed_change=0.0, margin=0.0))
    holm = judge(rules, rows, [], min_slice_rows=30)
    assert [r["status"] for r in holm.rules] == ["fail", "fail"]
    assert "Holm-adjusted p" in holm.reasons[1] and "across 2 rules" in holm.reasons[1]
    assert (
        holm.reasons[0].startswith("roc_auc: Δ -0.0300 (CI ")
        and "is beyond the allowed change -0.0050" in holm.reasons[0]
    )


def test_a_single_interval_rule_keeps_the_interval_decision() -> None:
    row = sampled_row("roc_auc", -0.03, 0.008, seed=3)
    row[BOOTSTRAP_DELTAS] = np.zeros(100)  # p-value 1, yet the interval decides a family of one
    judged = one(Rule("roc_auc", allowed_change=-0.005), row)
    assert judged["status"] == "fail" and judged["family_size"] == 1
    assert judged["p_value"] == judged["p_adjusted"] == 1.0


def test_slice_copies_join_the_family() -> None:
    slices = [
        {"column": "region", "value": v, "rows": 400, "metrics": [sampled_row("roc_auc", 0.0, 0.01, seed=s)]}
        for s, v in enumerate(("north", "south"))
    ]
    outcome = judge(
        (Rule("roc_auc", allowed_change=-0.01, slices=True),),
        [sampled_row("roc_auc", 0.0, 0.005)],
        slices,
        min_slice_rows=30,
    )
    assert [r["family_size"] for r in outcome.rules] == [3, 3, 3]


def test_strict_and_point_rules_stay_outside_the_family() -> None:
    rows = [sampled_row("roc_auc", 0.01, 0.004), sampled_row("accuracy", 0.0, 0.01, seed=4)]
    rules = (
        Rule("roc_auc", allowed_change=0.0, decision="strict"),
        Rule("accuracy", allowed_change=-0.02, decision="point"),
    )
    strict, point = judge(rules, rows, [], min_slice_rows=30).rules
    assert strict["status"] == "pass" and strict["family_size"] is None
    assert strict["p_value"] == pytest.approx(float(np.mean(rows[0][BOOTSTRAP_DELTAS] < -0.001)))
    assert point["status"] == "pass" and point["p_value"] is None and point["family_size"] is None


def test_rows_without_bootstrap_deltas_are_judged_on_their_interval() -> None:
    rules = (Rule("roc_auc", allowed_change=-0.005), Rule("accuracy", allowed_change=-0.005))
    rows = [plain_row(low=-0.03, high=-0.006), plain_row("accuracy", low=-0.03, high=-0.006)]
    outcome = judge(rules, rows, [], min_slice_rows=30)
    assert [r["status"] for r in outcome.rules] == ["fail", "fail"]
    assert all(r["p_value"] is None and r["family_size"] is None for r in outcome.rules)


# -- margins ------------------------------------------------------------------------------------------


def test_a_zero_allowance_tolerates_the_metrics_negligible_margin() -> None:
    tiny = plain_row(delta=-0.0006, low=-0.0009, high=-0.0003)  # confidently lower, but by less than 0.001
    judged = one(Rule("roc_auc", allowed_change=0.0), tiny)
    assert judged["status"] == "pass" and judged["equivalent"] is True
    assert judged["margin"] == pytest.approx(0.001) and judged["bound"] == pytest.approx(-0.001)
    assert judged["description"] == "Δ ≥ +0.0000 (interval, margin 0.0010)"
    assert one(Rule("roc_auc", allowed_change=0.0, margin=0.0), tiny)["status"] == "fail"


def test_a_failure_beyond_the_margin_names_the_effective_bound() -> None:
    outcome = judge(
        (Rule("roc_auc", allowed_change=0.0),), [plain_row(low=-0.03, high=-0.006)], [], min_slice_rows=30
    )
    assert "the allowed change +0.0000 with margin 0.0010, i.e. -0.0010 " in outcome.reasons[0]
    assert outcome.rules[0]["equivalent"] is False


def test_an_allowance_beyond_the_margin_is_the_bound() -> None:
    judged = one(Rule("roc_auc", allowed_change=-0.005), plain_row())
    assert judged["bound"] == pytest.approx(-0.005) and judged["description"] == "Δ ≥ -0.0050 (interval)"


def test_a_rule_demanding_an_improvement_has_no_margin() -> None:
    judged = one(Rule("roc_auc", allowed_change=0.01), plain_row(delta=0.005, low=-0.001, high=0.012))
    assert (
        judged["margin"] is None and judged["bound"] == pytest.approx(0.01) and judged["equivalent"] is None
    )
    assert judged["status"] == "pass" and judged["description"] == "Δ ≥ +0.0100 (interval)"


def test_a_relative_size_metrics_margin_is_a_fraction_of_the_baseline() -> None:
    rmse = plain_row("rmse", base=10.0, delta=0.008, low=0.004, high=0.012, higher=False)
    judged = one(Rule("rmse", allowed_change=0.0), rmse)
    assert judged["margin"] == pytest.approx(0.01) and judged["bound"] == pytest.approx(-0.01)
    assert judged["description"] == "Δ ≤ +0.0000 (interval, margin 0.1% of the baseline)"
    assert judged["status"] == "pass"


def test_lower_is_better_metric_fails_beyond_its_margin_with_the_bound_in_the_direction_of_delta() -> None:
    loss = plain_row("log_loss", base=0.4, delta=0.05, low=0.03, high=0.07, higher=False)
    outcome = judge((Rule("log_loss", allowed_change=0.0),), [loss], [], min_slice_rows=30)
    assert "with margin 0.0020, i.e. +0.0020 " in outcome.reasons[0]


# -- power -------------------------------------------------------------------------------------------


def test_an_underpowered_interval_rule_states_its_detectable_effect_and_the_rows_it_needs() -> None:
    judged = one(Rule("roc_auc", allowed_change=0.0), plain_row(se=0.003), rows=4000)
    power = judged["power"]
    mde = 0.001 + (z_quantile(1 - ALPHA) + z_quantile(0.8)) * 0.003
    assert power["mde"] == pytest.approx(mde) and power["target"] == pytest.approx(0.006)
    assert power["underpowered"] and not power["cannot_fail"]
    assert power["rows_needed"] == math.ceil(4000 * ((mde - 0.001) / 0.005) ** 2)
    assert power["note"] == (
        f"underpowered: detects a regression of {mde:.4f} or more at 80% power; about "
        f"{math.ceil(power['rows_needed'] / 1000) * 1000:,} eval rows (now 4,000) or gate.evaluation: cross_fit "
        "would reach 0.0060"
    )
    cross_fitted = one(
        Rule("roc_auc", allowed_change=0.0), plain_row(se=0.003), rows=4000, evaluation="cross_fit"
    )
    assert "cross_fit" not in cross_fitted["power"]["note"]


def test_a_well_powered_rule_has_no_note() -> None:
    power = one(Rule("roc_auc", allowed_change=0.0), plain_row(se=0.001), rows=40_000)["power"]
    assert not power["underpowered"] and power["note"] is None and power["rows_needed"] == 40_000


def test_a_rule_in_a_family_is_powered_at_the_bonferroni_level() -> None:
    rows = [sampled_row("roc_auc", 0.0, 0.002, seed=s) for s in range(1)] + [
        sampled_row("accuracy", 0.0, 0.002, seed=5)
    ]
    rules = (Rule("roc_auc", allowed_change=-0.01), Rule("accuracy", allowed_change=-0.01))
    power = judge(rules, rows, [], min_slice_rows=30).rules[0]["power"]
    se = rows[0]["se"]
    assert power["mde"] == pytest.approx(0.01 + detectable_beyond_bound(se, ALPHA / 2))


def test_rows_needed_shrinks_the_detectable_effect_to_the_target_on_a_larger_eval_set() -> None:
    config = binary_config(
        {"resamples": 400, "rules": [{"metric": "roc_auc", "allowed_change": 0.0}]},
        {"primary": "roc_auc", "others": ["accuracy"], "notable": {"roc_auc": 0.02}},
    )

    def power_on(rows: int, seed: int) -> dict[str, Any]:
        candidate, baseline = binormal_pair(rows, np.random.default_rng(seed), separation=1.0)
        metrics = metric_rows(["roc_auc"], candidate, baseline, config, with_tests=False)
        return judge(config.rules, metrics, [], min_slice_rows=30, config=config, rows=rows).rules[0]["power"]

    small = power_on(400, 11)
    assert small["underpowered"] and small["rows_needed"] > 800
    larger = power_on(small["rows_needed"], 12)
    assert larger["mde"] == pytest.approx(small["target"], rel=0.2)


def test_a_rule_on_a_tiny_eval_set_that_cannot_fail_says_so() -> None:
    row = plain_row("accuracy", base=0.3, delta=-0.1, low=-0.5, high=0.3, se=0.2)
    power = one(Rule("accuracy", allowed_change=-0.005), row, rows=12)["power"]
    assert power["cannot_fail"] and power["note"] == "cannot fail on these 12 eval rows"
    assert not one(Rule("accuracy", allowed_change=-0.005), {**row, "se": 0.05}, rows=12)["power"][
        "cannot_fail"
    ]


def test_a_strict_rule_is_underpowered_when_an_equally_good_model_rarely_clears_the_allowance() -> None:
    row = plain_row("recall", base=0.9, delta=0.0, low=-0.05, high=0.05, se=0.025)
    power = one(Rule("recall", allowed_change=-0.02, decision="strict"), row, rows=171)["power"]
    assert power["mde"] == pytest.approx(detectable_beyond_bound(0.025, ALPHA))
    assert power["target"] == pytest.approx(0.02) and power["underpowered"]
    assert power["rows_needed"] == math.ceil(171 * (power["mde"] / 0.02) ** 2)
    assert power["note"].startswith("underpowered: an equally good model passes 80% of the time only")


def test_a_point_rule_is_never_underpowered() -> None:
    power = one(Rule("roc_auc", allowed_change=0.0, decision="point"), plain_row(se=0.05), rows=100)["power"]
    assert power["mde"] == pytest.approx(0.001 + z_quantile(0.8) * 0.05)
    assert not power["underpowered"] and power["note"] is None


def test_a_rule_without_a_standard_error_reports_no_power() -> None:
    assert one(Rule("roc_auc", allowed_change=0.0), plain_row())["power"] is None


# -- advisory metrics ---------------------------------------------------------------------------------


def test_a_confident_notable_regression_of_a_metric_without_a_rule_is_a_warning() -> None:
    recall = plain_row("recall", base=0.95, delta=-0.156, low=-0.247, high=-0.074)
    outcome = judge((Rule("roc_auc", allowed_change=-0.005),), [plain_row(), recall], [], min_slice_rows=30)
    assert outcome.passed and outcome.warnings == ["recall −0.156 [−0.247, −0.074], not gated"]


def test_a_lower_is_better_regression_is_warned_about_with_plus_signs() -> None:
    loss = plain_row("log_loss", base=0.4, delta=0.05, low=0.02, high=0.08, higher=False)
    assert advisory_warnings([loss], set()) == ["log_loss +0.050 [+0.020, +0.080], not gated"]


@pytest.mark.parametrize(
    "row",
    [
        plain_row("recall", delta=-0.015, low=-0.019, high=-0.011),  # confident, below notable (0.02)
        plain_row("recall", delta=-0.05, low=-0.1, high=0.01),  # notable, not confident
        plain_row("recall", delta=0.05, low=0.02, high=0.08),  # an improvement
        plain_row("recall", base=None),  # no baseline
    ],
)
def test_no_warning_within_the_notable_size_or_the_noise(row: dict[str, Any]) -> None:
    assert advisory_warnings([row], set()) == []


def test_a_metric_with_a_rule_is_never_warned_about_and_notable_sizes_can_be_configured() -> None:
    recall = plain_row("recall", delta=-0.015, low=-0.019, high=-0.011)
    assert advisory_warnings([recall], {"recall"}) == []
    assert advisory_warnings([recall], set(), {"recall": 0.01}) == [
        "recall −0.015 [−0.019, −0.011], not gated"
    ]


def test_a_relative_size_metrics_notable_size_scales_with_the_baseline() -> None:
    rmse = plain_row("rmse", base=100.0, delta=0.4, low=0.2, high=0.6, higher=False)
    assert advisory_warnings([rmse], set()) == []  # notable: 0.5% of 100
    assert advisory_warnings([{**rmse, "delta": 0.6, "high": 0.8}], set()) != []


def test_compare_watches_advisory_metrics_outside_the_table_and_stays_json_ready() -> None:
    config = binary_config(
        {
            "resamples": 200,
            "rules": [{"metric": "roc_auc", "allowed_change": -0.005}, {"metric": "accuracy", "min": 0.5}],
        },
        {"primary": "roc_auc", "others": ["accuracy", "brier"]},
    )
    candidate, baseline = binormal_pair(600, np.random.default_rng(8))
    recall_drop = candidate.predictions.scores > 0.8  # far fewer positives predicted: recall falls
    worse = type(candidate)(
        task="binary",
        classes=[0, 1],
        row_keys=candidate.row_keys,
        y_true=baseline.y_true,
        predictions=type(candidate.predictions)(
            labels=recall_drop.astype(np.int64), scores=baseline.predictions.scores
        ),
    )
    comparison = compare(worse, baseline, config)
    assert [row["name"] for row in comparison.metrics] == ["roc_auc", "accuracy", "brier"]
    assert [row["role"] for row in comparison.metrics] == ["primary", "guard", "advisory"]
    assert {row["name"] for row in comparison.advisory_metrics} == set(config.advisory_metrics)
    assert {row["role"] for row in comparison.advisory_metrics} == {"advisory"}
    assert any(line.startswith("recall −") for line in comparison.warnings)
    document = comparison.to_dict()
    text = json.dumps(document)
    assert BOOTSTRAP_DELTAS not in text and document["warnings"] == comparison.warnings
    assert all(isinstance(row["se"], float) for row in comparison.metrics)
