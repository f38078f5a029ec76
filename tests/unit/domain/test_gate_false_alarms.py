"""Equally good models against a rule on every binary metric: the family's false alarms stay at its level."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mlops_actions.domain.comparison import metric_rows
from mlops_actions.domain.gate import judge
from tests.unit.domain.gate_cases import BINARY_METRICS, binary_config, binormal_pair, rule_on_every_metric

TRIALS = 100
ROWS = 2000


@pytest.fixture(scope="module")
def a_a_fail_rates() -> dict[str, float]:
    """Share of A/A trials in which any rule failed, with Holm's correction and without it (margins off)."""
    holm = binary_config(
        {"resamples": 300, "rules": rule_on_every_metric(margin=0.0)},
        {"primary": "roc_auc", "others": [m for m in BINARY_METRICS if m != "roc_auc"]},
    )
    uncorrected = replace(holm, correction="none")
    rng = np.random.default_rng(20261202)
    failures = {"holm": 0, "none": 0}
    for _ in range(TRIALS):
        candidate, baseline = binormal_pair(ROWS, rng)
        rows = metric_rows(holm.metrics, candidate, baseline, holm, with_tests=False)
        for name, config in (("holm", holm), ("none", uncorrected)):
            outcome = judge(config.rules, rows, [], min_slice_rows=30, config=config, rows=ROWS)
            failures[name] += not outcome.passed
    return {name: count / TRIALS for name, count in failures.items()}


def test_equally_good_models_rarely_fail_a_rule_on_every_metric_under_holm(
    a_a_fail_rates: dict[str, float],
) -> None:
    assert a_a_fail_rates["holm"] <= 0.08


def test_without_the_correction_the_same_family_fails_more_often(a_a_fail_rates: dict[str, float]) -> None:
    assert a_a_fail_rates["none"] > a_a_fail_rates["holm"]
    assert a_a_fail_rates["none"] > 0.05  # beyond the family-wise level the correction keeps


def test_identical_models_never_fail_any_rule() -> None:
    config = binary_config({"resamples": 300, "rules": rule_on_every_metric(margin=0.0)})
    candidate, _ = binormal_pair(500, np.random.default_rng(3))
    rows = metric_rows(config.metrics, candidate, candidate, config, with_tests=False)
    outcome = judge(config.rules, rows, [], min_slice_rows=30, config=config, rows=500)
    assert outcome.passed
    changes = [r for r in outcome.rules if r["kind"] == "change"]
    assert len(changes) == len(BINARY_METRICS)
    assert all(r["p_value"] == 1.0 and r["family_size"] == len(BINARY_METRICS) for r in changes)
