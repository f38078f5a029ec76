"""Drift between profiles: known answers, method choice by sample size, correlation changes, verdicts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from mlops_actions.domain.data.drift import (
    DEFAULT_THRESHOLDS,
    compare_profiles,
    drift_files,
    drift_to_dict,
    parse_threshold_options,
    resolve_thresholds,
)
from mlops_actions.domain.data.profile import profile_frame, save_profile
from mlops_actions.errors import ConfigError, DataError


def frame(seed: int, rows: int, shift: float = 0.0, plan_p=(0.5, 0.3, 0.2)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1, rows)
    return pd.DataFrame(
        {
            "x": x,
            "y": x * 0.8 + rng.normal(0, 0.6, rows),
            "z": rng.exponential(1.0, rows),
            "plan": rng.choice(["a", "b", "c"], rows, p=list(plan_p)),
        }
    )


def compare(reference: pd.DataFrame, current: pd.DataFrame, **kwargs):
    ref = profile_frame(reference)
    return compare_profiles(ref, profile_frame(current, edges_from=ref), **kwargs)


def by_column(report):
    return {c.column: c for c in report.columns}


def test_identical_data_scores_zero_and_does_not_drift():
    data = frame(0, 5000)
    report = compare(data, data)
    for column in report.columns:
        assert column.score == pytest.approx(0.0, abs=1e-12)
        assert not column.drifted
        if column.kind == "numeric":
            assert column.extras["wasserstein_norm"] == pytest.approx(0.0, abs=1e-12)
    assert not report.drifted
    assert all(abs(c.delta) < 1e-12 for c in report.correlation_changes)


def test_a_shifted_normal_drifts_with_the_expected_psi_and_wasserstein():
    report = compare(frame(0, 50_000), frame(1, 50_000, shift=0.5))
    x = by_column(report)["x"]
    assert x.method == "psi" and x.drifted
    bounds = np.concatenate([[-np.inf], scipy_stats.norm.ppf(np.arange(1, 10) / 10), [np.inf]])
    shares = np.diff(scipy_stats.norm.cdf(bounds - 0.5))
    assert x.score == pytest.approx(float(np.sum((shares - 0.1) * np.log(shares / 0.1))), abs=0.02)
    assert x.extras["wasserstein_norm"] == pytest.approx(0.5, abs=0.03)
    assert not by_column(report)["z"].drifted
    assert not by_column(report)["plan"].drifted


def test_a_fresh_sample_from_the_same_distribution_does_not_drift():
    report = compare(frame(0, 20_000), frame(1, 20_000))
    assert not report.drifted and report.drifted_columns == 0


def test_categorical_shift_is_measured_with_jensen_shannon():
    report = compare(frame(0, 20_000), frame(1, 20_000, plan_p=(0.1, 0.3, 0.6)))
    plan = by_column(report)["plan"]
    assert plan.method == "jensenshannon" and plan.drifted
    assert plan.extras["chi2_pvalue"] < 1e-10


def test_small_samples_use_ks_and_chi_squared_matching_scipy():
    reference, current = frame(0, 300), frame(1, 200, shift=0.4, plan_p=(0.2, 0.3, 0.5))
    report = compare(reference, current)
    x, plan = by_column(report)["x"], by_column(report)["plan"]
    expected = scipy_stats.ks_2samp(reference["x"], current["x"])
    assert x.method == "ks" and x.extras["ks_exact"]
    assert x.score == pytest.approx(expected.pvalue) and x.extras["ks_statistic"] == pytest.approx(
        expected.statistic
    )
    assert x.drifted
    table = pd.crosstab(
        np.r_[np.zeros(300), np.ones(200)], pd.concat([reference["plan"], current["plan"]], ignore_index=True)
    )
    chi2 = scipy_stats.chi2_contingency(table.to_numpy(), correction=False)
    assert plan.method == "chi2"
    assert plan.score == pytest.approx(chi2.pvalue) and plan.extras["chi2_statistic"] == pytest.approx(
        chi2.statistic
    )


def test_a_jump_in_missing_values_drifts_through_the_missing_bin():
    reference = frame(0, 5000)
    current = frame(1, 5000)
    current.loc[:2000, "z"] = np.nan
    z = by_column(compare(reference, current))["z"]
    assert z.drifted and z.extras["current_null_share"] == pytest.approx(0.4, abs=0.01)


def test_a_change_of_correlation_is_flagged_and_drifts_the_dataset():
    reference = frame(0, 5000)
    current = frame(1, 5000)
    current["y"] = np.random.default_rng(9).normal(0, 1, 5000)
    report = compare(reference, current)
    top = report.correlation_changes[0]
    assert {top.a, top.b} == {"x", "y"}
    assert top.before == pytest.approx(0.8, abs=0.03) and top.after == pytest.approx(0.0, abs=0.05)
    assert top.flagged and report.flagged_correlations == 1
    assert report.drifted and any("correlation" in reason for reason in report.reasons)


def test_dataset_drifts_when_the_share_of_drifted_columns_reaches_the_threshold():
    reference, current = frame(0, 5000), frame(1, 5000, shift=1.0)
    current["y"] = current["y"] + 1.0
    report = compare(reference, current, thresholds={"correlation": 2})
    assert report.drifted_columns == 2 and report.share == 0.5
    assert report.drifted
    assert not compare(reference, current, thresholds={"drift_share": 0.6, "correlation": 2}).drifted


def test_excluded_and_non_shared_columns_are_left_out():
    reference = frame(0, 2000)
    current = frame(1, 2000).drop(columns=["z"]).assign(extra=1.0)
    report = compare(reference, current, exclude=["plan"])
    assert sorted(by_column(report)) == ["x", "y"]
    assert report.new_columns == ["extra"] and report.missing_columns == ["z"]


def test_a_column_that_changes_kind_drifts():
    reference = pd.DataFrame({"v": np.arange(2000.0)})
    current = pd.DataFrame({"v": ["a"] * 2000})
    v = by_column(compare(reference, current))["v"]
    assert v.method == "kind_change" and v.drifted


def test_json_form_has_the_documented_keys_and_is_strict_json():
    report = compare(frame(0, 3000), frame(1, 3000, shift=0.5))
    payload = drift_to_dict(report)
    text = json.dumps(payload, allow_nan=False)
    for column in json.loads(text)["columns"]:
        assert {"column", "kind", "method", "score", "threshold", "drifted"} <= set(column)
    assert set(payload["correlation_changes"][0]) >= {"a", "b", "before", "after", "delta"}


def test_drift_from_files_equals_drift_from_a_saved_reference_profile(tmp_path):
    reference, current = frame(0, 4000), frame(1, 3000, shift=0.3)
    pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'mlops-actions[parquet]')")
    reference.to_parquet(tmp_path / "ref.parquet")
    current.to_csv(tmp_path / "cur.csv", index=False)
    from_files = drift_to_dict(drift_files(tmp_path / "ref.parquet", tmp_path / "cur.csv"))
    save_profile(profile_frame(reference), tmp_path / "ref.json")
    from_profile = drift_to_dict(drift_files(tmp_path / "ref.json", tmp_path / "cur.csv"))
    assert [c["score"] for c in from_files["columns"]] == pytest.approx(
        [c["score"] for c in from_profile["columns"]], rel=1e-9
    )


def test_drift_files_can_restrict_columns(tmp_path):
    frame(0, 2000).to_csv(tmp_path / "a.csv", index=False)
    frame(1, 2000).to_csv(tmp_path / "b.csv", index=False)
    report = drift_files(tmp_path / "a.csv", tmp_path / "b.csv", columns=["x", "plan"])
    assert sorted(c.column for c in report.columns) == ["plan", "x"]
    with pytest.raises(DataError, match="no column 'nope'"):
        drift_files(tmp_path / "a.csv", tmp_path / "b.csv", columns=["nope"])


def test_thresholds_have_documented_defaults_and_reject_unknown_names():
    assert resolve_thresholds(None) == DEFAULT_THRESHOLDS
    assert parse_threshold_options(["psi=0.25,drift_share=0.3"]) == {"psi": 0.25, "drift_share": 0.3}
    with pytest.raises(ConfigError, match="unknown drift threshold 'pis'"):
        parse_threshold_options(["pis=0.2"])
    with pytest.raises(ConfigError, match="must look like NAME=VALUE"):
        parse_threshold_options(["psi"])
    with pytest.raises(ConfigError, match="must be a number"):
        parse_threshold_options(["psi=high"])
