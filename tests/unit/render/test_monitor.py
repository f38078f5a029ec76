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


# -- the trend ---------------------------------------------------------------------------------------

HOSTILE_COLUMN = "<img src=x>|`x`"


def state(
    hour: int, *, income: float, drifted: bool = False, nan_share: float = 0.0, status: str = "ok"
) -> dict:
    """A window state as monitor.json's history holds it."""
    return {
        "start": f"2026-11-30T{hour:02d}:00:00Z",
        "end": f"2026-11-30T{hour + 1:02d}:00:00Z",
        "rows": 500,
        "status": status,
        "version": "1.2.0",
        "checks": {"stability": "fail" if nan_share else "ok", "range": "ok", "input_drift": "ok"},
        "drift": {"income": income, HOSTILE_COLUMN: 0.01, "output:prediction": 0.02},
        "drifted": ["income"] if drifted else [],
        "counters": {"nonfinite_share": nan_share} if nan_share else {},
    }


def with_history(document: dict, states: list[dict]) -> dict:
    return {**document, "history": states}


def trend_document() -> dict:
    document = result(window("2026-11-30T04:00:00Z", OK))
    states = [
        state(0, income=0.0),
        state(1, income=0.1),
        state(2, income=0.4, drifted=True, nan_share=0.03, status="fail"),
        state(3, income=0.8, drifted=True),
        state(4, income=0.2),
    ]
    return with_history(document, states)


def test_the_trend_shows_each_features_drift_as_a_sparkline_with_its_drifted_windows_marked():
    markdown = render_monitor_markdown(trend_document())
    assert "## Trend" in markdown
    assert (
        "The last 5 1h windows, oldest first (2026-11-30 00:00 to 2026-11-30 04:00 UTC; 4 of them from earlier runs)"
        in markdown
    )
    assert "| income | `▁▂▅█▃`<br>`..!!.` | 0.2000 | 2 of 5 |" in markdown
    assert "| prediction (output) | `█████`<br>`.....` |" in markdown  # on its own scale
    assert "Window status: `✓✓✗✓✓`" in markdown


def test_the_trend_shows_the_stability_counters_with_the_windows_whose_check_failed():
    markdown = render_monitor_markdown(trend_document())
    assert "| NaN / infinite outputs (share) | `▁▁█▁▁`<br>`..!..` | 0.0000 | 0.0300 | 1 of 5 |" in markdown


def test_column_names_from_the_logs_are_escaped_in_the_trend():
    markdown = render_monitor_markdown(trend_document())
    assert "<img" not in markdown and "`x`" not in markdown
    assert "| &lt;img src=x&gt;\\|\\`x\\` | `█████`" in markdown


def test_a_history_of_one_window_shows_no_trend_yet():
    document = result(window("2026-11-30T04:00:00Z", OK))
    assert "## Trend" not in render_monitor_markdown(with_history(document, [state(4, income=0.1)]))
    assert "## Trend" not in render_monitor_markdown(document)  # a monitor.json without history


def test_a_p_value_is_drawn_as_one_minus_p_so_a_taller_bar_always_means_more_change():
    small = [state(h, income=p) for h, p in ((0, 0.9), (1, 0.5), (2, 0.01))]
    for item in small:
        item["tested"] = ["income"]
    large = state(3, income=0.3)  # a distance again, in a large window
    markdown = render_monitor_markdown(
        with_history(result(window("2026-11-30T03:00:00Z", OK)), [*small, large])
    )
    assert "| income | `▁▅█▃`<br>`....` | 0.3000 | 0 of 4 |" in markdown
    markdown = render_monitor_markdown(with_history(result(window("2026-11-30T02:00:00Z", OK)), small))
    assert "| income | `▁▅█`<br>`...` | p 0.0100 | 0 of 3 |" in markdown
