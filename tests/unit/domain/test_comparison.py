"""domain/comparison.py: compare() puts candidate and baseline side by side and judges the gate."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mlops_actions.domain.comparison import compare
from mlops_actions.domain.config import Config, load_config
from mlops_actions.domain.evaluation import Scored
from mlops_actions.domain.metrics import Predictions
from mlops_actions.errors import DataError

ROWS = 400


@pytest.fixture
def config(tiny_project: Path) -> Config:
    return load_config(tiny_project / "mlops.yaml")


def scored(seed: int, *, noise: float = 1.0, classes: list[object] | None = None) -> Scored:
    """A binary classifier's predictions on ROWS fixed rows; larger ``noise`` means a worse model."""
    rng = np.random.default_rng(0)
    y_true = (rng.random(ROWS) < 0.5).astype(np.int64)
    signal = np.where(y_true == 1, 1.0, -1.0)
    scores = 1 / (1 + np.exp(-(signal + np.random.default_rng(seed).normal(scale=noise, size=ROWS))))
    return Scored(
        task="binary",
        classes=[0, 1] if classes is None else classes,
        row_keys=np.arange(ROWS),
        y_true=y_true,
        predictions=Predictions(labels=(scores > 0.5).astype(np.int64), scores=scores),
        slices={"group": np.array(["a", "b"] * (ROWS // 2))},
    )


def flipped(model: Scored) -> Scored:
    """The same predictions with the classes listed the other way round."""
    p = model.predictions
    assert p.labels is not None and p.scores is not None
    return replace(
        model,
        classes=[1, 0],
        y_true=1 - model.y_true,
        predictions=Predictions(labels=1 - p.labels, scores=1 - p.scores),
    )


def test_without_a_baseline_only_the_absolute_bounds_are_judged(config: Config) -> None:
    comparison = compare(scored(1), None, config)
    assert comparison.absolute_only and comparison.passed
    assert [row["name"] for row in comparison.metrics] == list(config.metrics)
    assert all(row["delta"] is None and row["ci_low"] is not None for row in comparison.metrics)
    assert [(rule["kind"], rule["status"]) for rule in comparison.gate.rules] == [
        ("min", "pass"),
        ("change", "skipped"),
    ]


def test_the_same_model_as_baseline_has_zero_deltas_within_noise_and_passes(config: Config) -> None:
    comparison = compare(scored(1), scored(1), config)
    assert not comparison.absolute_only and comparison.verdict == "pass"
    assert all(row["delta"] == 0 for row in comparison.metrics)
    assert {row["test"]["name"] for row in comparison.metrics if row["test"]} == {"mcnemar", "delong"}


def test_a_clearly_worse_candidate_fails_the_change_rule_with_a_reason(config: Config) -> None:
    comparison = compare(scored(2, noise=3.0), scored(1, noise=0.5), config)
    assert comparison.verdict == "fail" and not comparison.passed
    assert any("roc_auc" in reason.lower() or "ROC" in reason for reason in comparison.gate.reasons)
    document = comparison.to_dict()
    assert document["verdict"] == "fail" and document["reasons"] == comparison.gate.reasons
    assert set(document) == {
        "verdict",
        "reasons",
        "warnings",
        "metrics",
        "advisory_metrics",
        "rules",
        "slices",
        "absolute_only",
    }


def test_a_baseline_listing_its_classes_the_other_way_round_is_compared_in_the_candidates_order(
    config: Config,
) -> None:
    as_is = compare(scored(2), scored(1), config)
    reordered = compare(scored(2), flipped(scored(1)), config)
    for ours, theirs in zip(reordered.metrics, as_is.metrics, strict=True):
        for key in ("baseline", "candidate", "delta", "ci_low", "ci_high"):
            assert ours[key] == pytest.approx(theirs[key], abs=1e-12), (ours["name"], key)


def test_a_baseline_scored_on_other_rows_is_refused(config: Config) -> None:
    other_rows = replace(scored(1), row_keys=np.arange(ROWS) + 1)
    with pytest.raises(DataError, match="not scored on the same evaluation rows"):
        compare(scored(2), other_rows, config)


def test_every_slice_value_gets_its_own_metric_rows(config: Config) -> None:
    comparison = compare(scored(2), scored(1), config)
    assert [(s["column"], s["value"], s["rows"]) for s in comparison.slices] == [
        ("group", "a", ROWS // 2),
        ("group", "b", ROWS // 2),
    ]


def stacked(model: Scored, repeats: int) -> Scored:
    """``repeats`` copies of the same rows, one after the other (as stacked cross-fit repetitions)."""
    p = model.predictions
    assert p.labels is not None and p.scores is not None
    return replace(
        model,
        row_keys=np.tile(model.row_keys, repeats),
        y_true=np.tile(model.y_true, repeats),
        predictions=Predictions(labels=np.tile(p.labels, repeats), scores=np.tile(p.scores, repeats)),
        slices={column: np.tile(values, repeats) for column, values in model.slices.items()},
    )


def test_stacked_repetitions_count_distinct_rows_in_slices_and_in_the_rows_the_power_note_asks_for(
    config: Config,
) -> None:
    from mlops_actions.domain.inference import cross_fit_inflation

    candidate, baseline, inflation = stacked(scored(2), 2), stacked(scored(1), 2), cross_fit_inflation(5, 2)
    comparison = compare(candidate, baseline, config, inflation=inflation, repeats=2)
    assert [s["rows"] for s in comparison.slices] == [ROWS // 2, ROWS // 2]
    [power] = [rule["power"] for rule in comparison.gate.rules if rule.get("power")]
    assert power["underpowered"] and f"eval rows (now {ROWS})" in power["note"]
    paired = compare(candidate, baseline, config, inflation=inflation)  # counting the paired rows instead
    [as_paired] = [rule["power"] for rule in paired.gate.rules if rule.get("power")]
    assert f"eval rows (now {2 * ROWS})" in as_paired["note"]
    assert power["rows_needed"] == pytest.approx(as_paired["rows_needed"] / 2, abs=1)


def test_cross_fitted_rows_carry_no_test_that_takes_rows_as_independent(config: Config) -> None:
    from mlops_actions.domain.inference import cross_fit_inflation

    holdout = compare(scored(2), scored(1), config)
    cross_fitted = compare(
        stacked(scored(2), 2), stacked(scored(1), 2), config, inflation=cross_fit_inflation(5, 2)
    )
    tests = {row["name"]: row["test"] for row in holdout.metrics}
    assert tests["roc_auc"] is not None and tests["accuracy"] is not None
    assert all(row["test"] is None for row in cross_fitted.metrics)
