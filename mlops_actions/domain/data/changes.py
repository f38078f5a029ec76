"""Rows added and removed between two versions of a data file, by id or by hashing whole rows.

Each row gets a 64-bit hash of its values in the chosen columns (sorted by name, so column order does
not matter; numbers are compared as float64, so 1 and 1.0 are equal; missing values hash alike). The
two files' hashes are compared as multisets: a row present twice in the base and once in the branch
counts as one removed. With an id column only the ids are hashed: a row whose id stays but whose other
values change is neither added nor removed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_actions.domain.data.chunks import CategoricalColumn, Chunk, NumericColumn, OtherColumn, TableInfo

if TYPE_CHECKING:
    import numpy as np

_MISSING = 0x9E3779B97F4A7C15
_CANONICAL_NAN = 0x7FF8000000000000


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, element-wise on uint64 (wrapping arithmetic)."""
    import numpy as np

    z = values.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return z


def _salt(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


def _text_hashes(names: list[str]) -> np.ndarray:
    import numpy as np

    return np.array(
        [int.from_bytes(hashlib.blake2b(n.encode(), digest_size=8).digest(), "little") for n in names]
        + [_MISSING],
        dtype=np.uint64,
    )


def column_hashes(name: str, column: Any) -> np.ndarray:
    """64-bit hash of every value of one column (salted with the column name)."""
    import numpy as np

    if isinstance(column, NumericColumn):
        values = np.where(column.values == 0, 0.0, column.values)  # -0.0 == 0.0
        bits = values.view(np.uint64).copy()
        bits[np.isnan(values)] = np.uint64(_CANONICAL_NAN)
    elif isinstance(column, CategoricalColumn):
        names = column.names()
        lookup = _text_hashes(names)
        bits = lookup[np.where(column.codes >= 0, column.codes, len(names))]
    elif isinstance(column, OtherColumn) and column.values is not None:
        bits = column.values.view(np.uint64).copy()
        bits[column.missing] = np.uint64(_MISSING)
    else:
        bits = np.where(column.missing, np.uint64(_MISSING), np.uint64(1))
    return _mix(bits ^ np.uint64(_salt(name)))


@dataclass
class RowHasher:
    """Chunk consumer keeping one 64-bit hash per row over the given columns."""

    columns: list[str]
    parts: list[Any] = field(default_factory=list)

    def start(self, info: TableInfo) -> None:
        self.parts = []

    def update(self, chunk: Chunk) -> None:
        import numpy as np

        combined = np.zeros(chunk.rows, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for name in sorted(self.columns):
                combined = _mix(
                    combined * np.uint64(0x100000001B3) ^ column_hashes(name, chunk.columns[name])
                )
        self.parts.append(combined)

    def hashes(self) -> np.ndarray:
        import numpy as np

        return np.concatenate(self.parts) if self.parts else np.empty(0, dtype=np.uint64)


def multiset_difference(base: np.ndarray, branch: np.ndarray) -> tuple[int, int]:
    """(added, removed): rows of branch not matched in base, rows of base not matched in branch."""
    import numpy as np

    base_values, base_counts = np.unique(base, return_counts=True)
    branch_values, branch_counts = np.unique(branch, return_counts=True)
    _, in_base, in_branch = np.intersect1d(
        base_values, branch_values, assume_unique=True, return_indices=True
    )
    matched = int(np.minimum(base_counts[in_base], branch_counts[in_branch]).sum())
    return len(branch) - matched, len(base) - matched
