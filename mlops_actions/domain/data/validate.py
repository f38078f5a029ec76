"""Validating data files against a schema in one pass: every violation with column, kind, count, examples.

What a validator counts is a ValidationState, and two states merge (counts add, examples keep the first
ones in merge order), so a ValidationJob can validate a dataset's partitions apart on an engine and judge
the merged state: the same verdicts and counts as one pass over the whole table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.domain.data.chunks import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_CHUNK_ROWS,
    CategoricalColumn,
    Chunk,
    NumericColumn,
    TableInfo,
    scan_frame,
    scan_table,
)
from mlops_actions.domain.data.schema import ColumnSchema, Schema
from mlops_actions.domain.data.stats import optional_extreme
from mlops_actions.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

NEW_COLUMN = "new_column"
MISSING_COLUMN = "missing_column"
WRONG_DTYPE = "wrong_dtype"
OUT_OF_RANGE = "out_of_range"
UNSEEN_CATEGORY = "unseen_category"
NAN_OR_INF = "nan_or_inf"
NULL_SHARE = "null_share"
TOO_FEW_ROWS = "too_few_rows"
TOO_MANY_ROWS = "too_many_rows"
VIOLATION_KINDS = (
    NEW_COLUMN,
    MISSING_COLUMN,
    WRONG_DTYPE,
    OUT_OF_RANGE,
    UNSEEN_CATEGORY,
    NAN_OR_INF,
    NULL_SHARE,
    TOO_FEW_ROWS,
    TOO_MANY_ROWS,
)
MAX_EXAMPLES = 5
MAX_UNSEEN_TRACKED = 1000  # distinct unseen categories counted one by one (all of them count in the total)
TRUE_TEXT = {"true", "1", "yes", "t", "y"}
FALSE_TEXT = {"false", "0", "no", "f", "n"}


@dataclass
class Violation:
    column: str | None
    kind: str
    count: int
    examples: list[str]
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "count": self.count,
            "examples": list(self.examples),
            "message": self.message,
        }


@dataclass
class FileValidation:
    path: str
    rows: int
    violations: list[Violation]

    @property
    def passed(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows, "violations": [v.to_dict() for v in self.violations]}


def format_value(value: Any) -> str:
    """A short text form of a data value for messages."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.6g}"
    return str(value)


class _Examples:
    """First distinct examples seen, at most MAX_EXAMPLES."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def merged(self, other: _Examples) -> _Examples:
        """These examples, then the other's not already here (at most MAX_EXAMPLES)."""
        merged = _Examples()
        merged.items = list(self.items)
        for text in other.items:
            if len(merged.items) >= MAX_EXAMPLES:
                break
            if text not in merged.items:
                merged.items.append(text)
        return merged

    def add(self, values: Any) -> None:
        for value in values:
            if len(self.items) >= MAX_EXAMPLES:
                return
            text = format_value(value)
            if text not in self.items:
                self.items.append(text)


@dataclass
class _ColumnState:
    schema: ColumnSchema
    data_dtype: str
    missing: int = 0
    infinite: int = 0
    inf_examples: _Examples = field(default_factory=_Examples)
    wrong: int = 0
    wrong_examples: _Examples = field(default_factory=_Examples)
    out_of_range: int = 0
    range_examples: _Examples = field(default_factory=_Examples)
    lowest: float | None = None
    highest: float | None = None
    unseen: dict[str, int] = field(default_factory=dict)
    unseen_total: int = 0


@dataclass
class ValidationState:
    """What a validator has counted over some rows (mergeable): the rows, every schema column's counts
    and examples, and examples of the columns the schema lacks. ``merge_validation_states`` adds two."""

    rows: int
    columns: dict[str, _ColumnState]
    new_examples: dict[str, _Examples]


def new_validation_state(schema: Schema, info: TableInfo) -> ValidationState:
    """The state of no rows yet, for the columns of ``info``."""
    return ValidationState(
        rows=0,
        columns={
            name: _ColumnState(schema.columns[name], dtype)
            for name, dtype in info.dtypes.items()
            if name in schema.columns
        },
        new_examples={name: _Examples() for name in info.dtypes if name not in schema.columns},
    )


def update_validation_state(state: ValidationState, chunk: Chunk) -> None:
    """Count one chunk's rows into the state."""
    state.rows += chunk.rows
    for name, column in state.columns.items():
        _check_column(column, chunk.columns[name])
    for name, examples in state.new_examples.items():
        if len(examples.items) < 3:
            examples.add(_present_values(chunk.columns[name], 3))


def merge_validation_states(first: ValidationState, second: ValidationState) -> ValidationState:
    """The state of both states' rows: counts add, lowest and highest combine, examples keep the first
    ones in merge order (first's, then second's). Both must cover the same columns. Unseen categories are
    counted one by one up to MAX_UNSEEN_TRACKED distinct values (all of them in the total), as in one pass."""
    if list(first.columns) != list(second.columns) or list(first.new_examples) != list(second.new_examples):
        raise DataError("cannot merge validation states of different columns")
    return ValidationState(
        rows=first.rows + second.rows,
        columns={
            name: _merge_column_states(column, second.columns[name]) for name, column in first.columns.items()
        },
        new_examples={
            name: examples.merged(second.new_examples[name]) for name, examples in first.new_examples.items()
        },
    )


def _merge_column_states(first: _ColumnState, second: _ColumnState) -> _ColumnState:
    unseen = dict(first.unseen)
    for name, tally in second.unseen.items():
        if name in unseen or len(unseen) < MAX_UNSEEN_TRACKED:
            unseen[name] = unseen.get(name, 0) + tally
    return _ColumnState(
        schema=first.schema,
        data_dtype=first.data_dtype,
        missing=first.missing + second.missing,
        infinite=first.infinite + second.infinite,
        inf_examples=first.inf_examples.merged(second.inf_examples),
        wrong=first.wrong + second.wrong,
        wrong_examples=first.wrong_examples.merged(second.wrong_examples),
        out_of_range=first.out_of_range + second.out_of_range,
        range_examples=first.range_examples.merged(second.range_examples),
        lowest=optional_extreme(min, first.lowest, second.lowest),
        highest=optional_extreme(max, first.highest, second.highest),
        unseen=unseen,
        unseen_total=first.unseen_total + second.unseen_total,
    )


def state_violations(state: ValidationState, schema: Schema, info: TableInfo) -> list[Violation]:
    """The violations a state shows against the schema (``info``: the table's columns)."""
    violations: list[Violation] = []
    for name in schema.columns:
        if name not in info.dtypes:
            violations.append(
                Violation(
                    name, MISSING_COLUMN, 1, [], f"column '{name}' is in the schema but not in the data"
                )
            )
    for name, examples in state.new_examples.items():
        violations.append(
            Violation(
                name,
                NEW_COLUMN,
                1,
                examples.items[:3],
                f"column '{name}' is not in the schema; add it to the schema if it is expected",
            )
        )
    rows = state.rows
    for name, column in state.columns.items():
        violations.extend(_column_violations(name, column, rows))
    if schema.min_rows is not None and rows < schema.min_rows:
        violations.append(
            Violation(None, TOO_FEW_ROWS, rows, [], f"{rows} rows, expected at least {schema.min_rows}")
        )
    if schema.max_rows is not None and rows > schema.max_rows:
        violations.append(
            Violation(None, TOO_MANY_ROWS, rows, [], f"{rows} rows, expected at most {schema.max_rows}")
        )
    return violations


class SchemaValidator:
    """Chunk consumer that checks every scanned column against the schema (see scan_table)."""

    def __init__(self, schema: Schema):
        self.schema = schema

    def start(self, info: TableInfo) -> None:
        self.info = info
        self.state = new_validation_state(self.schema, info)

    @property
    def rows(self) -> int:
        return self.state.rows

    def update(self, chunk: Chunk) -> None:
        update_validation_state(self.state, chunk)

    def finish(self) -> list[Violation]:
        """The violations found since start()."""
        return state_violations(self.state, self.schema, self.info)


@dataclass
class ValidationJob:
    """Validation against a schema as an engine job (reads rows with the dtypes of ``info``): each chunk's
    ValidationState, merged with ``merge_validation_states``; ``violations`` judges the merged state."""

    schema: Schema
    info: TableInfo
    reads: str = "rows"

    def empty(self) -> ValidationState:
        """The state of no rows: merging it changes nothing (the merge's identity)."""
        return new_validation_state(self.schema, self.info)

    def summarise(self, batch: Chunk) -> ValidationState:
        """The state of one chunk's rows."""
        state = new_validation_state(self.schema, self.info)
        update_validation_state(state, batch)
        return state

    def merge(self, first: ValidationState, second: ValidationState) -> ValidationState:
        """The state of both states' rows."""
        return merge_validation_states(first, second)

    def violations(self, state: ValidationState | None) -> list[Violation]:
        """The violations of the merged state (None: no rows)."""
        return state_violations(state or self.empty(), self.schema, self.info)


def _present_values(column: Any, limit: int) -> list[Any]:
    import numpy as np

    if isinstance(column, NumericColumn):
        values = column.values[~np.isnan(column.values)][:limit]
        return [float(v) for v in values]
    if isinstance(column, CategoricalColumn):
        names = column.names()
        return [names[c] for c in column.codes[column.codes >= 0][:limit]]
    return []


def _numbers_from_categories(column: CategoricalColumn, integer: bool, state: _ColumnState) -> np.ndarray:
    """Numbers parsed from string values: NaN where missing; unparsable values count as wrong dtype."""
    import numpy as np

    names = column.names()
    parsed = np.empty(len(names))
    bad = np.zeros(len(names), dtype=bool)
    for index, name in enumerate(names):
        try:
            parsed[index] = float(name)
        except ValueError:
            parsed[index], bad[index] = np.nan, True
    codes = column.codes
    present = codes >= 0
    tallies = np.bincount(codes[present], minlength=len(names))
    wrong = bad & (tallies > 0)
    if wrong.any():
        state.wrong += int(tallies[wrong].sum())
        state.wrong_examples.add([names[i] for i in np.flatnonzero(wrong)])
    values = np.full(len(codes), np.nan)
    values[present] = parsed[codes[present]]
    return values


def _check_column(state: _ColumnState, column: Any) -> None:
    import numpy as np

    expected = state.schema.dtype
    data = state.data_dtype
    missing = column.missing
    state.missing += int(np.count_nonzero(missing))
    if data == "null":
        return
    if expected in ("int", "float"):
        if isinstance(column, NumericColumn):
            values = column.values
        elif isinstance(column, CategoricalColumn) and data == "string":
            values = _numbers_from_categories(column, expected == "int", state)
        else:
            present = int(np.count_nonzero(~missing))
            if present:
                state.wrong += present
                state.wrong_examples.add(_present_values(column, MAX_EXAMPLES))
            return
        _check_numbers(state, values)
    elif expected == "bool":
        if isinstance(column, CategoricalColumn) and data == "bool":
            return
        if isinstance(column, NumericColumn):
            values = column.values
            bad = ~np.isnan(values) & (values != 0) & (values != 1)
            if bad.any():
                state.wrong += int(np.count_nonzero(bad))
                state.wrong_examples.add(values[bad][:MAX_EXAMPLES].tolist())
            return
        if isinstance(column, CategoricalColumn):
            _check_names(
                state, column, lambda text: text.strip().lower() in TRUE_TEXT | FALSE_TEXT, WRONG_DTYPE
            )
            return
        _count_all_wrong(state, column)
    elif expected == "datetime":
        if data == "datetime":
            return
        if isinstance(column, CategoricalColumn) and data == "string":
            _check_names(state, column, _parses_as_datetime, WRONG_DTYPE)
            return
        _count_all_wrong(state, column)
    else:  # string or category
        if data == "datetime":
            if expected == "category":
                _count_all_wrong(state, column)
            return
        if expected == "category" and state.schema.categories is not None:
            allowed = set(state.schema.categories)
            if isinstance(column, NumericColumn):
                _check_numeric_categories(state, column, allowed)
            elif isinstance(column, CategoricalColumn):
                _check_names(state, column, lambda text: text in allowed, UNSEEN_CATEGORY)


def _count_all_wrong(state: _ColumnState, column: Any) -> None:
    import numpy as np

    present = int(np.count_nonzero(~column.missing))
    if present:
        state.wrong += present
        state.wrong_examples.add(_present_values(column, MAX_EXAMPLES))


def _parses_as_datetime(text: str) -> bool:
    import numpy as np

    try:
        np.datetime64(text.strip().replace(" ", "T", 1))
    except ValueError:
        return False
    return True


def _check_names(state: _ColumnState, column: CategoricalColumn, accepts: Any, kind: str) -> None:
    """Count values whose text is not accepted, as wrong dtype or unseen categories."""
    import numpy as np

    names = column.names()
    codes = column.codes
    present = codes >= 0
    tallies = np.bincount(codes[present], minlength=len(names))
    for index in np.flatnonzero(tallies):
        name = names[index]
        if accepts(name):
            continue
        tally = int(tallies[index])
        if kind == WRONG_DTYPE:
            state.wrong += tally
            state.wrong_examples.add([name])
        else:
            state.unseen_total += tally
            if name in state.unseen or len(state.unseen) < MAX_UNSEEN_TRACKED:
                state.unseen[name] = state.unseen.get(name, 0) + tally


def _check_numeric_categories(state: _ColumnState, column: NumericColumn, allowed: set[str]) -> None:
    import numpy as np

    values = column.values[~np.isnan(column.values)]
    if len(values) == 0:
        return
    uniques, tallies = np.unique(values, return_counts=True)
    for value, tally in zip(uniques.tolist(), tallies.tolist(), strict=False):
        text = format_value(float(value))
        if text not in allowed:
            state.unseen_total += tally
            if text in state.unseen or len(state.unseen) < MAX_UNSEEN_TRACKED:
                state.unseen[text] = state.unseen.get(text, 0) + tally


def _check_numbers(state: _ColumnState, values: np.ndarray) -> None:
    import numpy as np

    column = state.schema
    infinite = np.isinf(values)
    if infinite.any():
        state.infinite += int(np.count_nonzero(infinite))
        state.inf_examples.add(values[infinite][:2].tolist())
    if column.dtype == "int" and state.data_dtype != "int":
        finite = values[np.isfinite(values)]
        fractional = finite != np.floor(finite)
        if fractional.any():
            state.wrong += int(np.count_nonzero(fractional))
            state.wrong_examples.add(finite[fractional][:MAX_EXAMPLES].tolist())
    outside = None
    if column.min is not None:
        outside = values < column.min
    if column.max is not None:
        above = values > column.max
        outside = above if outside is None else outside | above
    if outside is not None:
        if not column.allow_inf:
            outside &= ~infinite
        count = int(np.count_nonzero(outside))
        if count:
            bad = values[outside]
            state.out_of_range += count
            state.range_examples.add(bad[:MAX_EXAMPLES].tolist())
            low, high = float(bad.min()), float(bad.max())
            state.lowest = low if state.lowest is None else min(state.lowest, low)
            state.highest = high if state.highest is None else max(state.highest, high)


def _column_violations(name: str, state: _ColumnState, rows: int) -> list[Violation]:
    column = state.schema
    found: list[Violation] = []
    if state.wrong:
        found.append(
            Violation(
                name,
                WRONG_DTYPE,
                state.wrong,
                state.wrong_examples.items,
                f"{state.wrong} value(s) are not {column.dtype} (data read as {state.data_dtype})",
            )
        )
    if state.out_of_range:
        bounds = f"[{format_value(column.min) if column.min is not None else '-inf'}, "
        bounds += f"{format_value(column.max) if column.max is not None else 'inf'}]"
        found.append(
            Violation(
                name,
                OUT_OF_RANGE,
                state.out_of_range,
                state.range_examples.items,
                f"{state.out_of_range} value(s) outside {bounds} "
                f"(lowest {format_value(state.lowest)}, highest {format_value(state.highest)})",
            )
        )
    if state.unseen_total:
        top = sorted(state.unseen, key=lambda key: (-state.unseen[key], key))[:MAX_EXAMPLES]
        listed = ", ".join(f"'{key}' x{state.unseen[key]}" for key in top)
        found.append(
            Violation(
                name,
                UNSEEN_CATEGORY,
                state.unseen_total,
                top,
                f"{state.unseen_total} value(s) in {len(state.unseen)} categories not in the schema: {listed}",
            )
        )
    bad_missing = state.missing if not column.nullable else 0
    bad_infinite = state.infinite if not column.allow_inf else 0
    if bad_missing or bad_infinite:
        parts = []
        if bad_missing:
            parts.append(f"{bad_missing} missing or NaN value(s) in a column that is not nullable")
        if bad_infinite:
            parts.append(f"{bad_infinite} infinite value(s)")
        examples = (["NaN"] if bad_missing else []) + (state.inf_examples.items if bad_infinite else [])
        found.append(Violation(name, NAN_OR_INF, bad_missing + bad_infinite, examples, "; ".join(parts)))
    if column.nullable and rows:
        share = state.missing / rows
        if share > column.max_null_share + 1e-12:
            found.append(
                Violation(
                    name,
                    NULL_SHARE,
                    state.missing,
                    [],
                    f"{share:.3f} of the values are missing, above the allowed {column.max_null_share:g}",
                )
            )
    return found


def validate_file(
    path: str | Path,
    schema: Schema,
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    extra_consumers: Sequence[Any] = (),
) -> FileValidation:
    """Check one CSV or Parquet file against the schema (a DataError when it cannot be read)."""
    validator = SchemaValidator(schema)
    info = scan_table(path, [validator, *extra_consumers], chunk_bytes=chunk_bytes, chunk_rows=chunk_rows)
    return FileValidation(path=str(path), rows=info.rows, violations=validator.finish())


def validate_frame(frame: pd.DataFrame, schema: Schema, *, name: str = "<frame>") -> FileValidation:
    """Check an in-memory DataFrame against the schema."""
    validator = SchemaValidator(schema)
    info = scan_frame(frame, [validator], name=name)
    return FileValidation(path=name, rows=info.rows, violations=validator.finish())
