"""The trend dashboard: one self-contained page (no script, nothing fetched) with a point and a whisker per
released version, a mark per run, and every string from the records escaped."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser

from mlops_actions.render.trend_html import metric_chart_svg, render_trend_html, runs_strip_svg
from tests.trend_fixture import canned_trend, record, two_versions


class Elements(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def elements(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(page)
    return parser.tags


def test_the_page_is_self_contained():
    page = render_trend_html([canned_trend()])
    tags = elements(page)
    names = {tag for tag, _attrs in tags}
    assert "script" not in names and "link" not in names and "img" not in names and "iframe" not in names
    assert not any("src" in attrs for _tag, attrs in tags)
    assert "url(" not in page and "@import" not in page
    hrefs = [attrs["href"] for tag, attrs in tags if tag == "a"]
    assert hrefs == ["https://forge.example/pr/1#comment"]  # the records' own links, nothing to load


def test_each_released_version_is_a_point_with_its_interval_whisker():
    trend = canned_trend()
    svg = metric_chart_svg(trend.versions, "roc_auc")
    assert svg.count("<circle") == 2 and svg.count('class="whisker"') == 2
    assert 'data-version="1.0.0"' in svg and 'data-version="1.1.0"' in svg
    accuracy = metric_chart_svg(trend.versions, "accuracy")
    assert accuracy.count("<circle") == 2 and 'class="whisker"' not in accuracy  # no interval, no whisker
    assert metric_chart_svg(trend.versions, "rmse") == ""


def test_runs_are_marks_coloured_by_verdict_in_time_order():
    trend = canned_trend()
    svg = runs_strip_svg(trend.checks, "check")
    marks = re.findall(r'<rect class="run" data-verdict="(\w+)" x="([0-9.]+)"', svg)
    assert [verdict for verdict, _x in marks] == ["pass", "fail"]
    assert float(marks[0][1]) < float(marks[1][1])
    assert ">#1<" in svg and ">#2<" in svg
    assert runs_strip_svg([], "deploy") == ""


def test_the_page_has_one_chart_per_stage_with_runs_and_says_when_there_are_none():
    page = render_trend_html([canned_trend()])
    charts = {"metric-chart": 2, "check-chart": 1, "deploy-chart": 1, "monitor-chart": 1}  # roc_auc, accuracy
    for kind, count in charts.items():
        assert len(re.findall(rf'<svg [^>]*class="chart [^"]*\b{kind}\b', page)) == count, kind
    empty = render_trend_html([canned_trend(records=[], versions=[])])
    assert "<svg" not in empty and "No check recorded." in empty and "No deploy recorded." in empty


def test_hostile_strings_from_the_records_cannot_inject_html():
    hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    versions = [
        dataclasses.replace(v, metrics={hostile: {"value": 0.5}, **v.metrics}, version=v.version)
        for v in two_versions()
    ]
    checks = [
        record(
            1,
            "check",
            hostile,
            "2026-12-01T11:00:00Z",
            pr=1,
            commit=hostile,
            details={"title": hostile},
            links={hostile: "javascript:alert(3)", "run": 'https://x.example/"><b>'},
        ),
    ]
    trend = dataclasses.replace(
        canned_trend(records=checks, versions=versions, warnings=[hostile]), model=hostile
    )
    page = render_trend_html([trend])
    tags = elements(page)
    assert {tag for tag, _attrs in tags} <= {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "h1",
        "h2",
        "h3",
        "p",
        "span",
        "section",
        "svg",
        "line",
        "text",
        "polyline",
        "circle",
        "g",
        "rect",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "code",
        "details",
        "summary",
        "a",
        "div",
    }
    assert not any(name.startswith("on") for _tag, attrs in tags for name in attrs)
    assert "javascript:" not in page and "<script" not in page
    assert not any(tag == "a" for tag, _attrs in tags)  # neither link is a plain http(s) URL
    assert "&lt;script&gt;" in page
