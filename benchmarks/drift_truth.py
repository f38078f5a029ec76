"""The drift truth set shared by the data benchmarks and the cross-engine tests.

Two tables of 15 normal numeric columns (``num_0``..``num_14``) and 5 categorical columns of ten levels
(``cat_0``..``cat_4``, dictionary-encoded): the reference, and the current one, which shifts 4 numeric
columns by half a standard deviation and tilts 2 categorical columns, so exactly the 6 columns of
``DRIFTED`` drift. Written as Parquet and/or CSV; large tables are generated and written ``batch_rows``
rows at a time (one Parquet row group per batch), so memory stays bounded whatever the row count.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

NUMERIC = 15
CATEGORICAL = 5
LEVELS = 10
SHIFTED_NUMERIC = 4
SHIFTED_CATEGORICAL = 2
COLUMNS = NUMERIC + CATEGORICAL
DRIFTED = tuple(f"num_{i}" for i in range(SHIFTED_NUMERIC)) + tuple(
    f"cat_{j}" for j in range(SHIFTED_CATEGORICAL)
)


def truth_batch(rng: Any, rows: int, shifted: bool) -> Any:
    """``rows`` rows of the reference (``shifted`` False) or current table as an Arrow table."""
    import numpy as np
    import pyarrow as pa

    levels = pa.array([f"level_{k}" for k in range(LEVELS)])
    tilted = np.arange(1, LEVELS + 1) / np.arange(1, LEVELS + 1).sum()
    arrays, names = [], []
    for i in range(NUMERIC):
        mean = 0.5 if shifted and i < SHIFTED_NUMERIC else 0.0
        arrays.append(pa.array(rng.normal(mean, 1.0, rows)))
        names.append(f"num_{i}")
    for j in range(CATEGORICAL):
        p = tilted if shifted and j < SHIFTED_CATEGORICAL else None
        codes = rng.choice(LEVELS, rows, p=p).astype(np.int8)
        arrays.append(pa.DictionaryArray.from_arrays(pa.array(codes), levels))
        names.append(f"cat_{j}")
    return pa.table(arrays, names=names)


def write_truth(
    folder: Path,
    rows: int,
    seed: int = 0,
    *,
    formats: Iterable[str] = ("parquet", "csv"),
    batch_rows: int | None = None,
) -> dict[str, tuple[Path, Path]]:
    """Write the reference and current tables in each format; returns {format: (reference, current)}.
    With ``batch_rows`` None the tables are drawn in one batch each (the same numbers for the same seed
    as ever); otherwise ``batch_rows`` at a time."""
    import numpy as np
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    formats = list(formats)
    rng = np.random.default_rng(seed)
    step = max(1, batch_rows or rows)
    written: dict[str, list[Path]] = {fmt: [] for fmt in formats}
    for name, shifted in (("reference", False), ("current", True)):
        paths = {fmt: folder / f"{name}.{fmt}" for fmt in formats}
        writers: dict[str, Any] = {}
        try:
            for start in range(0, max(rows, 1), step):
                table = truth_batch(rng, min(step, rows - start), shifted)
                if not writers:
                    if "parquet" in paths:
                        writers["parquet"] = pq.ParquetWriter(paths["parquet"], table.schema)
                    if "csv" in paths:
                        writers["csv"] = pcsv.CSVWriter(paths["csv"], table.schema)
                for writer in writers.values():
                    writer.write_table(table)
        finally:
            for writer in writers.values():
                writer.close()
        for fmt, path in paths.items():
            written[fmt].append(path)
    return {fmt: (pair[0], pair[1]) for fmt, pair in written.items()}
