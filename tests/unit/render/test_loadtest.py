"""The load test's Markdown: the verdict in one line first, then the figures against their thresholds."""

from __future__ import annotations

from mlops_actions.domain.config import LoadTestThresholds
from mlops_actions.domain.loadtest import summarise
from mlops_actions.render.loadtest import loadtest_markdown

URL = "http://127.0.0.1:8080"


def test_a_passing_run_says_so_first_with_its_load():
    result = summarise([4.0] * 99 + [9.0], {}, elapsed_s=2.0, users=4, thresholds=LoadTestThresholds())
    first, blank, header, *_ = loadtest_markdown(result, URL).splitlines()
    assert first == (
        "**Load test passed** on `http://127.0.0.1:8080`: 100 requests in 2.0 s at 50.0 rps, 4 users, "
        "p99 4.05 ms, error rate 0%"
    )
    assert blank == "" and header == "| figure | value | threshold | result |"


def test_a_failing_run_names_each_breached_threshold_in_its_first_line_and_its_table_row():
    result = summarise(
        [300.0] * 100, {}, elapsed_s=1.0, users=2, thresholds=LoadTestThresholds(p95_ms=100, p99_ms=200)
    )
    text = loadtest_markdown(result, URL)
    first = text.splitlines()[0]
    assert first.startswith("**Load test failed** on `http://127.0.0.1:8080`: ")
    assert "p95 300 ms > 100 ms (loadtest.thresholds.p95_ms); p99 300 ms > 200 ms" in first
    assert "| p99 | 300 ms | ≤ 200 ms | **fail** |" in text
    assert "| error rate | 0% | ≤ 1% | pass |" in text
    assert "| throughput | 100.0 rps |  |  |" in text  # no min_rps: not judged


def test_an_aborted_run_says_it_stopped_early_and_lists_the_errors_by_kind():
    result = summarise(
        [1.0] * 200, {"422": 200}, elapsed_s=0.5, users=2, thresholds=LoadTestThresholds(), aborted=True
    )
    text = loadtest_markdown(result, URL)
    assert text.startswith("**Load test failed (aborted after 200 requests)** on ")
    assert "error rate 100% > 1% (loadtest.thresholds.error_rate)" in text.splitlines()[0]
    assert "- 422: 200" in text and "loadtest.abort_on_fail" in text


def test_a_url_with_markdown_in_it_is_escaped():
    result = summarise([1.0], {}, elapsed_s=1.0, users=1, thresholds=LoadTestThresholds())
    first = loadtest_markdown(result, "http://x/`](javascript:alert(1))").splitlines()[0]
    assert "on http:&#8203;//x/\\`\\](javascript:alert(1)): " in first  # escaped, not a code span or link
