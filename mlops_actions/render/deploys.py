"""Deploy records as a table: plain text for a terminal, Markdown for a report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mlops_actions.render.format import MISSING, escape_md, one_line

COLUMNS = (
    "time",
    "version",
    "outcome",
    "previous",
    "target",
    "smoke",
    "rps",
    "p95 ms",
    "p99 ms",
    "errors",
    "s",
    "reason",
)


def _number(value: Any, digits: int) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return MISSING
    return f"{value:.{digits}f}"


def _section(record: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = record.get(key)
    return value if isinstance(value, Mapping) else {}


def _cells(record: Mapping[str, Any]) -> list[str]:
    """One record's values, in COLUMNS order, each a short one-line string."""
    smoke = _section(record, "smoke")
    load = _section(record, "load")
    rows, mismatches = smoke.get("rows"), smoke.get("mismatches")
    smoke_cell = f"{mismatches}/{rows} off" if rows is not None and mismatches is not None else MISSING
    error_rate = _number(load.get("error_rate"), 6)
    errors = MISSING if error_rate == MISSING else f"{float(error_rate) * 100:.2f}%"
    values = [
        record.get("time"),
        record.get("version"),
        record.get("outcome"),
        record.get("previous"),
        record.get("target"),
        smoke_cell,
        _number(load.get("rps"), 1),
        _number(load.get("p95_ms"), 1),
        _number(load.get("p99_ms"), 1),
        errors,
        _number(record.get("duration_s"), 1),
        record.get("reason"),
    ]
    return [one_line(MISSING if v is None else v, 120) for v in values]


def deploys_text(records: Sequence[Mapping[str, Any]]) -> str:
    """A plain table of the records (oldest first, as given), columns aligned; a line when there are none."""
    if not records:
        return "no deploy records yet\n"
    rows = [list(COLUMNS), *(_cells(r) for r in records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


def deploys_markdown(records: Sequence[Mapping[str, Any]]) -> str:
    """A Markdown table of the records (oldest first, as given); every value escaped."""
    if not records:
        return "_No deploy records yet._\n"
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(escape_md(cell) for cell in _cells(r)) + " |" for r in records]
    return "\n".join(lines) + "\n"
