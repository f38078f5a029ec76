"""Profiles as JSON documents: to and from a dict (strict JSON), saved and loaded as files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlops_actions.domain.data.profile.summaries import (
    DEFAULT_EDGE_ROWS,
    CategoricalProfile,
    ColumnProfile,
    CorrelationProfile,
    NumericProfile,
    OtherProfile,
    Profile,
    set_edges,
)
from mlops_actions.errors import DataError

PROFILE_FORMAT = "mlops-actions/data-profile"
PROFILE_VERSION = 1


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    """A JSON-serialisable dict (strict JSON: no NaN or infinity)."""
    columns: dict[str, Any] = {}
    for name, column in profile.columns.items():
        if isinstance(column, NumericProfile):
            columns[name] = {
                "kind": "numeric",
                "dtype": column.dtype,
                "count": column.count,
                "missing": column.missing,
                "infinite": column.infinite,
                "mean": column.mean,
                "m2": column.m2,
                "min": column.min,
                "max": column.max,
                "edges": _floats(column.edges),
                "decile_edges": _floats(column.decile_edges),
                "bin_counts": None if column.bin_counts is None else [int(v) for v in column.bin_counts],
                "bin_sums": _floats(column.bin_sums),
                "values": _floats(column.values),
            }
        elif isinstance(column, CategoricalProfile):
            columns[name] = {
                "kind": "categorical",
                "dtype": column.dtype,
                "count": column.count,
                "missing": column.missing,
                "counts": column.counts,
            }
        else:
            columns[name] = {
                "kind": "other",
                "dtype": column.dtype,
                "count": column.count,
                "missing": column.missing,
            }
    correlation = None
    if profile.correlation is not None:
        c = profile.correlation
        correlation = {
            "columns": c.columns,
            "n": c.n.tolist(),
            "mean": c.mean.tolist(),
            "m2": c.m2.tolist(),
            "comoment": c.comoment.tolist(),
        }
    return {
        "format": PROFILE_FORMAT,
        "version": PROFILE_VERSION,
        "rows": profile.rows,
        "edge_rows": profile.edge_rows,
        "sources": profile.sources,
        "columns": columns,
        "correlation": correlation,
    }


def _floats(values: Any) -> list[float] | None:
    return None if values is None else [float(v) for v in values]


def profile_from_dict(data: Any, origin: str = "profile") -> Profile:
    """Rebuild a Profile from profile_to_dict's output; a DataError names what is malformed."""
    import numpy as np

    if not isinstance(data, dict) or data.get("format") != PROFILE_FORMAT:
        raise DataError(f"{origin}: not an mlops-actions data profile (expected format '{PROFILE_FORMAT}')")
    if data.get("version") != PROFILE_VERSION:
        raise DataError(f"{origin}: unsupported profile version {data.get('version')!r}, expected 1")
    try:
        columns: dict[str, ColumnProfile] = {}
        for name, item in data["columns"].items():
            kind = item["kind"]
            if kind == "numeric":
                column = NumericProfile(
                    dtype=item["dtype"],
                    count=int(item["count"]),
                    missing=int(item["missing"]),
                    infinite=int(item["infinite"]),
                    mean=float(item["mean"]),
                    m2=float(item["m2"]),
                    min=None if item["min"] is None else float(item["min"]),
                    max=None if item["max"] is None else float(item["max"]),
                    values=None if item["values"] is None else np.asarray(item["values"], dtype=float),
                )
                if item["edges"] is not None:
                    set_edges(column, item["edges"], item["decile_edges"])
                    column.bin_counts = np.asarray(item["bin_counts"], dtype=np.int64)
                    column.bin_sums = np.asarray(item["bin_sums"], dtype=float)
                    if len(column.bin_counts) != len(column.edges) + 1:  # type: ignore[arg-type]
                        raise ValueError(f"column {name}: bin_counts do not match edges")
                columns[name] = column
            elif kind == "categorical":
                counts = item["counts"]
                columns[name] = CategoricalProfile(
                    dtype=item["dtype"],
                    count=int(item["count"]),
                    missing=int(item["missing"]),
                    counts=None if counts is None else {str(k): int(v) for k, v in counts.items()},
                )
            elif kind == "other":
                columns[name] = OtherProfile(
                    dtype=item["dtype"], count=int(item["count"]), missing=int(item["missing"])
                )
            else:
                raise ValueError(f"column {name}: unknown kind {kind!r}")
        correlation = None
        if data.get("correlation") is not None:
            c = data["correlation"]
            correlation = CorrelationProfile(
                columns=[str(x) for x in c["columns"]],
                n=np.asarray(c["n"], dtype=float),
                mean=np.asarray(c["mean"], dtype=float),
                m2=np.asarray(c["m2"], dtype=float),
                comoment=np.asarray(c["comoment"], dtype=float),
            )
        return Profile(
            rows=int(data["rows"]),
            columns=columns,
            correlation=correlation,
            edge_rows=int(data.get("edge_rows", DEFAULT_EDGE_ROWS)),
            sources=[str(s) for s in data.get("sources", [])],
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise DataError(f"{origin}: malformed data profile: {error}") from None


def save_profile(profile: Profile, path: str | Path) -> None:
    """Write a profile as JSON atomically (temp file then rename)."""
    from mlops_actions.domain.model_io import write_text_atomic

    write_text_atomic(Path(path), json.dumps(profile_to_dict(profile), allow_nan=False) + "\n")


def load_profile(path: str | Path) -> Profile:
    """Read a profile JSON file; a DataError names the file when it is missing or malformed."""
    return profile_from_dict(read_profile_document(path), str(Path(path)))


def read_profile_document(path: str | Path) -> Any:
    """A profile file's parsed JSON (not yet checked); a DataError names the file when it is missing or
    not JSON."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: profile file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: cannot read profile JSON: {error}") from None
