"""The runs table and one run's page, for a terminal."""

from __future__ import annotations

from mlops_actions.metadata.records import RunRecord
from mlops_actions.render.runs import primary_metric, run_text, runs_text
from tests.metadata_contract import sample_record


def test_the_table_shows_the_configured_primary_metric_when_the_run_has_it() -> None:
    text = runs_text([sample_record()], primary="f1")
    assert "f1 0.8000" in text and "accuracy" not in text


def test_a_run_without_the_primary_metric_shows_its_first_one() -> None:
    assert primary_metric(sample_record(), "roc_auc") == ("accuracy", sample_record().metrics["accuracy"])


def test_a_run_without_metrics_or_version_shows_dashes() -> None:
    record = RunRecord(
        id="a" * 32, stage="monitor", model="m", verdict="ok", started_at="2026-12-02T10:00:00Z"
    )
    row = runs_text([record]).splitlines()[1].split()
    assert row == ["aaaaaaaa", "2026-12-02T10:00:00Z", "monitor", "m", "ok", "—", "—"]
    assert "metrics     —" in run_text(record) and "baseline    —" in run_text(record)


def test_control_characters_from_a_record_never_reach_the_terminal() -> None:
    record = sample_record(model="m\x1b[31mred", details={"x": "a\nb\x1b]0;title\x07"})
    for text in (runs_text([record]), run_text(record)):
        assert "\x1b" not in text and "\x07" not in text


def test_an_empty_listing_says_no_runs_yet() -> None:
    assert runs_text([]) == "no runs recorded yet\n"
