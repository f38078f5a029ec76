"""Label files: read in every format, keyed by request_id (and row) or data.id, a bad file named in one line,
and joined to the windows of the predictions they label, whatever file they came in."""

from __future__ import annotations

import json

import pytest

from mlops_actions.errors import DataError
from mlops_actions.monitoring.labels import read_labels
from mlops_actions.monitoring.reference import reference_from_file
from mlops_actions.monitoring.run import run_monitor
from tests.unit.monitoring.generate import ROWS, SCENARIOS, generate_labels, generate_rows


@pytest.fixture(scope="module")
def labels_frame():
    return generate_labels(generate_rows())


def test_labels_are_read_from_csv_json_lines_and_parquet_alike(tmp_path, example_config, labels_frame):
    part = labels_frame.head(50)
    part.to_csv(tmp_path / "a.csv", index=False)
    part.to_parquet(tmp_path / "b.parquet", index=False)
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part.to_dict(orient="records")))
    found = [read_labels(str(tmp_path / name), example_config) for name in ("a.csv", "b.parquet", "c.jsonl")]
    assert {lab.column for lab in found} == {"request_id"}
    assert found[0].values == found[1].values == found[2].values
    assert found[0].values["w00-00000"] == str(part["defaulted"].iloc[0]) and found[0].rows == 50


def test_labels_without_request_id_join_by_the_configs_id_column(tmp_path, example_config):
    (tmp_path / "labels.csv").write_text("loan_id,defaulted\n007,1\n8,0\n")
    labels = read_labels(str(tmp_path / "labels.csv"), example_config)
    assert labels.column == "loan_id" and labels.values == {"007": "1", "8": "0"}


def test_a_later_files_label_replaces_an_earlier_ones(tmp_path, example_config):
    (tmp_path / "labels-1.csv").write_text("request_id,defaulted\nr1,0\nr2,0\n")
    (tmp_path / "labels-2.csv").write_text("request_id,defaulted\nr2,1\n")
    labels = read_labels(str(tmp_path / "labels-*.csv"), example_config)
    assert labels.values == {"r1": "0", "r2": "1"} and len(labels.files) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,defaulted\n1,0\n", "labels.csv: no id column, expected request_id or loan_id"),
        ("request_id,label\nr1,0\n", "labels.csv: no label column 'defaulted' (data.target)"),
    ],
)
def test_a_label_file_without_its_columns_is_named_in_one_line(tmp_path, example_config, content, message):
    (tmp_path / "labels.csv").write_text(content)
    with pytest.raises(DataError) as caught:
        read_labels(str(tmp_path / "labels.csv"), example_config)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_missing_or_unreadable_label_file_is_a_data_error(tmp_path, example_config):
    with pytest.raises(DataError, match=r"nowhere\.csv: no such label file"):
        read_labels(str(tmp_path / "nowhere.csv"), example_config)
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match=r"broken\.parquet: not a readable label file"):
        read_labels(str(tmp_path / "broken.parquet"), example_config)


def test_late_labels_in_a_later_file_join_the_window_of_their_prediction(
    tmp_path, truth_logs, example_config, labels_frame
):
    """Window 0's labels come in two files, the second written after window 1's labels; each label still
    counts in the window its prediction was logged in."""
    window0 = labels_frame[labels_frame["request_id"].str.startswith("w00-")]
    window1 = labels_frame[labels_frame["request_id"].str.startswith("w01-")]
    window0.head(700).to_csv(tmp_path / "labels-1.csv", index=False)
    window1.to_csv(tmp_path / "labels-2.csv", index=False)
    late = window0.iloc[700:]
    (tmp_path / "labels-3.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in late.to_dict(orient="records"))
    )
    labels = read_labels(str(tmp_path), example_config)
    result = run_monitor(
        example_config,
        str(truth_logs["parquet"]),
        reference_from_file(truth_logs["reference"]),
        window="1h",
        labels=labels,
    )
    counts = [w.finding("performance").figures.get("labelled_rows") for w in result.windows]
    assert counts[:3] == [len(window0), len(window1), 0] and len(window0) == ROWS
    assert result.windows[0].finding("performance").figures["mode"] == "measured"
    assert result.windows[2].finding("performance").status == "insufficient"
    assert len(counts) == len(SCENARIOS)
    assert result.performance_basis.startswith(f"{2 * ROWS} logged rows labelled from 3 label file(s)")
