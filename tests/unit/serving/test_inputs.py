"""Request bodies checked against the data schema: every refusal names the field and the row."""

from __future__ import annotations

import pytest

from mlops_actions.domain.data.schema import schema_from_dict
from mlops_actions.serving.inputs import InputChecker, InvalidInput, TooManyRows, parse_body

SCHEMA = schema_from_dict(
    {
        "version": 1,
        "columns": {
            "row_id": {"dtype": "int", "role": "id"},
            "age": {"dtype": "int", "min": 18, "max": 100},
            "ratio": {"dtype": "float", "min": 0.0, "max": 1.0, "nullable": True, "max_null_share": 0.5},
            "region": {"dtype": "category", "categories": ["east", "west"]},
            "label": {"dtype": "int", "role": "target"},
        },
    }
)
FEATURES = ["age", "ratio", "region"]
GOOD = {"age": 30, "ratio": 0.5, "region": "east"}


def checker(max_rows: int | None = None) -> InputChecker:
    return InputChecker(FEATURES, SCHEMA, max_rows=max_rows)


def problems(document: object) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(InvalidInput) as caught:
        checker().check(document)
    return [(p.row, p.field, p.problem) for p in caught.value.problems]


def test_one_record_a_list_of_records_and_columns_give_the_same_rows():
    one = checker().check(GOOD)
    records = checker().check([GOOD, {**GOOD, "age": 40}])
    columns = checker().check({"age": [30, 40], "ratio": [0.5, 0.5], "region": ["east", "east"]})
    assert one.count == 1 and one.columns == {"age": [30], "ratio": [0.5], "region": ["east"]}
    assert records.columns == columns.columns and records.count == columns.count == 2


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({**GOOD, "zip": "123"}, (0, "zip", "unknown column")),
        ({"age": 30, "ratio": 0.5}, (0, "region", "missing column")),
        ([GOOD, {**GOOD, "age": "old"}], (1, "age", "expected a number (int), got 'old'")),
        ([GOOD, GOOD, {**GOOD, "age": 30.5}], (2, "age", "expected an integer, got 30.5")),
        ({**GOOD, "age": 130}, (0, "age", "130 is outside the allowed range [18, 100]")),
        ({**GOOD, "ratio": -0.5}, (0, "ratio", "-0.5 is outside the allowed range [0, 1]")),
        ({**GOOD, "region": "north"}, (0, "region", "'north' is not a known category")),
        ({**GOOD, "region": 3}, (0, "region", "expected a string (category), got 3")),
        ({**GOOD, "age": None}, (0, "age", "missing value (null)")),
        ({**GOOD, "age": True}, (0, "age", "expected a number (int), got true")),
        ({**GOOD, "label": 1}, (0, "label", "is the target column, not an input")),
        ({"age": [30, 200], "ratio": [0.1, 0.2], "region": ["east", "west"]}, (1, "age", "outside")),
        ({"age": [30], "ratio": [0.1], "region": ["east"], "zip": [1]}, (None, "zip", "unknown column")),
    ],
)
def test_a_bad_value_is_refused_naming_its_field_and_row(document, expected):
    row, field, text = expected
    found = problems(document)
    assert any(r == row and f == field and text in p for r, f, p in found), found


def test_a_nullable_column_accepts_null_and_an_id_column_is_optional():
    rows = checker().check([{**GOOD, "ratio": None}, {**GOOD, "row_id": 7}])
    assert rows.columns["ratio"] == [None, 0.5]
    assert rows.columns["row_id"] == [None, 7]


def test_every_bad_row_is_listed_not_only_the_first():
    found = problems([{**GOOD, "age": 5}, GOOD, {**GOOD, "region": "x"}])
    assert [(r, f) for r, f, _ in found] == [(0, "age"), (2, "region")]


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"age": NaN}', "not valid JSON"),
        (b"[]", "no rows"),
        (b"42", "expected a JSON object"),
        (b'{"age": [1, 2], "ratio": [0.1]}', "columns of different lengths"),
        (b'{"age": [1], "ratio": 0.1}', "mixes lists and single values"),
    ],
)
def test_a_malformed_body_is_refused_with_a_reason(body, text):
    with pytest.raises(InvalidInput) as caught:
        checker().check(parse_body(body))
    assert text in str(caught.value)


def test_more_rows_than_one_batch_holds_is_its_own_refusal():
    with pytest.raises(TooManyRows) as caught:
        checker(max_rows=2).check([GOOD] * 3)
    assert "3 rows in one request, at most 2 (serve.max_batch_size)" in str(caught.value)


def test_without_a_schema_only_the_models_columns_are_checked():
    plain = InputChecker(FEATURES, None)
    assert plain.check({"age": "anything", "ratio": None, "region": 1}).count == 1
    with pytest.raises(InvalidInput, match="unknown column"):
        plain.check({**GOOD, "zip": 1})
