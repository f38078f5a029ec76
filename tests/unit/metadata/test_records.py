"""Run records: strict parsing, the JSON Lines form (corrupted lines skipped), and finding a run by id prefix."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops_actions.metadata.records import (
    Listing,
    RunRecord,
    find_record,
    parse_lines,
    parse_record,
    record_line,
)
from tests.metadata_contract import sample_record


def doc_of(**fields: Any) -> dict[str, Any]:
    return {**sample_record().as_dict(), **fields}


def test_a_record_parses_back_from_its_json_line() -> None:
    record = sample_record()
    assert parse_record(json.loads(record_line(record)), where="x") == record


def test_a_record_line_is_one_line_with_sorted_keys() -> None:
    line = record_line(sample_record())
    assert line.endswith("\n") and "\n" not in line[:-1]
    assert list(json.loads(line)) == sorted(json.loads(line))


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"id": "XYZ"}, "'id'"),
        ({"id": "A" * 32}, "'id'"),
        ({"stage": "train"}, "'stage'"),
        ({"model": ""}, "'model'"),
        ({"verdict": None}, "'verdict'"),
        ({"started_at": "2026-12-02 10:00:00"}, "'started_at'"),
        ({"started_at": "2026-12-02T10:00:00+02:00"}, "'started_at'"),
        ({"started_at": "2026-13-02T10:00:00Z"}, "'started_at'"),
        ({"duration_s": "12"}, "'duration_s'"),
        ({"duration_s": True}, "'duration_s'"),
        ({"pr": 7.5}, "'pr'"),
        ({"pr": "7"}, "'pr'"),
        ({"commit": 123}, "'commit'"),
        ({"baseline": "v1"}, "'baseline'"),
        ({"metrics": []}, "'metrics'"),
        ({"metrics": {"accuracy": 0.9}}, "'metrics.accuracy'"),
        ({"data": {"train": "abc"}}, "'data.train'"),
        ({"links": {"run": 1}}, "'links.run'"),
        ({"details": "x"}, "'details'"),
        ({"schema": 0}, "'schema'"),
        ({"colour": "red"}, "'colour'"),
    ],
)
def test_a_wrong_field_is_a_value_error_naming_where_and_the_field(
    fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValueError, match=r"^runs\.jsonl:3: ") as raised:
        parse_record(doc_of(**fields), where="runs.jsonl:3")
    assert named in str(raised.value)


@pytest.mark.parametrize("missing", ["id", "stage", "model", "verdict", "started_at"])
def test_a_missing_required_field_is_named(missing: str) -> None:
    doc = doc_of()
    del doc[missing]
    with pytest.raises(ValueError, match=f"field '{missing}' is missing"):
        parse_record(doc, where="here")


def test_a_record_of_a_newer_schema_asks_for_an_upgrade() -> None:
    with pytest.raises(ValueError, match="upgrade mlops-actions"):
        parse_record(doc_of(schema=2), where="here")


def test_a_record_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^here: a record is a JSON object, got list"):
        parse_record([1, 2], where="here")


def test_optional_fields_default_when_absent() -> None:
    record = parse_record(
        {
            "id": "a" * 32,
            "stage": "deploy",
            "model": "m",
            "verdict": "promoted",
            "started_at": "2026-12-02T10:00:00Z",
        },
        where="here",
    )
    assert record == RunRecord(
        id="a" * 32, stage="deploy", model="m", verdict="promoted", started_at="2026-12-02T10:00:00Z"
    )


def test_fractional_seconds_are_a_valid_start_time() -> None:
    assert parse_record(doc_of(started_at="2026-12-02T10:00:00.123456Z"), where="x").started_at.endswith(
        ".123456Z"
    )


def test_lines_are_read_oldest_first_and_blank_lines_ignored() -> None:
    late = sample_record(started_at="2026-12-02T11:00:00Z")
    early = sample_record(started_at="2026-12-02T09:00:00Z")
    listing = parse_lines("\n" + record_line(late) + "\n   \n" + record_line(early), where="runs.jsonl")
    assert listing == Listing([early, late], [])


def test_a_record_id_seen_twice_is_kept_once_as_first_written() -> None:
    record = sample_record()
    again = sample_record(id=record.id, verdict="fail")
    listing = parse_lines(record_line(record) + record_line(again) + record_line(record), where="runs.jsonl")
    assert listing.records == [record]
    assert listing.warnings == []


def test_a_corrupted_line_is_skipped_with_a_warning_naming_the_file_and_line() -> None:
    first, last = (
        sample_record(started_at="2026-12-02T09:00:00Z"),
        sample_record(started_at="2026-12-02T10:00:00Z"),
    )
    text = record_line(first) + "{not json\n" + record_line(last)
    listing = parse_lines(text, where="mlops-metadata:runs.jsonl")
    assert listing.records == [first, last]
    assert len(listing.warnings) == 1
    assert listing.warnings[0].startswith("mlops-metadata:runs.jsonl:2: skipped: not a JSON line")


def test_a_line_that_is_json_but_not_a_record_is_skipped_naming_the_field() -> None:
    text = record_line(sample_record()) + json.dumps(doc_of(stage="train")) + "\n"
    listing = parse_lines(text, where="runs.jsonl")
    assert len(listing.records) == 1
    assert listing.warnings == [
        "runs.jsonl:2: skipped: field 'stage' must be one of check, release, deploy, monitor, got 'train'"
    ]


def test_a_truncated_last_line_is_skipped_and_the_rest_read() -> None:
    record = sample_record()
    cut = record_line(sample_record())[:40]
    listing = parse_lines(record_line(record) + cut, where="runs.jsonl")
    assert listing.records == [record]
    assert len(listing.warnings) == 1 and listing.warnings[0].startswith("runs.jsonl:2: skipped: ")


def test_an_empty_text_lists_nothing() -> None:
    assert parse_lines("", where="runs.jsonl") == Listing([], [])


def listing_of(*ids: str) -> Listing:
    return Listing([sample_record(id=run_id) for run_id in ids])


def test_a_run_is_found_by_a_unique_prefix_of_its_id() -> None:
    listing = listing_of("ab" + "0" * 30, "cd" + "0" * 30)
    assert find_record(listing, "AB").id == "ab" + "0" * 30


def test_an_ambiguous_prefix_names_the_runs_it_matches() -> None:
    listing = listing_of("ab" + "0" * 30, "ab" + "1" * 30)
    with pytest.raises(LookupError, match=r"names 2 runs .*give more characters"):
        find_record(listing, "ab")


def test_a_prefix_matching_no_run_says_so() -> None:
    with pytest.raises(LookupError, match="no recorded run has an id starting with 'ff'"):
        find_record(listing_of("ab" + "0" * 30), "ff")


def test_an_empty_prefix_is_refused() -> None:
    with pytest.raises(LookupError, match="a run id"):
        find_record(listing_of("ab" + "0" * 30), " ")
