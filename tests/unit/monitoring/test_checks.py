"""The monitor's checks on small logs: each problem flagged by its own check, thresholds from the config."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from mlops_actions.domain.config import monitor_settings
from mlops_actions.domain.data.profile import profile_frame
from mlops_actions.errors import DataError
from mlops_actions.monitoring.reference import Reference
from mlops_actions.monitoring.run import run_monitor

ROWS = 1200  # above small_sample: PSI and Jensen-Shannon decide, not tests at 5% false alarms


def training(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=2000),
            "group": rng.choice(["a", "b"], size=2000),
            "label": rng.integers(0, 2, 2000),
        }
    )


def log_rows(seed: int = 1, rows: int = ROWS, start: str = "2026-11-30T00:00:00Z") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p1 = rng.uniform(0.1, 0.9, size=rows)
    return pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "group": rng.choice(["a", "b"], size=rows),
            "prediction": (p1 >= 0.5).astype(int),
            "proba_0": 1 - p1,
            "proba_1": p1,
            "time": pd.Timestamp(start) + pd.to_timedelta(np.linspace(0, 3000, rows), unit="s"),
            "request_id": [f"r{i}" for i in range(rows)],
        }
    )


@pytest.fixture
def config(example_config):
    raw = {**example_config.raw, "data": {**example_config.raw["data"], "target": "label"}}
    raw.pop("monitor", None)
    return dataclasses.replace(example_config, raw=raw, target="label", id_column=None, features=None)


def monitor(config, frame: pd.DataFrame, tmp_path, **options):
    path = tmp_path / "log.parquet"
    frame.to_parquet(path, index=False)
    reference = Reference(profile_frame(training()), "test profile")
    return run_monitor(config, str(path), reference, window="1h", **options)


def statuses(result) -> list[dict[str, str]]:
    return [{f.check: f.status for f in w.findings if f.status != "ok"} for w in result.windows]


def test_clean_logs_pass_every_check(config, tmp_path):
    result = monitor(config, log_rows(), tmp_path)
    assert statuses(result) == [{}] and not result.failed


def test_probabilities_outside_the_unit_interval_or_not_summing_to_one_fail_stability(config, tmp_path):
    frame = log_rows()
    frame.loc[:1, "proba_1"] = 1.5
    frame.loc[10:12, "proba_0"] = 0.0
    [window] = monitor(config, frame, tmp_path).windows
    stability = window.finding("stability")
    assert stability.status == "fail"
    assert (stability.figures["outside_unit_rows"], stability.figures["sum_off_rows"]) == (2, 5)
    assert stability.figures["nonfinite_rows"] == 0


def test_infinite_outputs_count_as_nan_outputs_and_any_fails_by_default(config, tmp_path):
    frame = log_rows()
    frame.loc[0, "proba_1"] = np.inf
    [window] = monitor(config, frame, tmp_path).windows
    figures = window.finding("stability").figures
    assert (figures["nonfinite_rows"], figures["infinite_rows"]) == (1, 1)
    assert window.finding("stability").problems[0] == "0.1% NaN outputs"


def test_the_nan_share_threshold_comes_from_the_monitor_section(config, tmp_path):
    frame = log_rows()
    frame.loc[:11, "proba_1"] = np.nan  # 1%
    lenient = dataclasses.replace(config, raw={**config.raw, "monitor": {"nan_output_share": 0.02}})
    assert statuses(monitor(lenient, frame, tmp_path)) == [{}]
    assert statuses(monitor(config, frame, tmp_path)) == [{"stability": "fail"}]


def test_more_missing_values_than_in_training_fail_the_schema_check(config, tmp_path):
    frame = log_rows()
    frame.loc[: ROWS // 10, "x"] = np.nan
    [window] = monitor(config, frame, tmp_path).windows
    schema = window.finding("schema")
    assert schema.status == "fail" and schema.problems == ("x: 10.1% missing values (trained 0.0%)",)


def test_a_window_with_too_few_rows_is_insufficient_not_failed(config, tmp_path):
    frame = log_rows(rows=40)
    frame.loc[:, "proba_1"] = np.nan
    result = monitor(config, frame, tmp_path)
    assert {f.status for f in result.windows[0].findings} == {"insufficient"}
    assert not result.failed


def test_rows_before_since_are_left_out_and_counted(config, tmp_path):
    frame = pd.concat([log_rows(start="2026-11-29T00:00:00Z"), log_rows(seed=2)], ignore_index=True)
    result = monitor(config, frame, tmp_path, since="2026-11-30T00:00:00Z")
    assert [w.start for w in result.windows] == ["2026-11-30T00:00:00Z"]
    assert (result.rows_read, result.rows_before_since) == (2 * ROWS, ROWS)
    with pytest.raises(DataError, match="no rows at or after --since"):
        monitor(config, frame, tmp_path, since="2027-01-01")


def test_the_monitor_drift_thresholds_default_to_the_data_checks(example_config):
    settings = monitor_settings({"data": {"drift_thresholds": {"psi": 0.3}}})
    assert settings.drift_thresholds == {"psi": 0.3} and settings.min_window_rows == 100
    assert monitor_settings({"monitor": {"drift_thresholds": {"psi": 0.5}}, "data": {}}).drift_thresholds == {
        "psi": 0.5
    }


def test_holm_adjusted_p_values_follow_the_step_down_rule():
    from mlops_actions.monitoring.checks import holm_adjusted

    assert holm_adjusted([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm_adjusted([0.2, 0.9]) == pytest.approx([0.4, 0.9]) and holm_adjusted([]) == []


def test_the_drift_gate_comes_from_the_monitor_section():
    from mlops_actions.monitoring.checks import DriftGate, drift_gate

    assert drift_gate(monitor_settings({})) == DriftGate(
        holm=True, level=0.01, min_psi=None, min_jensenshannon=None
    )
    custom = {
        "drift_correction": "none",
        "drift_family_level": 0.05,
        "drift_min_psi": 0,
        "drift_min_jensenshannon": 0.2,
    }
    assert drift_gate(monitor_settings({"monitor": custom})) == DriftGate(False, 0.05, 0.0, 0.2)


def test_noise_alone_is_not_drift_in_a_small_window_but_a_real_shift_is(config, tmp_path):
    frame = log_rows(rows=300)
    quiet = monitor(config, frame, tmp_path).windows[0].finding("input_drift")
    assert quiet.status == "ok" and quiet.figures["columns"]["x"]["method"] == "ks"
    frame["x"] = frame["x"] + 1.0
    shifted = monitor(config, frame, tmp_path).windows[0].finding("input_drift")
    x = shifted.figures["columns"]["x"]
    assert shifted.figures["drifted"] == ["x"] and x["adjusted_pvalue"] < 0.01
    assert x["effect"] >= x["effect_threshold"] == 0.2
    assert x["effect"] < x["measured"]  # the noise level is taken off the measured PSI
