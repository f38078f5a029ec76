"""The self-contained HTML report: same sections as the Markdown, expanded, autoescaped, inline SVG."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from mlops_actions.render import render_html

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "results"
SVG = "{http://www.w3.org/2000/svg}"
VOID = {"meta", "br", "link", "img", "hr", "input", "line", "circle", "rect", "path"}


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


class TagBalance(HTMLParser):
    """Collects tags and checks that every element that was opened is closed in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
            return
        self.stack.pop()


def parse(html: str) -> TagBalance:
    parser = TagBalance()
    parser.feed(html)
    parser.close()
    return parser


def svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(text) for text in re.findall(r"<svg\b.*?</svg>", html, flags=re.S)]


NAMES = [
    "pass_with_baseline",
    "fail_change_and_slice",
    "no_baseline",
    "regression",
    "data_checks_violations",
    "hostile_strings",
    "error",
]


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return {name: render_html(fixture(name)) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_page_is_well_formed_and_self_contained(pages: dict[str, str], name: str) -> None:
    html = pages[name]
    assert html.startswith("<!DOCTYPE html>")
    parsed = parse(html)
    assert parsed.problems == [] and parsed.stack == []
    assert "script" not in parsed.tags and "link" not in parsed.tags and "img" not in parsed.tags
    assert "iframe" not in parsed.tags and "object" not in parsed.tags
    sources = [value for key, value in parsed.attributes if key in ("src", "srcset")]
    assert sources == []
    assert "@import" not in html and "url(" not in html
    assert "default-src 'none'" in html


@pytest.mark.parametrize("name", NAMES)
def test_every_svg_parses_as_xml(pages: dict[str, str], name: str) -> None:
    for svg in svgs(pages[name]):
        assert svg.tag == f"{SVG}svg"
        assert svg.find(f"{SVG}title") is not None
        width, height = float(svg.get("width", 0)), float(svg.get("height", 0))
        for element in svg.iter():
            for attribute, limit in (("x", width), ("x1", width), ("x2", width), ("cx", width)):
                value = element.get(attribute)
                if value is not None:
                    assert -1 <= float(value) <= limit + 1
            for attribute, limit in (("y", height), ("y1", height), ("y2", height), ("cy", height)):
                value = element.get(attribute)
                if value is not None:
                    assert -1 <= float(value) <= limit + 1


def test_verdict_is_the_page_heading(pages: dict[str, str]) -> None:
    assert '<h1><span class="word">❌ FAIL</span>' in pages["fail_change_and_slice"]
    assert '<h1><span class="word">✅ PASS</span>' in pages["pass_with_baseline"]
    assert "<title>FAIL · churn · mlops-actions report</title>" in pages["fail_change_and_slice"]


def test_reasons_and_metrics_table_are_shown(pages: dict[str, str]) -> None:
    html = pages["fail_change_and_slice"]
    assert (
        "<li>ROC AUC: Δ = -0.0222, 95% CI [-0.0301, -0.0143] lies entirely below the allowed -0.0100</li>"
        in html
    )
    header = "<th>metric</th><th>baseline</th><th>candidate</th><th>Δ</th><th>95% CI</th><th>rule</th><th>status</th>"
    assert header in html
    assert '<td class="num noise">+0.0025 △ within noise</td>' in html
    assert '<td class="num worse">-0.0222 ▼ worse</td>' in html
    assert '<span class="badge fail">❌ fail</span>' in html


def test_same_sections_as_the_markdown_all_expanded(pages: dict[str, str]) -> None:
    html = pages["data_checks_violations"]
    for section in ("metrics", "baseline", "slices", "data-checks", "compared", "tests"):
        assert f'<section id="{section}">' in html
    assert "<details" not in html
    assert "<td>income × tenure</td>" in html
    assert '<tr class="flagged"><td>churn_date</td><td class="num">0.9910</td><td>cramers_v</td></tr>' in html


def test_forest_plot_has_one_row_per_compared_metric(pages: dict[str, str]) -> None:
    chart = svgs(pages["fail_change_and_slice"])[0]
    assert chart.findtext(f"{SVG}title") == "Change vs baseline with 95% intervals"
    dots = chart.findall(f".//{SVG}circle")
    assert len(dots) == 4
    assert dots[0].get("fill") == "#cf222e"  # the failed primary metric
    labels = [text.text for text in chart.iter(f"{SVG}text")]
    assert "ROC AUC" in labels and "-2.61% [-3.54%, -1.68%]" in labels
    allowance_ticks = [line for line in chart.iter(f"{SVG}line") if line.get("stroke-dasharray")]
    assert len(allowance_ticks) == 2


def test_slice_chart_marks_the_flagged_slice(pages: dict[str, str]) -> None:
    chart = svgs(pages["fail_change_and_slice"])[1]
    dots = chart.findall(f".//{SVG}circle")
    assert [dot.get("fill") for dot in dots] == ["#cf222e", "#6e7781"]


def test_no_baseline_page_has_no_change_chart_but_slice_values(pages: dict[str, str]) -> None:
    html = pages["no_baseline"]
    assert "<strong>No baseline:</strong> only absolute bounds (min/max) were judged" in html
    charts = svgs(html)
    assert len(charts) == 1
    assert charts[0].findtext(f"{SVG}title") == "ROC AUC per slice"


def test_hostile_strings_are_escaped_everywhere(pages: dict[str, str]) -> None:
    html = pages["hostile_strings"]
    parsed = parse(html)
    assert parsed.problems == []
    assert "<script" not in html
    assert "<b>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:" not in [value for key, value in parsed.attributes if key == "href"]
    assert all(value and value.startswith("https://") for key, value in parsed.attributes if key == "href")


def test_test_output_is_shown_in_full(pages: dict[str, str]) -> None:
    html = pages["hostile_strings"]
    assert (
        "<pre>```\n&lt;/details&gt;\n&lt;script&gt;alert(1)&lt;/script&gt;\n@team ping\n````\nend</pre>"
        in html
    )


def test_every_slice_is_listed_in_the_html() -> None:
    result = fixture("pass_with_baseline")
    template = result["slices"][0]
    result["slices"] = [{**template, "value": f"v{index}"} for index in range(150)]
    html = render_html(result)
    assert html.count("<td>region</td><td>v") == 150
    chart = svgs(html)[1]
    assert len(chart.findall(f".//{SVG}circle")) == 60
    assert "showing 60; 90 more in the table" in (chart.findtext(f"{SVG}title") or "")


def test_writing_the_page_to_a_file_round_trips(tmp_path: Path, pages: dict[str, str]) -> None:
    path = tmp_path / "report.html"
    path.write_text(pages["regression"], encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    assert "R²" in text and "house-prices" in text
    assert len(text) < 200_000


def test_an_error_result_is_a_page_with_the_error_line_the_failed_step_and_how_to_reproduce_it(
    pages: dict[str, str],
) -> None:
    html = pages["error"]
    assert '⚠️ ERROR</span> <span class="model">model churn</span>' in html
    assert "training raised ValueError: Input X contains NaN" in html
    assert "<dt>Failed step</dt><dd>training candidate</dd>" in html
    assert "mlops-actions check --config mlops.yaml" in html
    assert "Metrics" not in html


def test_a_hostile_error_line_is_escaped_in_the_page() -> None:
    result = fixture("error")
    result["error"] = {**result["error"], "message": "<script>alert(1)</script>", "stage": "<b>tests</b>"}
    html = render_html(result)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>tests</b>" not in html


def test_the_html_report_names_the_models_not_checked() -> None:
    result = {
        **fixture("pass_with_baseline"),
        "skipped_models": [{"model": "b<x>", "reason": "no input changed: b/**"}],
    }
    html = render_html(result)
    assert "Not checked in this PR: <code>b&lt;x&gt;</code> (no input changed: b/**)" in html
