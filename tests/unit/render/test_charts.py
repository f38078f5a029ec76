"""Charts of the deltas: direction adjustment, common scale, Mermaid syntax and SVG forest plots."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from mlops_actions.render.charts import (
    ForestRow,
    change_points,
    change_scale,
    chart_slices,
    forest_svg,
    mermaid_changes,
)
from mlops_actions.render.view import MetricView, SliceView, build_report


def metric(
    name: str = "m",
    *,
    higher_is_better: bool = True,
    baseline: float | None = 0.5,
    delta: float | None = 0.01,
    ci: tuple[float, float] | None = (0.005, 0.015),
    within_noise: bool = False,
    status: str | None = None,
    allowances: list[tuple[str, float]] | None = None,
) -> MetricView:
    return MetricView(
        name=name,
        label=name.upper(),
        primary=False,
        higher_is_better=higher_is_better,
        baseline=baseline,
        candidate=None if baseline is None or delta is None else baseline + delta,
        delta=delta,
        ci_low=ci[0] if ci else None,
        ci_high=ci[1] if ci else None,
        within_noise=within_noise,
        direction=None,
        allowances=allowances or [],
        status=status,
    )


def test_lower_is_better_delta_is_flipped_so_positive_means_better() -> None:
    loss = metric("loss", higher_is_better=False, delta=-0.02, ci=(-0.03, -0.01))
    assert loss.adjusted_delta == pytest.approx(0.02)
    assert loss.adjusted_interval == pytest.approx((0.01, 0.03))


def test_changes_are_in_percent_of_baseline_when_every_baseline_is_non_zero() -> None:
    scale, points = change_points([metric("auc", baseline=0.8, delta=0.008, ci=(0.004, 0.012))])
    assert scale == "percent"
    assert points[0].value == pytest.approx(1.0)
    assert (points[0].low, points[0].high) == pytest.approx((0.5, 1.5))


def test_a_zero_baseline_switches_to_absolute_units() -> None:
    metrics = [metric("a", baseline=0.0, delta=0.1), metric("b", baseline=2.0, delta=0.1)]
    assert change_scale(metrics) == "absolute"
    assert change_points(metrics)[1][0].value == pytest.approx(0.1)


def test_allowances_are_placed_on_the_chart_scale() -> None:
    auc = metric("auc", baseline=0.8, allowances=[("change", -0.008), ("change_relative", -0.02)])
    _, points = change_points([auc])
    assert points[0].allowances == pytest.approx([-1.0, -2.0])


def test_metrics_without_delta_are_not_charted() -> None:
    assert change_points([metric(delta=None, baseline=None)]) == ("absolute", [])


def test_point_state_prefers_failure_then_noise() -> None:
    _, points = change_points(
        [metric("a", status="fail", within_noise=True), metric("b", within_noise=True), metric("c")]
    )
    assert [p.state for p in points] == ["fail", "noise", "same"]


def test_mermaid_chart_never_draws_a_negative_bar() -> None:
    report = build_report(
        {
            "metrics": [
                {
                    "name": "a",
                    "label": "A",
                    "higher_is_better": True,
                    "baseline": 1.0,
                    "candidate": 1.1,
                    "delta": 0.1,
                    "ci_low": 0.05,
                    "ci_high": 0.15,
                    "within_noise": False,
                },
                {
                    "name": "b",
                    "label": "B",
                    "higher_is_better": True,
                    "baseline": 1.0,
                    "candidate": 0.8,
                    "delta": -0.2,
                    "ci_low": -0.3,
                    "ci_high": -0.1,
                    "within_noise": False,
                },
            ],
            "baseline": {"source": "registry", "reason": ""},
        }
    )
    chart = mermaid_changes(report)
    assert chart is not None
    bars = re.findall(r"bar \[([^\]]*)\]", chart)
    assert bars == ["10, 0", "0, 20"]
    assert all(not value.strip().startswith("-") for bar in bars for value in bar.split(","))
    assert 'x-axis ["▲ A +10.00%", "▼ B -20.00%"]' in chart
    assert 'y-axis "size of change, % of baseline" 0 --> 25' in chart
    assert chart.startswith("---\nconfig:\n")


def test_no_mermaid_chart_without_a_baseline() -> None:
    report = build_report({"metrics": [{"name": "a", "candidate": 0.9, "delta": None}]})
    assert mermaid_changes(report) is None


def test_forest_plot_is_valid_svg_with_zero_line_and_hints() -> None:
    svg = forest_svg(
        [ForestRow("<A&B>", 1.0, 0.5, 1.5, "#1a7f37", "+1.00%", [-1.0], "tip </title>")],
        title="T <x>",
        axis_title="axis",
        unit="%",
    )
    root = ET.fromstring(svg)
    texts = [element.text for element in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "<A&B>" in texts and "← worse" in texts and "better →" in texts and "0%" in texts
    assert root.findtext("{http://www.w3.org/2000/svg}title") == "T <x>"


def test_forest_plot_of_identical_values_still_has_a_range() -> None:
    root = ET.fromstring(
        forest_svg([ForestRow("a", 0.0, None, None, "#000", "", [], "")], title="t", axis_title="x")
    )
    dot = root.find(".//{http://www.w3.org/2000/svg}circle")
    assert dot is not None
    assert 200 <= float(dot.get("cx", "nan")) <= 560


def test_slice_chart_keeps_flagged_slices_when_there_are_too_many() -> None:
    slices = [
        SliceView(column="c", value=str(i), rows=i, metric=metric(), status="fail" if i == 3 else "pass")
        for i in range(100)
    ]
    shown = chart_slices(slices, limit=10)
    assert len(shown) == 10
    assert any(s.value == "3" for s in shown)
    assert [int(s.value) for s in shown] == sorted(int(s.value) for s in shown)
    assert {s.value for s in shown} - {"3"} == {str(i) for i in range(91, 100)}
