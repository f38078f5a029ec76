"""The monitor's report: the verdict line first, a row per window, log values escaped."""

from __future__ import annotations

from mlops_actions.monitoring.result import Finding, MonitorResult, WindowResult
from mlops_actions.render.monitor import render_monitor_markdown, verdict


def window(start: str, *findings: Finding, rows: int = 500) -> WindowResult:
    return WindowResult(start, start, rows, findings)


def result(*windows: WindowResult) -> dict:
    return MonitorResult(
        model="credit-default",
        version="1.2.0",
        reference="version 1.2.0's training-data profile",
        window="1h",
        since=None,
        files=("log.jsonl",),
        rows_read=1000,
        rows_before_since=0,
        partial_lines=1,
        prediction_drift_reference="the first window",
        windows=windows,
        settings={"nan_output_share": 0.0, "drift_thresholds": {"psi": 0.2}},
    ).to_dict()


OK = Finding("stability", "ok")


def test_the_verdict_names_how_many_windows_fail_and_each_problem_with_its_window():
    document = result(
        window("2026-11-30T13:00:00Z", OK),
        window("2026-11-30T14:00:00Z", Finding("stability", "fail", ("3.0% NaN outputs",))),
        window(
            "2026-11-30T15:00:00Z", Finding("range", "fail", ("out-of-range income 4.1% (trained 0 to 9)",))
        ),
    )
    assert verdict(document) == (
        "credit-default v1.2.0: 2 of 3 windows fail: 3.0% NaN outputs (2026-11-30 14:00), "
        "out-of-range income 4.1% (trained 0 to 9) (2026-11-30 15:00)"
    )


def test_a_healthy_run_says_so_with_its_warnings_and_short_windows():
    document = result(
        window("2026-11-30T13:00:00Z", OK),
        window("2026-11-30T14:00:00Z", Finding("schema", "warn", ("new column x",))),
        window("2026-11-30T15:00:00Z", Finding("stability", "insufficient", ("3 rows",)), rows=3),
    )
    assert verdict(document) == (
        "credit-default v1.2.0: no check fails in 3 1h window(s) (1 with warnings, 1 with too few rows)"
    )


def test_the_report_starts_with_the_verdict_and_escapes_what_came_from_the_logs():
    hostile = "region: 5.0% unseen categories (<img src=x>, [link](http://evil), `code`)"
    document = result(window("2026-11-30T14:00:00Z", Finding("schema", "fail", (hostile,))))
    markdown = render_monitor_markdown(document)
    assert markdown.startswith("**credit-default v1.2.0: 1 of 1 windows fail: ")
    assert "<img" not in markdown and "[link](http://evil)" not in markdown and "`code`" not in markdown
    assert "| 2026-11-30 14:00 | 500 | — | ❌ fail |" in markdown
    assert "1 unfinished last line(s) left out" in markdown
