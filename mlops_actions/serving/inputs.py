"""Request bodies of ``POST /predict``, parsed and checked against the served version's data schema.

Three shapes are accepted: one record (``{"age": 41, ...}``), a list of records (``[{...}, {...}]``) and
column-oriented JSON (``{"age": [41, 35], ...}``). Each row must carry every column the model uses; a column
the schema does not know, a wrong type, a missing value in a non-nullable column, a number outside the
schema's range or a category it does not list is a :class:`InvalidInput` naming the field and the row
(answered with 422). The checks are plain Python on a few values, microseconds per row.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_actions.errors import MAX_PROBLEMS, InvalidInput, Problem, TooManyRows

if TYPE_CHECKING:
    from mlops_actions.domain.data.schema import ColumnSchema, Schema


@dataclass(frozen=True)
class Rows:
    """Checked rows, column by column (every column the request sent that the schema knows)."""

    columns: dict[str, list[Any]]
    count: int


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_body(body: bytes) -> Any:
    """The JSON document of a request body; NaN and Infinity are refused (they are not JSON)."""
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput([Problem(None, None, f"the body is not valid JSON: {error}")]) from None


class InputChecker:
    """Checks request documents for one served model: its feature columns, typed by the schema if any."""

    def __init__(self, features: list[str], schema: Schema | None, *, max_rows: int | None = None):
        self.features = list(features)
        self.schema = schema
        self.max_rows = max_rows
        columns = dict(schema.columns) if schema is not None else {}
        self.target = schema.target if schema is not None else None
        self.rules: dict[str, ColumnSchema | None] = {name: columns.get(name) for name in self.features}
        for name, column in columns.items():  # other feature or id columns are accepted and logged
            if name not in self.rules and column.role != "target":
                self.rules[name] = column
        self.required = set(self.features)
        self._categories = {
            name: set(rule.categories)
            for name, rule in self.rules.items()
            if rule is not None and rule.categories is not None
        }

    def check(self, document: Any) -> Rows:
        """The rows of a parsed request document; :class:`InvalidInput` naming every field and row at fault."""
        if isinstance(document, list):
            return self._records(document)
        if isinstance(document, dict):
            if document and all(isinstance(v, list) for v in document.values()):
                return self._columns(document)
            if any(isinstance(v, list) for v in document.values()):
                raise InvalidInput(
                    [
                        Problem(
                            None,
                            None,
                            "mixes lists and single values: expected one record, a list of records, or "
                            "one list per column",
                        )
                    ]
                )
            return self._records([document])
        raise InvalidInput(
            [Problem(None, None, f"expected a JSON object or list of objects, got {type(document).__name__}")]
        )

    def _size(self, count: int) -> None:
        if count == 0:
            raise InvalidInput([Problem(None, None, "no rows to predict")])
        if self.max_rows is not None and count > self.max_rows:
            raise TooManyRows(count, self.max_rows)

    def _records(self, records: list[Any]) -> Rows:
        self._size(len(records))
        problems: list[Problem] = []
        columns: dict[str, list[Any]] = {name: [] for name in self.features}
        for row, record in enumerate(records):
            if not isinstance(record, dict):
                problems.append(Problem(row, None, f"expected an object, got {type(record).__name__}"))
                continue
            for name in self.required:
                if name not in record:
                    problems.append(Problem(row, name, "missing column"))
            for name, value in record.items():
                if name not in self.rules:
                    problems.append(Problem(row, name, self._unknown(name)))
                    continue
                checked = self._value(name, value, row, problems)
                if name not in columns:
                    columns[name] = [None] * row
                columns[name].append(checked)
            for values in columns.values():  # an optional column some records lack
                if len(values) < row + 1:
                    values.append(None)
            if len(problems) > MAX_PROBLEMS:
                break
        if problems:
            raise InvalidInput(problems)
        return Rows(columns, len(records))

    def _columns(self, document: dict[str, list[Any]]) -> Rows:
        lengths = {len(values) for values in document.values()}
        if len(lengths) > 1:
            shown = ", ".join(f"{name}: {len(values)}" for name, values in list(document.items())[:6])
            raise InvalidInput([Problem(None, None, f"columns of different lengths ({shown})")])
        count = lengths.pop()
        self._size(count)
        problems = [Problem(None, name, "missing column") for name in self.features if name not in document]
        columns: dict[str, list[Any]] = {}
        for name, values in document.items():
            if name not in self.rules:
                problems.append(Problem(None, name, self._unknown(name)))
                continue
            columns[name] = [self._value(name, value, row, problems) for row, value in enumerate(values)]
            if len(problems) > MAX_PROBLEMS:
                break
        if problems:
            raise InvalidInput(problems)
        return Rows(columns, count)

    def _unknown(self, name: str) -> str:
        if name == self.target:
            return "is the target column, not an input"
        return f"unknown column, expected {', '.join(self.features[:12])}{' ...' if len(self.features) > 12 else ''}"

    def _value(self, name: str, value: Any, row: int, problems: list[Problem]) -> Any:
        rule = self.rules[name]
        if value is None:
            if rule is not None and not rule.nullable:
                problems.append(Problem(row, name, "missing value (null), the column is not nullable"))
            return None
        if rule is None:
            if isinstance(value, (dict, list)):
                problems.append(Problem(row, name, f"expected a single value, got {type(value).__name__}"))
            return value
        kind = rule.dtype
        if kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append(Problem(row, name, f"expected a number ({kind}), got {_shown(value)}"))
                return value
            if kind == "int":
                if isinstance(value, float):
                    if not value.is_integer():
                        problems.append(Problem(row, name, f"expected an integer, got {value!r}"))
                        return value
                    value = int(value)
            elif not math.isfinite(value) and not rule.allow_inf:
                problems.append(Problem(row, name, f"expected a finite number, got {value!r}"))
                return value
            if (rule.min is not None and value < rule.min) or (rule.max is not None and value > rule.max):
                problems.append(
                    Problem(row, name, f"{value!r} is outside the allowed range [{rule.min:g}, {rule.max:g}]")
                    if rule.min is not None and rule.max is not None
                    else Problem(row, name, f"{value!r} is outside the allowed range")
                )
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                problems.append(Problem(row, name, f"expected true or false, got {_shown(value)}"))
            return value
        if not isinstance(value, str):
            problems.append(Problem(row, name, f"expected a string ({kind}), got {_shown(value)}"))
            return value
        allowed = self._categories.get(name)
        if allowed is not None and value not in allowed:
            listed = ", ".join(sorted(allowed)[:10])
            problems.append(
                Problem(row, name, f"{value!r} is not a known category, expected one of {listed}")
            )
        return value


def _shown(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:40] + "…"
