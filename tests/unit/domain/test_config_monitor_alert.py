"""The `monitor.alert` and `monitor.retrain` sections: documented defaults, and bad values named by key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlops_actions.domain.config import alert_settings, parse_config, retrain_settings
from mlops_actions.errors import ConfigError
from tests.conftest import TINY_CONFIG


def parsed(extra: str, tmp_path: Path):
    return parse_config(yaml.safe_load(TINY_CONFIG + extra), tmp_path / "mlops.yaml")


def test_without_the_sections_the_defaults_apply(tmp_path):
    config = parsed("", tmp_path)
    alert, retrain = alert_settings(config.raw), retrain_settings(config.raw)
    assert (
        alert.labels == ()
        and alert.severity["stability"] == "high"
        and alert.severity["input_drift"] == "medium"
    )
    assert (retrain.after_windows, retrain.level, retrain.workflow, retrain.ref) == (
        3,
        "fail",
        "mlops-retrain.yml",
        "main",
    )
    assert retrain.checks == ("stability", "input_drift", "prediction_drift")


def test_the_retrain_runs_on_the_production_branch_unless_a_ref_is_named(tmp_path):
    assert retrain_settings(parsed("baseline: {target_branch: prod}\n", tmp_path).raw).ref == "prod"
    named = parsed("baseline: {target_branch: prod}\nmonitor:\n  retrain: {ref: release}\n", tmp_path)
    assert retrain_settings(named.raw).ref == "release"


def test_severities_and_labels_are_taken_from_the_alert_section(tmp_path):
    config = parsed("monitor:\n  alert: {labels: [oncall], severity: {input_drift: low}}\n", tmp_path)
    alert = alert_settings(config.raw)
    assert alert.labels == ("oncall",) and alert.severity["input_drift"] == "low"
    assert alert.severity["stability"] == "high"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "monitor:\n  retrain: {after_windows: 0}\n",
            "monitor.retrain.after_windows: 0 is less than the minimum of 1",
        ),
        ("monitor:\n  retrain: {level: bad}\n", "monitor.retrain.level: expected one of warn, fail"),
        (
            "monitor:\n  alert: {severity: {stability: urgent}}\n",
            "monitor.alert.severity.stability: expected one of high",
        ),
        ("monitor:\n  alert: {labels: ['a,b']}\n", "monitor.alert.labels[0]"),
        ("monitor:\n  retrain: {every: 3}\n", "monitor.retrain: unknown key 'every'"),
    ],
)
def test_bad_alert_and_retrain_settings_name_their_key(tmp_path, extra, message):
    with pytest.raises(ConfigError) as raised:
        parsed(extra, tmp_path)
    assert message in str(raised.value)
