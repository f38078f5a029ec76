"""A result's notes (what does not change the verdict, e.g. a run not recorded in the metadata store) are shown
by every report of it: the comment and the HTML report, of a verdict and of an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_actions.render import render_markdown, validate_result
from mlops_actions.render.html import render_html

RESULTS = Path(__file__).resolve().parents[2] / "fixtures" / "results"
NOTE = (
    "not recorded in the metadata store: sqlite store .registry/metadata.sqlite: cannot open <the> database"
)


@pytest.mark.parametrize("name", ["pass_with_baseline", "error"])
def test_a_note_is_valid_in_the_result_and_shown_in_the_comment_and_the_html_report(name):
    result = json.loads((RESULTS / f"{name}.json").read_text())
    result["notes"] = [NOTE]
    validate_result(result)
    markdown = render_markdown(result)
    assert (
        "⚠ not recorded in the metadata store: sqlite store .registry/metadata.sqlite: cannot open"
        in markdown
    )
    assert "<the>" not in markdown  # escaped like any text of the result
    html = render_html(result)
    assert "⚠ not recorded in the metadata store" in html
    assert "&lt;the&gt;" in html


def test_a_result_without_notes_shows_none():
    result = json.loads((RESULTS / "pass_with_baseline.json").read_text())
    assert "⚠ " not in render_markdown(result)
