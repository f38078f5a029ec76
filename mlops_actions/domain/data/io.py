"""Reading CSV and Parquet tables with clear errors, and content fingerprints of data files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def table_format(path: Path) -> str:
    """'csv' or 'parquet' from the file name; a DataError for anything else."""
    suffix = path.suffix.lower()
    if suffix == ".csv" or path.name.lower().endswith(".csv.gz"):
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise DataError(f"{path}: unsupported data format '{suffix or path.name}', expected .csv or .parquet")


def require_data_file(path: str | Path) -> Path:
    """The path, when it is a file; a DataError says when it is a folder or missing."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a CSV or Parquet file")
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    return path


def read_table(path: str | Path, *, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file; a DataError names the file when it is missing, unreadable or empty."""
    import pandas as pd

    path = require_data_file(path)
    fmt = table_format(path)
    try:
        frame = pd.read_csv(path, usecols=columns) if fmt == "csv" else pd.read_parquet(path, columns=columns)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: data file is empty, expected a header and at least one row") from None
    except ValueError as error:
        raise DataError(f"{path}: cannot read {fmt}: {str(error).splitlines()[0]}") from None
    except Exception as error:  # parser errors, corrupt parquet, permissions
        raise DataError(f"{path}: cannot read {fmt}: {str(error).splitlines()[0]}") from None
    if frame.empty:
        raise DataError(f"{path}: data file has no rows, expected at least one")
    return frame


def file_sha256(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def schema_hash(frame: pd.DataFrame) -> str:
    """Hex sha256 of the ordered (column, dtype) pairs: changes when a column or its type changes."""
    pairs = [[str(name), str(dtype)] for name, dtype in frame.dtypes.items()]
    return hashlib.sha256(json.dumps(pairs).encode()).hexdigest()


def fingerprint(path: str | Path, frame: pd.DataFrame | None = None) -> dict[str, Any]:
    """Content fingerprint of a data file: sha256, size, rows, columns and schema hash."""
    path = Path(path)
    if frame is None:
        frame = read_table(path)
    return {
        "path": str(path),
        "sha256": file_sha256(path),
        "bytes": path.stat().st_size,
        "rows": len(frame),
        "columns": [str(c) for c in frame.columns],
        "schema_hash": schema_hash(frame),
    }
