"""Every violation kind is reported with its column, count, examples and a message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_actions.domain.data.schema import schema_from_dict
from mlops_actions.domain.data.validate import validate_file, validate_frame

SCHEMA = {
    "version": 1,
    "rows": {"min": 2, "max": 10},
    "columns": {
        "id": {"dtype": "int", "role": "id", "nullable": False},
        "age": {"dtype": "int", "nullable": False, "min": 0, "max": 120},
        "score": {"dtype": "float", "nullable": True, "max_null_share": 0.5, "min": 0.0, "max": 1.0},
        "plan": {"dtype": "category", "nullable": False, "categories": ["basic", "pro"]},
        "active": {"dtype": "bool", "nullable": False},
        "label": {"dtype": "int", "role": "target", "nullable": False, "min": 0, "max": 1},
    },
}


def good() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "age": [20, 35, 50, 65],
            "score": [0.1, np.nan, 0.7, 0.9],
            "plan": ["basic", "pro", "pro", "basic"],
            "active": [True, False, True, True],
            "label": [0, 1, 1, 0],
        }
    )


def violations(frame: pd.DataFrame, schema=None):
    result = validate_frame(frame, schema_from_dict(schema or SCHEMA))
    return {v.kind: v for v in result.violations}


def test_valid_data_has_no_violations():
    assert violations(good()) == {}


def test_new_column_is_reported_with_examples():
    frame = good().assign(extra=["a", "b", "c", "d"])
    found = violations(frame)["new_column"]
    assert (found.column, found.count, found.examples) == ("extra", 1, ["a", "b", "c"])


def test_missing_column_is_reported():
    found = violations(good().drop(columns=["active"]))["missing_column"]
    assert found.column == "active" and "not in the data" in found.message


def test_wrong_dtype_names_the_values_that_do_not_fit(tmp_path):
    path = tmp_path / "d.csv"
    frame = good().astype({"age": object})
    frame.loc[1, "age"] = "thirty"
    frame.loc[2, "age"] = "40.5"
    frame.to_csv(path, index=False)
    found = {v.kind: v for v in validate_file(path, schema_from_dict(SCHEMA)).violations}["wrong_dtype"]
    assert found.column == "age" and found.count == 2
    assert set(found.examples) == {"thirty", "40.5"}


def test_integral_floats_fit_an_int_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("id,age,score,plan,active,label\n1,20.0,0.1,basic,True,0\n2,30.0,,pro,False,1\n")
    assert validate_file(path, schema_from_dict(SCHEMA)).violations == []


def test_out_of_range_reports_count_and_extremes():
    frame = good()
    frame["age"] = [20, -3, 150, 999]
    found = violations(frame)["out_of_range"]
    assert (found.column, found.count) == ("age", 3)
    assert found.examples == ["-3", "150", "999"]
    assert "lowest -3, highest 999" in found.message


def test_unseen_category_lists_the_most_frequent_first():
    frame = good()
    frame["plan"] = ["gold", "gold", "silver", "basic"]
    found = violations(frame)["unseen_category"]
    assert (found.column, found.count, found.examples) == ("plan", 3, ["gold", "silver"])


def test_nan_in_a_column_that_is_not_nullable():
    frame = good()
    frame["label"] = [0, np.nan, 1, 0]
    found = violations(frame)["nan_or_inf"]
    assert (found.column, found.count) == ("label", 1)


def test_infinite_values_are_reported_even_in_nullable_columns():
    frame = good()
    frame["score"] = [0.1, np.inf, 0.2, -np.inf]
    found = violations(frame)["nan_or_inf"]
    assert (found.column, found.count) == ("score", 2)
    assert set(found.examples) == {"inf", "-inf"}
    assert "out_of_range" not in violations(frame)


def test_null_share_above_the_bound():
    frame = good()
    frame["score"] = [np.nan, np.nan, np.nan, 0.5]
    found = violations(frame)["null_share"]
    assert (found.column, found.count) == ("score", 3)
    assert "0.750" in found.message


def test_too_few_and_too_many_rows():
    assert violations(good().iloc[:1])["too_few_rows"].count == 1
    many = pd.concat([good()] * 3, ignore_index=True)
    found = violations(many)["too_many_rows"]
    assert (found.column, found.count) == (None, 12)


def test_bool_column_accepts_zero_one_but_not_other_numbers():
    frame = good()
    frame["active"] = [0, 1, 1, 0]
    assert violations(frame) == {}
    frame["active"] = [0, 1, 2, 0]
    assert violations(frame)["wrong_dtype"].examples == ["2"]


def test_numbers_can_be_categories_by_their_text():
    schema = {"version": 1, "columns": {"code": {"dtype": "category", "categories": ["1", "2"]}}}
    assert violations(pd.DataFrame({"code": [1, 2, 2]}), schema) == {}
    assert violations(pd.DataFrame({"code": [1, 3, 3]}), schema)["unseen_category"].examples == ["3"]


@pytest.mark.parametrize(("expected", "value"), [("datetime", "not a date"), ("float", True)])
def test_values_of_another_kind_are_wrong_dtype(expected, value):
    schema = {"version": 1, "columns": {"v": {"dtype": expected, "nullable": True}}}
    frame = pd.DataFrame({"v": [value, value]})
    assert violations(frame, schema)["wrong_dtype"].count == 2


def test_date_strings_fit_a_datetime_column():
    schema = {"version": 1, "columns": {"v": {"dtype": "datetime"}}}
    assert violations(pd.DataFrame({"v": ["2024-01-01", "2024-02-03 10:00:00"]}), schema) == {}


def test_violations_serialise_with_the_documented_keys():
    frame = good()
    frame["age"] = [20, -3, 150, 999]
    result = validate_frame(frame, schema_from_dict(SCHEMA))
    assert set(result.to_dict()["violations"][0]) == {"column", "kind", "count", "examples", "message"}
