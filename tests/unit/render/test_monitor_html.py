"""The monitor's HTML page: self-contained (no script, nothing fetched from elsewhere), the verdict and the
windows, and one small chart per feature and per counter of the trend, log values escaped."""

from __future__ import annotations

import re

from mlops_actions.monitoring.result import Finding
from mlops_actions.render.monitor_html import render_monitor_html
from tests.unit.render.test_monitor import OK, result, state, trend_document, window, with_history

HOSTILE = '<script>alert(1)</script><img src="https://evil.example/x.png">'


def test_the_page_is_self_contained():
    page = render_monitor_html(trend_document())
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page.lower()
    assert re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, flags=re.IGNORECASE) == []
    assert "@import" not in page and "url(" not in page
    assert "default-src 'none'" in page


def test_the_trend_has_a_small_chart_per_feature_and_per_counter_with_the_flagged_windows_in_red():
    page = render_monitor_html(trend_document())
    charts = re.findall(r'<svg [^>]*class="spark"', page)
    assert len(charts) == 4  # income, the hostile column, the prediction; the NaN share
    income = page.split("<title>income: latest 0.2000</title>", 1)[1].split("</svg>", 1)[0]
    assert income.count("<rect") == 5 and income.count('fill="#cf222e"') == 2
    assert "2026-11-30 03:00: 0.8000 (flagged)" in income
    assert page.count('class="strip"') == 1


def test_the_verdict_and_the_windows_come_first_and_log_values_are_escaped():
    document = result(
        window("2026-11-30T04:00:00Z", Finding("schema", "fail", (f"region: unseen {HOSTILE}",)))
    )
    page = render_monitor_html(with_history(document, [state(3, income=0.1), state(4, income=0.2)]))
    assert "credit-default v1.2.0: 1 of 1 windows fail" in page
    assert page.index("Windows") < page.index("Trend")
    assert "<script>" not in page and 'src="https://evil' not in page
    assert "&lt;script&gt;" in page
    assert "&lt;img src=x&gt;" in page  # the hostile column name of the trend, in an SVG title


def test_without_a_history_the_page_has_no_trend():
    page = render_monitor_html(result(window("2026-11-30T04:00:00Z", OK)))
    assert 'id="trend"' not in page and 'class="spark"' not in page


def test_every_chart_is_well_formed_svg():
    from xml.etree import ElementTree

    page = render_monitor_html(trend_document())
    svgs = re.findall(r"<svg .*?</svg>", page, flags=re.DOTALL)
    assert len(svgs) == 5
    for svg in svgs:
        assert ElementTree.fromstring(svg).tag == "{http://www.w3.org/2000/svg}svg"
