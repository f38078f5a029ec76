"""render/report.py: the reports of one result document, rendered once per format, and their writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_actions.errors import PathError, UsageError
from mlops_actions.render import load_result, render_html, render_markdown
from mlops_actions.render.report import FORMATS, report, write_report

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "results"
RUN_URL = "https://ci.example.invalid/runs/42"


@pytest.fixture
def result() -> dict:
    return load_result(FIXTURES / "pass_with_baseline.json")


def test_the_reports_are_those_the_markdown_and_html_renderers_make(result: dict) -> None:
    reports = report(result)
    assert reports.markdown == render_markdown(result)
    assert reports.html == render_html(result)
    assert json.loads(reports.text("json")) == result


def test_links_given_to_the_report_appear_in_the_markdown_and_the_html_beside_the_results_own(
    result: dict,
) -> None:
    reports = report(result, links={"run_url": RUN_URL})
    assert RUN_URL in reports.markdown and RUN_URL in reports.html
    assert result["links"]["html_report"] in reports.markdown
    assert RUN_URL not in report(result).markdown


def test_max_chars_bounds_the_markdown_report(result: dict) -> None:
    assert len(report(result, max_chars=800).markdown) <= 800
    assert len(report(result).markdown) > 800


def test_a_format_is_rendered_only_when_asked_for(result: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> str:
        raise AssertionError("the HTML report was rendered")

    monkeypatch.setattr("mlops_actions.render.html.render_html", refuse)
    assert report(result).text("md") == render_markdown(result)


def test_every_format_the_command_offers_has_a_text(result: dict) -> None:
    reports = report(result)
    assert all(reports.text(fmt) for fmt in FORMATS)


def test_an_unknown_format_is_a_usage_error_naming_the_formats(result: dict) -> None:
    with pytest.raises(UsageError, match=r"unknown report format 'pdf', expected one of: md, html, json"):
        report(result).text("pdf")
    assert UsageError.exit_code == 2


def test_a_limit_below_one_character_is_a_usage_error(result: dict) -> None:
    with pytest.raises(UsageError, match="at least 1 character"):
        report(result, max_chars=0)


def test_write_report_replaces_the_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "deeper" / "report.md"
    write_report(target, "first")
    write_report(target, "second")
    assert target.read_text(encoding="utf-8") == "second"
    assert [p.name for p in target.parent.iterdir()] == ["report.md"]


def test_a_report_that_cannot_be_written_is_one_line_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(PathError, match=r"report\.md: cannot write the report"):
        write_report(blocker / "report.md", "text")
