"""A flat log table as the columns the checks count: times in nanoseconds, every feature in the dtype of the
reference (a value of another type is counted and treated as missing), the prediction, the probabilities,
and the columns the reference does not know."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_actions.domain.data.chunks import CategoricalColumn, Column, NumericColumn, arrow_column
from mlops_actions.errors import DataError
from mlops_actions.monitoring.windows import iso_ns

if TYPE_CHECKING:
    import numpy as np

    from mlops_actions.monitoring.logs import LogChunk

TIME, REQUEST_ID, PREDICTION, PROBABILITY = "time", "request_id", "prediction", "probability"
PROBA_PREFIX = "proba_"
LOG_FIELDS = frozenset({TIME, REQUEST_ID, PREDICTION, "format", "row", "model", "version", "latency_ms"})
NUMERIC_DTYPES = ("int", "float")


def is_probability(name: str) -> bool:
    return name == PROBABILITY or name.startswith(PROBA_PREFIX)


@dataclass(frozen=True)
class Layout:
    """What the monitor reads: the features (name -> the reference's dtype), whether the prediction is a
    number (regression) or a label, and the other columns it knows (id, target)."""

    features: dict[str, str]
    numeric_prediction: bool
    known: frozenset[str] = frozenset()

    def is_new(self, name: str) -> bool:
        return not (name in self.features or name in LOG_FIELDS or name in self.known or is_probability(name))


@dataclass
class Columns:
    """One chunk's rows as normalised columns (see the module docstring)."""

    rows: int
    times: np.ndarray
    features: dict[str, Column]
    wrong_type: dict[str, np.ndarray]  # feature -> rows whose value had a wrong type (only features with any)
    prediction: Column
    probabilities: dict[str, np.ndarray]
    new: dict[str, np.ndarray] = field(default_factory=dict)  # unknown column -> rows with a value

    def take(self, rows: Any) -> Columns:
        """The same columns for some rows (a slice or an index array)."""
        times = self.times[rows]
        return Columns(
            rows=len(times),
            times=times,
            features={name: _take(column, rows) for name, column in self.features.items()},
            wrong_type={name: mask[rows] for name, mask in self.wrong_type.items()},
            prediction=_take(self.prediction, rows),
            probabilities={name: values[rows] for name, values in self.probabilities.items()},
            new={name: mask[rows] for name, mask in self.new.items()},
        )


def _take(column: Column, rows: Any) -> Column:
    if isinstance(column, NumericColumn):
        return NumericColumn(column.values[rows], column.dtype)
    assert isinstance(column, CategoricalColumn)
    return CategoricalColumn(column.codes[rows], column.dictionary, column.dtype, _names=column._names)


def normalise(chunk: LogChunk, layout: Layout) -> Columns:
    """The chunk's table as Columns; a DataError names the file and line of a missing time or prediction."""
    import numpy as np

    table = chunk.table
    rows = table.num_rows
    names = table.column_names
    for required in (TIME, PREDICTION):
        if required not in names:
            raise DataError(f"{chunk.path}: no '{required}' column (field), expected one in every log row")
    features: dict[str, Column] = {}
    wrong: dict[str, np.ndarray] = {}
    for name, dtype in layout.features.items():
        array = table.column(name) if name in names else None
        if dtype in NUMERIC_DTYPES:
            values, bad = numeric_values(array, rows)
            features[name] = NumericColumn(values, dtype)
        else:
            features[name], bad = categorical_values(array, rows, dtype)
        if bad is not None and bad.any():
            wrong[name] = bad
    prediction_array = table.column(PREDICTION)
    if layout.numeric_prediction:
        values, bad = numeric_values(prediction_array, rows)
        if bad is not None and bad.any():
            raise DataError(f"{chunk.where(int(np.flatnonzero(bad)[0]))}: prediction is not a number")
        prediction: Column = NumericColumn(values, "float")
    else:
        prediction, _ = categorical_values(prediction_array, rows, "string")
    probabilities = {}
    for name in names:
        if is_probability(name):
            values, bad = numeric_values(table.column(name), rows)
            if bad is not None and bad.any():
                raise DataError(f"{chunk.where(int(np.flatnonzero(bad)[0]))}: {name} is not a number")
            probabilities[name] = values
    new = {}
    for name in names:
        if layout.is_new(name):
            column = table.column(name)
            new[name] = ~_missing_mask(column, rows)
    return Columns(
        rows=rows,
        times=epoch_ns(chunk),
        features=features,
        wrong_type=wrong,
        prediction=prediction,
        probabilities=probabilities,
        new=new,
    )


def _combined(array: Any) -> Any:
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        return array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    return array


def _missing_mask(array: Any, rows: int) -> np.ndarray:
    """Rows without a value, from the validity bitmap (pyarrow's own conversions import pandas: slow)."""
    import numpy as np

    array = _combined(array)
    if array.null_count == 0:
        return np.zeros(rows, dtype=bool)
    if array.buffers()[0] is None:  # a null array
        return np.ones(rows, dtype=bool)
    bits = np.unpackbits(np.frombuffer(array.buffers()[0], dtype=np.uint8), bitorder="little")
    return ~bits[array.offset : array.offset + rows].astype(bool)


def _int64s(array: Any) -> np.ndarray:
    """The values of an int64 array (without nulls) as numpy, read from its buffer."""
    import numpy as np

    return np.frombuffer(array.buffers()[1], dtype=np.int64, count=len(array), offset=array.offset * 8)


def numeric_values(array: Any, rows: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Float64 values (NaN where missing) and the mask of values that are no number (None: none)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if array is None:
        return np.full(rows, np.nan), None
    array = _combined(array)
    kind = array.type
    if pa.types.is_dictionary(kind):
        array, kind = array.cast(kind.value_type), kind.value_type
    if pa.types.is_null(kind):
        return np.full(rows, np.nan), None
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        column = arrow_column(array, "float")
        assert isinstance(column, NumericColumn)
        return column.values, None
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        try:
            return numeric_values(pc.cast(array, pa.float64()), rows)[0], None
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        values = np.full(rows, np.nan)
        bad = np.zeros(rows, dtype=bool)
        for row, text in enumerate(array.to_pylist()):
            if text is None:
                continue
            try:
                values[row] = float(text)
            except ValueError:
                bad[row] = True
        return values, bad
    present = ~_missing_mask(array, rows)  # booleans, lists, objects: of a wrong type
    return np.full(rows, np.nan), present


def categorical_values(array: Any, rows: int, dtype: str) -> tuple[CategoricalColumn, np.ndarray | None]:
    """Codes into a dictionary of text values (-1 where missing); numbers become their text."""
    import numpy as np
    import pyarrow as pa

    if array is None:
        return CategoricalColumn(np.full(rows, -1, dtype=np.int64), [], dtype), None
    array = _combined(array)
    kind = array.type
    if pa.types.is_null(kind):
        return CategoricalColumn(np.full(rows, -1, dtype=np.int64), [], dtype), None
    if pa.types.is_boolean(kind):
        column = arrow_column(array, "bool")
    elif pa.types.is_struct(kind) or pa.types.is_list(kind) or pa.types.is_large_list(kind):
        present = ~_missing_mask(array, rows)
        return CategoricalColumn(np.full(rows, -1, dtype=np.int64), [], dtype), present
    else:
        if not (pa.types.is_string(kind) or pa.types.is_dictionary(kind) or pa.types.is_large_string(kind)):
            array = array.cast(pa.string())
        column = arrow_column(array, "string")
    assert isinstance(column, CategoricalColumn)
    return CategoricalColumn(column.codes, column.dictionary, dtype), None


def epoch_ns(chunk: LogChunk) -> np.ndarray:
    """The ``time`` column in nanoseconds since the epoch (UTC unless a time names its offset)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    array = _combined(chunk.table.column(TIME))
    if array.null_count:
        row = int(np.flatnonzero(_missing_mask(array, len(array)))[0])
        raise DataError(f"{chunk.where(row)}: no time, expected an ISO 8601 time in every row")
    kind = array.type
    stamps = None
    if pa.types.is_timestamp(kind):
        stamps = array.cast(pa.timestamp("ns", tz=kind.tz))
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        for target in (pa.timestamp("ns", tz="UTC"), pa.timestamp("ns")):
            try:
                stamps = pc.cast(array, target)
                break
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
    if stamps is None:
        parsed = np.empty(len(array), dtype=np.int64)  # mixed offsets and naive times, or a bad one
        for row, value in enumerate(array.to_pylist()):
            try:
                parsed[row] = iso_ns(str(value))
            except ValueError:
                raise DataError(
                    f"{chunk.where(row)}: time {str(value)[:40]!r} is not an ISO 8601 time"
                ) from None
        return parsed
    return _int64s(_combined(stamps.cast(pa.int64())))
