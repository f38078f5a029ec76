"""Data schemas: inferred from data, written as reviewable YAML, read back with clear errors.

Inference policy (slack so that the same data, and a fresh sample of it, pass):
- numeric range: the observed [min, max] widened by a quarter of its span on each side, rounded outward
  to three significant digits of the span; a column never seen negative keeps a lower bound of 0 at most;
  integer columns get integer bounds;
- null share: columns without missing values are not nullable; otherwise the allowed share is the
  observed share + 4 binomial standard errors + 0.01 (capped at 1);
- categories: a string column with at most ``max_categories`` distinct values, which are fewer than
  half its values, is a category column and lists them; otherwise it is a free string column;
- rows: from half the smallest to twice the largest file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_actions.domain.data.profile import CategoricalProfile, NumericProfile, OtherProfile, Profile
from mlops_actions.errors import ConfigError

SCHEMA_VERSION = 1
SCHEMA_DTYPES = ("int", "float", "bool", "string", "category", "datetime")
ROLES = ("feature", "target", "id")
DEFAULT_MAX_CATEGORIES = 50
RANGE_SLACK = 0.25
ROW_SLACK = 2.0
COLUMN_KEYS = {"dtype", "role", "nullable", "max_null_share", "min", "max", "categories", "allow_inf"}
TOP_KEYS = {"version", "rows", "columns"}
TARGET_NAMES = ("target", "label")
ID_NAMES = ("id",)


@dataclass
class ColumnSchema:
    name: str
    dtype: str
    role: str = "feature"
    nullable: bool = False
    max_null_share: float = 0.0
    min: float | None = None
    max: float | None = None
    categories: list[str] | None = None
    allow_inf: bool = False


@dataclass
class Schema:
    columns: dict[str, ColumnSchema]
    min_rows: int | None = None
    max_rows: int | None = None
    version: int = SCHEMA_VERSION
    source: str = ""

    @property
    def target(self) -> str | None:
        return next((c.name for c in self.columns.values() if c.role == "target"), None)

    @property
    def id_column(self) -> str | None:
        return next((c.name for c in self.columns.values() if c.role == "id"), None)


# ---------------------------------------------------------------- inference


def _round_outward(value: float, step: float, down: bool) -> float:
    if step <= 0:
        return value
    scaled = value / step
    rounded = math.floor(scaled + 1e-9) if down else math.ceil(scaled - 1e-9)
    # repr-friendly: step is a power of ten
    digits = max(0, -math.floor(math.log10(step)))
    return round(rounded * step, digits)


def inferred_range(low: float, high: float, integer: bool) -> tuple[float, float]:
    """The allowed [min, max] for an observed range (see the module docstring)."""
    span = high - low
    if span <= 0:
        slack = abs(low) * RANGE_SLACK if low != 0 else 1.0
        lower, upper = low - slack, high + slack
        step = 10.0 ** math.floor(math.log10(slack)) / 100 if slack > 0 else 0.0
    else:
        lower, upper = low - RANGE_SLACK * span, high + RANGE_SLACK * span
        step = 10.0 ** (math.floor(math.log10(span)) - 2)
    if low >= 0:
        lower = max(lower, 0.0)
    lower, upper = _round_outward(lower, step, True), _round_outward(upper, step, False)
    if integer:
        return float(math.floor(lower)), float(math.ceil(upper))
    return lower, upper


def inferred_null_share(missing: int, total: int) -> float:
    """The allowed share of missing values given the observed one (0 when none was missing)."""
    if total <= 0 or missing <= 0:
        return 0.0
    share = missing / total
    bound = share + 4 * math.sqrt(share * (1 - share) / total) + 0.01
    return min(1.0, math.ceil(bound * 1000) / 1000)


def infer_schema(
    profiles: list[Profile],
    *,
    target: str | None = None,
    id_column: str | None = None,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
) -> Schema:
    """A schema that the profiled files satisfy, with slack for fresh samples; a ConfigError for unknown roles."""
    if not profiles:
        raise ConfigError("no data to infer a schema from")
    names: list[str] = []
    for profile in profiles:
        names.extend(name for name in profile.columns if name not in names)
    for label, column in (("target", target), ("id", id_column)):
        if column is not None and column not in names:
            raise ConfigError(f"{label} column '{column}' is not in the data (columns: {', '.join(names)})")
    if target is None:
        target = next((n for n in names if n.lower() in TARGET_NAMES), None)
    if id_column is None:
        id_column = next((n for n in names if n.lower() in ID_NAMES and n != target), None)
    columns: dict[str, ColumnSchema] = {}
    for name in names:
        parts = [p.columns[name] for p in profiles if name in p.columns]
        absent_rows = sum(p.rows for p in profiles if name not in p.columns)
        inferred = _infer_column(name, parts, absent_rows, max_categories)
        inferred.role = "target" if name == target else "id" if name == id_column else "feature"
        if inferred.role == "id":
            inferred.min = inferred.max = None
            inferred.categories = None
            if inferred.dtype == "category":
                inferred.dtype = "string"
        columns[name] = inferred
    rows = [p.rows for p in profiles]
    return Schema(
        columns=columns,
        min_rows=math.floor(min(rows) / ROW_SLACK),
        max_rows=math.ceil(max(rows) * ROW_SLACK),
    )


def _infer_column(name: str, parts: list[Any], absent_rows: int, max_categories: int) -> ColumnSchema:
    dtypes = {p.dtype for p in parts} - {"null"}
    missing = sum(p.missing for p in parts) + absent_rows
    present = sum(p.count for p in parts)
    total = missing + present + sum(getattr(p, "infinite", 0) for p in parts)
    share = inferred_null_share(missing, total)
    column = ColumnSchema(name=name, dtype="string", nullable=share > 0, max_null_share=share)
    if not dtypes:
        column.nullable, column.max_null_share = True, 1.0
        return column
    if all(isinstance(p, NumericProfile) or p.dtype == "null" for p in parts):
        numeric = [p for p in parts if isinstance(p, NumericProfile)]
        integer = dtypes == {"int"}
        column.dtype = "int" if integer else "float"
        lows = [p.min for p in numeric if p.min is not None]
        highs = [p.max for p in numeric if p.max is not None]
        if lows and highs:
            column.min, column.max = inferred_range(min(lows), max(highs), integer)
        column.allow_inf = any(p.infinite for p in numeric)
        return column
    if dtypes == {"bool"}:
        column.dtype = "bool"
        return column
    if dtypes == {"datetime"}:
        column.dtype = "datetime"
        return column
    categorical = [p for p in parts if isinstance(p, CategoricalProfile)]
    if len(categorical) == len([p for p in parts if not isinstance(p, OtherProfile) or p.dtype != "null"]):
        counts: dict[str, int] | None = {}
        for part in categorical:
            if part.counts is None or counts is None:
                counts = None
                break
            for key, value in part.counts.items():
                counts[key] = counts.get(key, 0) + value
        if counts is not None and 0 < len(counts) <= max_categories and len(counts) < 0.5 * max(present, 1):
            column.dtype = "category"
            column.categories = sorted(counts)
    return column


# ---------------------------------------------------------------- YAML

HEADER = """\
# Data schema for mlops-actions (docs/data-checks.md). Review it like code.
# `mlops-actions data validate DATA --schema THIS_FILE` checks data against it.
# Per column: dtype (int, float, bool, string, category, datetime); role (feature, target, id);
# nullable and max_null_share; min/max for numbers; categories for category columns;
# allow_inf to accept infinite numbers. rows: bounds on the number of rows of every file.
"""


def schema_to_dict(schema: Schema) -> dict[str, Any]:
    """The YAML-ready mapping: version, rows, columns (only the keys that say something)."""
    columns: dict[str, Any] = {}
    for name, column in schema.columns.items():
        item: dict[str, Any] = {"dtype": column.dtype}
        if column.role != "feature":
            item["role"] = column.role
        item["nullable"] = column.nullable
        if column.nullable:
            item["max_null_share"] = column.max_null_share
        if column.min is not None:
            item["min"] = int(column.min) if column.dtype == "int" else column.min
        if column.max is not None:
            item["max"] = int(column.max) if column.dtype == "int" else column.max
        if column.categories is not None:
            item["categories"] = list(column.categories)
        if column.allow_inf:
            item["allow_inf"] = True
        columns[name] = item
    rows: dict[str, int] = {}
    if schema.min_rows is not None:
        rows["min"] = schema.min_rows
    if schema.max_rows is not None:
        rows["max"] = schema.max_rows
    data: dict[str, Any] = {"version": schema.version}
    if rows:
        data["rows"] = rows
    data["columns"] = columns
    return data


def dump_schema(schema: Schema) -> str:
    """The schema as commented YAML text."""
    import yaml

    body = yaml.safe_dump(schema_to_dict(schema), sort_keys=False, default_flow_style=False, width=100)
    return HEADER + body


def schema_from_dict(data: Any, origin: str = "schema") -> Schema:
    """Validate and build a Schema; a ConfigError names the file, key and what was expected."""
    problems: list[str] = []

    def problem(text: str) -> None:
        problems.append(f"{origin}: {text}")

    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping with version, rows and columns")
    for key in data:
        if key not in TOP_KEYS:
            problem(f"unknown key '{key}', expected one of {', '.join(sorted(TOP_KEYS))}")
    if data.get("version") != SCHEMA_VERSION:
        problem(f"version must be {SCHEMA_VERSION}, got {data.get('version')!r}")
    min_rows = max_rows = None
    rows = data.get("rows")
    if rows is not None:
        if not isinstance(rows, dict) or set(rows) - {"min", "max"}:
            problem("rows must be a mapping with min and/or max")
        else:
            min_rows, max_rows = rows.get("min"), rows.get("max")
            for key, value in (("min", min_rows), ("max", max_rows)):
                if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                    problem(f"rows.{key} must be a non-negative integer, got {value!r}")
    raw_columns = data.get("columns")
    columns: dict[str, ColumnSchema] = {}
    if not isinstance(raw_columns, dict) or not raw_columns:
        problem("columns must be a non-empty mapping of column name to settings")
        raw_columns = {}
    for name, item in raw_columns.items():
        where = f"columns.{name}"
        if not isinstance(item, dict):
            problem(f"{where} must be a mapping with at least dtype")
            continue
        for key in item:
            if key not in COLUMN_KEYS:
                problem(f"{where}: unknown key '{key}', expected one of {', '.join(sorted(COLUMN_KEYS))}")
        dtype = item.get("dtype")
        if dtype not in SCHEMA_DTYPES:
            problem(f"{where}.dtype must be one of {', '.join(SCHEMA_DTYPES)}, got {dtype!r}")
            continue
        role = item.get("role", "feature")
        if role not in ROLES:
            problem(f"{where}.role must be one of {', '.join(ROLES)}, got {role!r}")
        nullable = item.get("nullable", False)
        if not isinstance(nullable, bool):
            problem(f"{where}.nullable must be true or false, got {nullable!r}")
        share = item.get("max_null_share", 1.0 if nullable is True else 0.0)
        if not _is_number(share) or not 0 <= share <= 1:
            problem(f"{where}.max_null_share must be a number between 0 and 1, got {share!r}")
            share = 0.0
        low, high = item.get("min"), item.get("max")
        for key, value in (("min", low), ("max", high)):
            if value is not None and (dtype not in ("int", "float") or not _is_number(value)):
                problem(f"{where}.{key} must be a number and only for int or float columns, got {value!r}")
        if low is not None and high is not None and _is_number(low) and _is_number(high) and low > high:
            problem(f"{where}: min {low} is above max {high}")
        categories = item.get("categories")
        if categories is not None and (dtype != "category" or not isinstance(categories, list)):
            problem(f"{where}.categories must be a list, and only for category columns")
            categories = None
        allow_inf = item.get("allow_inf", False)
        if not isinstance(allow_inf, bool):
            problem(f"{where}.allow_inf must be true or false, got {allow_inf!r}")
        columns[str(name)] = ColumnSchema(
            name=str(name),
            dtype=dtype,
            role=role if role in ROLES else "feature",
            nullable=nullable is True,
            max_null_share=float(share),
            min=float(low) if low is not None and _is_number(low) else None,
            max=float(high) if high is not None and _is_number(high) else None,
            categories=None if categories is None else [_category_text(c) for c in categories],
            allow_inf=allow_inf is True,
        )
    for role in ("target", "id"):
        marked = [c.name for c in columns.values() if c.role == role]
        if len(marked) > 1:
            problem(f"only one column may have role {role}, got {', '.join(marked)}")
    if problems:
        raise ConfigError(problems)
    return Schema(columns=columns, min_rows=min_rows, max_rows=max_rows, source=origin)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _category_text(value: object) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def load_schema(path: str | Path) -> Schema:
    """Read a schema YAML file; a ConfigError names the file and the problem."""
    from mlops_actions.domain.yaml_loader import read_yaml

    path = Path(path)
    if not path.exists():
        raise ConfigError(
            f"{path}: schema file not found; create it with `mlops-actions data schema infer DATA -o {path}`"
        )
    return schema_from_dict(read_yaml(path, what="schema YAML"), str(path))


def schema_hash_of(schema: Schema) -> str:
    """Hex sha256 of the schema's canonical JSON form (changes when any rule changes)."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(schema_to_dict(schema), sort_keys=True).encode()).hexdigest()
