"""The trend in Markdown: a Mermaid chart of the primary metric per version, the versions, the outcome counts,
and the release notes' short trend; untrusted names cannot break the Markdown or the chart."""

from __future__ import annotations

from mlops_actions.metadata.trends import MetricPoint, VersionPoint
from mlops_actions.render.trend import mermaid_chart, release_trend_markdown, sparkline, trend_markdown
from tests.trend_fixture import canned_trend, record


def test_the_summary_charts_the_primary_metric_per_version_and_counts_the_outcomes():
    text = trend_markdown([canned_trend()])
    assert "```mermaid\nxychart-beta\n" in text
    assert 'x-axis ["1.0.0", "1.1.0"]' in text and "line [0.8, 0.84]" in text
    assert "| 1.1.0 (production) | 0.8400 | [0.8100, 0.8700] |" in text
    assert "- PR checks: 1 fail, 1 pass" in text and "- deploys: 1 promoted" in text
    assert "- monitor runs: 1 alert" in text
    assert "| #1 | ccccccc | pass | 0.8400 | +0.0400 |" in text and "| #2 | ddddddd | fail |" in text


def test_no_version_means_no_chart_and_says_so():
    text = trend_markdown([canned_trend(versions=[], records=[])])
    assert "mermaid" not in text and "No released version yet." in text
    assert "- PR checks: none recorded" in text


def test_hostile_names_cannot_break_the_table_or_the_chart():
    import dataclasses

    hostile = 'x"] \n```\n<img src=x onerror=alert(1)>|'
    trend = canned_trend(
        records=[record(1, "check", hostile, "2026-12-01T11:00:00Z", pr=1)], warnings=[hostile]
    )
    trend = dataclasses.replace(trend, model=hostile)
    text = trend_markdown([trend])
    assert "<img" not in text
    assert text.count("```") == 2  # the chart's own fence, nothing else
    [title] = [line for line in mermaid_chart(trend).splitlines() if "title" in line]
    assert title.count('"') == 2  # one quoted label
    [check_row] = [line for line in text.splitlines() if line.startswith("| 2026")]
    assert check_row.count("|") - check_row.count("\\|") == 7  # six cells, the pipe escaped


def test_the_sparkline_spans_the_lowest_to_the_highest_value():
    assert sparkline([0.5, 1.5, None, 1.0]) == "▁█·▅"
    assert sparkline([1.0, 1.0]) == "▅▅"


def test_the_release_trend_table_marks_this_release_and_needs_an_earlier_version():
    points = [
        VersionPoint("1.0.0", "t", None, {"roc_auc": MetricPoint(0.80, 0.77, 0.83)}),
        VersionPoint("1.1.0", None, None, {"roc_auc": MetricPoint(0.84)}, current=True),
    ]
    text = release_trend_markdown(points, "roc_auc")
    assert text.startswith("`▁█` roc\\_auc over the last 2 versions") or text.startswith("`▁█` roc_auc over")
    assert "| 1.0.0 | 0.8000 | [0.7700, 0.8300] |" in text and "| 1.1.0 (this release) | 0.8400 | — |" in text
    assert release_trend_markdown(points[1:], "roc_auc") == ""


def test_the_model_card_shows_the_trend_only_when_given_one():
    import json
    from pathlib import Path

    from mlops_actions.render.model_card import render_model_card

    fixtures = Path(__file__).resolve().parents[2] / "fixtures" / "results"
    result = json.loads((fixtures / "pass_with_baseline.json").read_text())
    primary = result["model"]["primary_metric"]
    points = [
        VersionPoint("1.0.0", "t", None, {primary: MetricPoint(0.5)}),
        VersionPoint("1.1.0", None, None, {primary: MetricPoint(0.6)}, current=True),
    ]
    plain = render_model_card(result, version="1.1.0")
    card = render_model_card(result, version="1.1.0", trend=points)
    assert "## Trend of" not in plain and "## Trend of" in card
    assert "| 1.1.0 (this release) | 0.6000 |" in card
    assert card.replace(card[card.index("## Trend of") : card.index("## Training data")], "") == plain
