"""The trend's data: versions from the registry completed by the store's release records, the runs of one
model by stage, and the short trend of the release notes."""

from __future__ import annotations

from mlops_actions.metadata.records import Listing
from mlops_actions.metadata.trends import MetricPoint, build_trend, release_trend, version_points
from tests.trend_fixture import MODEL, canned_trend, record, two_versions, version


def test_every_released_version_carries_its_metrics_with_the_value_intervals():
    trend = canned_trend()
    assert [v.version for v in trend.versions] == ["1.0.0", "1.1.0"]
    assert trend.versions[0].metrics["roc_auc"] == MetricPoint(0.80, 0.77, 0.83)
    # 1.1.0 was gated against 1.0.0: the registry's interval is the change's; the release record gives the value's
    assert trend.versions[1].metrics["roc_auc"] == MetricPoint(0.84, 0.81, 0.87)
    assert trend.versions[1].metrics["accuracy"] == MetricPoint(0.78)
    assert trend.versions[1].production and not trend.versions[0].production


def test_the_interval_of_a_change_is_not_shown_as_the_interval_of_the_value_without_a_record():
    points = version_points(two_versions())
    # no whisker rather than a wrong one: the interval kept is said to be the change's
    assert points[1].metrics["roc_auc"] == MetricPoint(0.84, change_low=0.01, change_high=0.06)
    assert points[0].metrics["roc_auc"] == MetricPoint(0.80, 0.77, 0.83)


def test_an_interval_that_does_not_hold_its_value_is_dropped():
    [point] = version_points(
        [version("1.0.0", "t", None, {"rmse": {"value": 5.0, "ci_low": -0.5, "ci_high": 0.3}})]
    )
    assert point.metrics["rmse"] == MetricPoint(5.0)


def test_a_gated_release_records_interval_is_the_changes():
    gated = record(
        9,
        "release",
        "released",
        "2026-12-01T12:00:00Z",
        version="1.1.0",
        baseline={"source": "registry", "version": "1.0.0", "commit": None},
        metrics={"roc_auc": {"value": 0.84, "low": 0.01, "high": 0.06}},
    )
    [_first, second] = version_points(two_versions(), [gated])
    assert second.metrics["roc_auc"] == MetricPoint(0.84, change_low=0.01, change_high=0.06)


def test_a_release_record_with_the_changes_interval_as_delta_bounds_shows_it_as_the_changes():
    gated = record(
        9,
        "release",
        "released",
        "2026-12-01T12:00:00Z",
        version="1.1.0",
        baseline={"source": "registry", "version": "1.0.0", "commit": None},
        metrics={"roc_auc": {"value": 0.84, "delta": 0.04, "delta_low": 0.01, "delta_high": 0.06}},
    )
    [only] = version_points([], [gated])  # a version only the store knows
    assert only.metrics["roc_auc"] == MetricPoint(0.84, change_low=0.01, change_high=0.06)


def test_a_version_only_the_store_knows_is_shown_and_versions_sort_by_number():
    released = record(
        9,
        "release",
        "released",
        "2026-11-01T00:00:00Z",
        version="0.9.0",
        metrics={"roc_auc": {"value": 0.7, "low": 0.6, "high": 0.8}},
    )
    failed = record(10, "release", "error", "2026-11-02T00:00:00Z", version="0.10.0")
    points = version_points(two_versions(), [released, failed])
    assert [p.version for p in points] == ["0.9.0", "1.0.0", "1.1.0"]
    assert points[0].metrics["roc_auc"] == MetricPoint(0.7, 0.6, 0.8)


def test_runs_are_split_by_stage_with_their_pull_request_commit_and_primary_metric():
    trend = canned_trend()
    assert [(c.pr, c.verdict) for c in trend.checks] == [(1, "pass"), (2, "fail")]  # other-model's left out
    assert trend.checks[0].primary == MetricPoint(0.84, 0.81, 0.87) and trend.checks[0].delta == 0.04
    assert trend.checks[0].title == "Add the ratio" and trend.checks[1].commit == "d" * 40
    assert [(d.version, d.verdict) for d in trend.deploys] == [("1.1.0", "promoted")]
    assert [m.verdict for m in trend.monitors] == ["alert"]
    assert trend.counts("check") == {"pass": 1, "fail": 1}
    assert trend.to_dict()["counts"]["deploy"] == {"promoted": 1}


def test_the_stores_warnings_travel_with_the_trend():
    trend = build_trend(MODEL, "roc_auc", Listing([], ["line 3: not JSON"]), [])
    assert trend.warnings == ["line 3: not JSON"] and trend.versions == [] and trend.checks == []


def _result(value, delta=None, low=None, high=None):
    return {
        "metrics": [{"name": "roc_auc", "candidate": value, "delta": delta, "ci_low": low, "ci_high": high}],
        "candidate": {"commit": "e" * 40},
    }


def test_the_release_trend_is_the_last_versions_and_this_one():
    versions = [version(f"1.{n}.0", "t", None, {"roc_auc": {"value": 0.7 + n / 100}}) for n in range(7)]
    points = release_trend(versions, "roc_auc", version="1.7.0", result=_result(0.9, 0.01, -0.01, 0.03))
    assert [p.version for p in points] == ["1.2.0", "1.3.0", "1.4.0", "1.5.0", "1.6.0", "1.7.0"]
    # compared with production: the check's interval is the change's
    assert points[-1].current
    assert points[-1].metrics["roc_auc"] == MetricPoint(0.9, change_low=-0.01, change_high=0.03)
    first = release_trend(versions[:1], "roc_auc", version="1.1.0", result=_result(0.9, None, 0.85, 0.95))
    assert first[-1].metrics["roc_auc"] == MetricPoint(0.9, 0.85, 0.95)


def test_a_first_release_has_no_trend():
    assert release_trend([], "roc_auc", version="1.0.0", result=_result(0.9)) == []
    assert release_trend(two_versions(), "rmse", version="1.2.0", result=_result(0.9)) == []
