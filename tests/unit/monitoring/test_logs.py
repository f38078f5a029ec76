"""Reading prediction logs: files of a path, folder or glob; bad input named by file and line; what a row
that cannot be trusted becomes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_actions.errors import DataError
from mlops_actions.monitoring.columns import Layout, normalise
from mlops_actions.monitoring.logs import log_files, read_log

LAYOUT = Layout(features={"x": "float", "group": "string"}, numeric_prediction=False)


def line(**fields) -> str:
    record = {
        "time": "2026-11-30T14:00:00.000Z",
        "request_id": "r1",
        "inputs": {"x": 1.5, "group": "a"},
        "prediction": 1,
        "probabilities": {"0": 0.2, "1": 0.8},
    }
    record.update(fields)
    return json.dumps(record) + "\n"


def chunks(path: Path, **options) -> list:
    return [normalise(chunk, LAYOUT) for chunk in read_log(path, **options)]


def test_a_folder_names_its_log_files_and_a_glob_its_matches(tmp_path):
    for name in ("b.jsonl", "a.csv", "c.parquet", "notes.txt"):
        (tmp_path / name).write_text("")
    assert [p.name for p in log_files(str(tmp_path))] == ["a.csv", "b.jsonl", "c.parquet"]
    assert [p.name for p in log_files(str(tmp_path / "*.jsonl"))] == ["b.jsonl"]


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing.jsonl", "no such prediction log"), ("*.nothing", "no prediction log files")],
)
def test_no_log_file_is_a_data_error_naming_the_pattern(tmp_path, name, message):
    with pytest.raises(DataError, match=message):
        log_files(str(tmp_path / name))


def test_a_file_of_unknown_format_is_refused(tmp_path):
    (tmp_path / "log.txt").write_text("x")
    with pytest.raises(DataError, match=r"log\.txt: unknown log format"):
        log_files(str(tmp_path / "log.txt"))


def test_the_servers_lines_become_flat_columns_and_an_unfinished_last_line_is_left_out(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text(line() + line(inputs={"x": 2.0, "group": "b"}) + line()[:30])
    [columns] = chunks(path)
    assert columns.rows == 2
    assert columns.features["x"].values.tolist() == [1.5, 2.0]
    assert columns.features["group"].names() == ["a", "b"]
    assert sorted(columns.probabilities) == ["proba_0", "proba_1"]
    assert columns.prediction.names() == ["1"]


def test_blocks_keep_their_line_numbers_so_a_malformed_line_is_named(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text(line() * 50 + "{not json\n" + line())
    with pytest.raises(DataError, match=r"log\.jsonl:51: not valid JSON"):
        chunks(path, chunk_bytes=1000)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('["a list"]\n', r":1: expected a JSON object per line"),
        (line(time="soon"), r":1: time 'soon' is not an ISO 8601 time"),
        (line(time=None), r":1: no time"),
        (line(inputs=[1, 2]), r":1: 'inputs' must be an object"),
    ],
)
def test_a_bad_line_is_one_error_naming_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "log.jsonl"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        chunks(path)


def test_a_log_without_time_or_prediction_names_the_missing_field(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("x,group,prediction\n1,a,0\n")
    with pytest.raises(DataError, match=r"log\.csv: no 'time' column"):
        chunks(path)
    path.write_text("x,group,time\n1,a,2026-11-30T00:00:00Z\n")
    with pytest.raises(DataError, match=r"log\.csv: no 'prediction' column"):
        chunks(path)


def test_a_csv_time_that_is_no_time_names_its_line(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("x,group,prediction,time\n1,a,0,2026-11-30T00:00:00Z\n2,b,1,later\n")
    with pytest.raises(DataError, match=r"log\.csv:3: time 'later'"):
        chunks(path)


def test_values_of_a_wrong_type_are_counted_and_treated_as_missing(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text(line() + line(inputs={"x": "lots", "group": 7}))
    [columns] = chunks(path)
    assert columns.wrong_type["x"].tolist() == [False, True]
    assert (
        columns.features["x"].values[0] == 1.5
        and columns.features["x"].values[1] != columns.features["x"].values[1]
    )
    assert columns.features["group"].names() == ["a", "7"]  # a number in a text column is read as its text


def test_a_corrupt_parquet_file_is_named(tmp_path):
    path = tmp_path / "log.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match=r"log\.parquet: cannot read Parquet"):
        chunks(path)


def test_with_the_expected_input_types_a_value_of_another_type_is_still_read_and_counted(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text(line() + line(inputs={"x": "lots", "group": "b"}))
    [chunk] = read_log(path, input_types=LAYOUT.features)
    columns = normalise(chunk, LAYOUT)
    assert columns.wrong_type["x"].tolist() == [False, True]
    assert columns.features["group"].names() == ["a", "b"]
