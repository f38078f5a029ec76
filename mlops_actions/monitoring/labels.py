"""Labels that arrive after the predictions: files of (id, label) rows, read whole (they are small beside the
logs), joined to the logged rows by ``request_id`` (with ``row`` when a request held several rows) or by the
config's ``data.id`` column. A later file's label for an id replaces an earlier one's (a correction); a label
joins its prediction's window whatever file or time it came in."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.domain.data.chunks.columns import as_text
from mlops_actions.errors import DataError
from mlops_actions.monitoring.columns import REQUEST_ID

if TYPE_CHECKING:
    import numpy as np

    from mlops_actions.domain.config import Config

ROW = "row"
LABEL_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".parquet")


@dataclass(frozen=True)
class Labels:
    """Labels by key: the id column they join on (``request_id`` or ``data.id``), whether ``row`` is part of
    the key, the label of each key (text for a classifier, a number for a regression), the files read."""

    column: str
    by_row: bool
    values: dict[str, Any]
    files: tuple[str, ...]
    rows: int

    def keys_of(self, table: Any) -> np.ndarray | None:
        """The join key of every row of a log table (None where it has none); None when the table lacks
        the id column."""
        import numpy as np

        names = table.column_names
        if self.column not in names or (self.by_row and ROW not in names):
            return None
        ids = [None if v is None else as_text(v) for v in table.column(self.column).to_pylist()]
        if self.by_row:
            rows = table.column(ROW).to_pylist()
            ids = [
                None if i is None or r is None else f"{i}#{as_text(r)}"
                for i, r in zip(ids, rows, strict=True)
            ]
        return np.array(ids, dtype=object)


def label_files(path: str) -> list[Path]:
    """The label files ``path`` names: a file, a folder (its label files) or a glob, in name order."""
    target = Path(path)
    if target.is_dir():
        files = sorted(p for p in target.iterdir() if p.suffix.lower() in LABEL_SUFFIXES and p.is_file())
    elif any(c in path for c in "*?["):
        files = sorted(Path(p) for p in glob.glob(path) if Path(p).is_file())
    elif target.is_file():
        files = [target]
    else:
        raise DataError(f"{path}: no such label file or folder")
    if not files:
        raise DataError(f"{path}: no label files (CSV, JSON Lines or Parquet)")
    return files


def _read_table(path: Path, text_columns: list[str]) -> Any:
    """The file as a pyarrow table (``text_columns`` read as text from CSV); a DataError names the file
    when it cannot be read."""
    import pyarrow as pa

    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if suffix in (".jsonl", ".ndjson"):
            import pyarrow.json as pj

            return pj.read_json(path)
        if suffix == ".csv":
            import pyarrow.csv as pc

            types = {name: pa.string() for name in text_columns}
            return pc.read_csv(path, convert_options=pc.ConvertOptions(column_types=types))
    except (pa.ArrowInvalid, OSError) as error:
        first = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise DataError(f"{path}: not a readable label file ({first})") from None
    raise DataError(f"{path}: unknown label file type {suffix!r}, expected .csv, .jsonl or .parquet")


def read_labels(path: str, config: Config) -> Labels:
    """The labels in ``path`` (CSV, JSON Lines or Parquet files): the id column is ``request_id`` or the
    config's ``data.id``, the label column the config's target."""
    import math

    files = label_files(path)
    values: dict[str, Any] = {}
    column: str | None = None
    by_row = False
    rows = 0
    for file in files:
        table = _read_table(file, [n for n in (REQUEST_ID, config.id_column) if n])
        names = table.column_names
        if column is None:
            if REQUEST_ID in names:
                column, by_row = REQUEST_ID, ROW in names
            elif config.id_column and config.id_column in names:
                column = config.id_column
            else:
                wanted = REQUEST_ID + (f" or {config.id_column}" if config.id_column else "")
                raise DataError(f"{file}: no id column, expected {wanted}")
        elif column not in names or (by_row and ROW not in names):
            raise DataError(f"{file}: no {column!r} column, the id column of the first label file")
        if config.target not in names:
            raise DataError(f"{file}: no label column {config.target!r} (data.target)")
        ids = table.column(column).to_pylist()
        keys = [None if i is None else as_text(i) for i in ids]
        if by_row:
            positions = table.column(ROW).to_pylist()
            keys = [
                None if k is None or r is None else f"{k}#{as_text(r)}"
                for k, r in zip(keys, positions, strict=True)
            ]
        labels = table.column(config.target).to_pylist()
        for row, (key, label) in enumerate(zip(keys, labels, strict=True)):
            if key is None or label is None:
                continue
            if config.is_classification:
                values[key] = as_text(label)
            else:
                try:
                    number = float(label)
                except (TypeError, ValueError):
                    raise DataError(
                        f"{file}: row {row + 1}: label {str(label)[:40]!r} of {config.target!r} is not a number"
                    ) from None
                if math.isfinite(number):
                    values[key] = number
            rows += 1
    assert column is not None
    return Labels(column, by_row, values, tuple(str(f) for f in files), rows)
