"""Deploy records as plain and Markdown tables."""

from __future__ import annotations

from mlops_actions.render.deploys import deploys_markdown, deploys_text

RECORD = {
    "time": "2026-12-01T16:00:00.123Z",
    "version": "1.3.0",
    "outcome": "rolled_back",
    "previous": "1.2.0",
    "reason": "smoke\n\x1b[31mfailed\x1b[0m | <script>",
    "target": "built-in",
    "smoke": {"rows": 20, "mismatches": 3},
    "load": None,
    "duration_s": 41.25,
    "run_url": None,
}


def test_a_record_is_one_plain_row_with_controls_removed_and_missing_figures_dashed() -> None:
    header, row = deploys_text([RECORD]).splitlines()
    assert header.split()[:3] == ["time", "version", "outcome"]
    assert "\x1b" not in row and row.endswith("smoke failed | <script>")
    assert "3/20 off" in row and "41.2" in row and "—" in row


def test_a_markdown_row_escapes_every_value() -> None:
    lines = deploys_markdown([RECORD]).splitlines()
    assert len(lines) == 3 and lines[1].startswith("|---|")
    assert "<script>" not in lines[2] and "\\|" in lines[2]


def test_no_records_is_said_in_one_line() -> None:
    assert deploys_text([]) == "no deploy records yet\n"
    assert deploys_markdown([]) == "_No deploy records yet._\n"
