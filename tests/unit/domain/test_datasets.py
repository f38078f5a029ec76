from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_actions.domain.config import parse_config
from mlops_actions.domain.datasets import check_rows, numeric_columns
from mlops_actions.errors import DataError

DOC = {
    "version": 1,
    "model": {"name": "m", "task": "binary"},
    "train": {"entrypoint": "pkg.mod:fit"},
    "data": {"train": "train.csv", "target": "y", "id": "key"},
}


def _config(tmp_path: Path, **data: object):
    return parse_config({**DOC, "data": {**DOC["data"], **data}}, tmp_path / "mlops.yaml")


def _frame(**changes: list) -> pd.DataFrame:
    columns = {
        "key": [10, 11, 12, 13],
        "income": [1.5, 2.0, 3.25, 4.0],
        "city": ["a", "b", "a", "c"],
        "flag": [True, False, True, False],
        "y": [0, 1, 0, 1],
    }
    return pd.DataFrame({**columns, **changes})


def test_numeric_columns_come_from_the_training_data_types(tmp_path: Path) -> None:
    income = [str(v / 4) for v in range(19)] + ["12,5"]  # read as text because of one bad value in 20
    train = pd.DataFrame({"key": range(20), "income": income, "city": ["a", "b"] * 10, "y": [0, 1] * 10})
    found = numeric_columns(_config(tmp_path), train, "train.csv")
    assert set(found) == {"key", "income", "y"} and found["income"] == "train.csv"


def test_a_text_column_with_few_numbers_is_not_numeric(tmp_path: Path) -> None:
    train = _frame(city=["1", "b", "c", "d"])
    assert "city" not in numeric_columns(_config(tmp_path), train, "train.csv")


def test_numeric_columns_come_from_the_schema_when_the_config_has_one(tmp_path: Path) -> None:
    (tmp_path / "schema.yaml").write_text(
        "version: 1\ncolumns:\n  city: {dtype: float}\n  income: {dtype: string}\n  y: {dtype: int}\n"
    )
    found = numeric_columns(_config(tmp_path, schema="schema.yaml"), _frame(), "train.csv")
    assert set(found) == {"city", "y"}
    assert found["city"] == f"the schema {tmp_path / 'schema.yaml'}"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"income": ["1.5", "n.a.", "3", "4"]},
            "eval.csv: column 'income' row 2 (key 11): value 'n.a.' is not a number "
            "(the column is numeric in train.csv)",
        ),
        (
            {"income": [1.0, 2.0, np.inf, 4.0]},
            "eval.csv: column 'income' row 3 (key 12): value 'inf' is not a finite",
        ),
        (
            {"y": [0.0, -np.inf, 1.0, 0.0]},
            "eval.csv: column 'y' row 2 (key 11): value '-inf' is not a finite",
        ),
        (
            {"y": [0, None, 1, None]},
            "eval.csv: target column 'y' has 2 missing values (first at row 2 (key 11))",
        ),
        ({"key": [10, 11, 10, 13]}, "eval.csv: id column 'key' (data.id) value '10' is in rows 1 and 3"),
        ({"key": [10.0, None, 12.0, 13.0]}, "eval.csv: id column 'key' (data.id) row 2: value is missing"),
    ],
    ids=["text", "inf-feature", "inf-target", "missing-target", "duplicate-id", "missing-id"],
)
def test_bad_evaluation_rows_name_file_column_row_and_value(
    tmp_path: Path, changes: dict, message: str
) -> None:
    config = _config(tmp_path)
    numeric = numeric_columns(config, _frame(), "train.csv")
    with pytest.raises(DataError) as caught:
        check_rows(_frame(**changes), "eval.csv", config, numeric, evaluation=True)
    assert str(caught.value).startswith(message), str(caught.value)


def test_missing_feature_values_and_duplicate_training_ids_are_not_refused(tmp_path: Path) -> None:
    config = _config(tmp_path)
    numeric = numeric_columns(config, _frame(), "train.csv")
    frame = _frame(income=[1.0, None, 3.0, None], key=[1, 1, 2, 2])
    check_rows(frame, "train.csv", config, numeric, evaluation=False)
