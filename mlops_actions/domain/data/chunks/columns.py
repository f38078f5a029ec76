"""What a scan hands its consumers: chunks of normalised columns, the table's info, the consumer protocol.

Numbers are float64 arrays with NaN for missing values, strings and booleans integer codes into a
dictionary, dates and all-empty columns a missing-value mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

DEFAULT_CHUNK_BYTES = 32 << 20
DEFAULT_CHUNK_ROWS = 1 << 18
NULL_VALUES = [
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
]
LOGICAL_DTYPES = ("int", "float", "bool", "string", "datetime", "null")


@dataclass
class NumericColumn:
    """Numbers as float64, NaN where missing; dtype is 'int' or 'float' as stored in the file."""

    values: np.ndarray
    dtype: str
    kind: str = "numeric"

    @property
    def missing(self) -> np.ndarray:
        import numpy as np

        return np.isnan(self.values)


@dataclass
class CategoricalColumn:
    """Strings or booleans as codes (-1 where missing) into a dictionary of distinct values."""

    codes: np.ndarray
    dictionary: Any
    dtype: str
    kind: str = "categorical"
    _names: list[str] | None = field(default=None, repr=False)

    @property
    def missing(self) -> np.ndarray:
        return self.codes < 0

    def names(self) -> list[str]:
        """The dictionary as a list of strings (computed once)."""
        if self._names is None:
            values = self.dictionary.to_pylist() if hasattr(self.dictionary, "to_pylist") else self.dictionary
            self._names = [value if isinstance(value, str) else as_text(value) for value in values]
        return self._names


@dataclass
class OtherColumn:
    """Dates (as int64 nanoseconds since the epoch, when known) and columns without any value."""

    missing: np.ndarray
    dtype: str
    kind: str = "other"
    values: np.ndarray | None = None


Column = NumericColumn | CategoricalColumn | OtherColumn


@dataclass
class Chunk:
    """A run of consecutive rows: start is the index of its first row in the file."""

    start: int
    rows: int
    columns: dict[str, Column]


@dataclass
class TableInfo:
    """What a scan knows before the first chunk: every column of the file and the scanned columns' dtypes."""

    path: str
    format: str
    columns: list[str]
    dtypes: dict[str, str]
    rows: int = 0


class ChunkConsumer(Protocol):
    def start(self, info: TableInfo) -> None: ...

    def update(self, chunk: Chunk) -> None: ...


def as_text(value: object) -> str:
    """A category value as text (booleans as True/False, whole floats without '.0')."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
