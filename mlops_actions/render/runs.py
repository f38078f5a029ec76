"""Recorded runs for a terminal: a table of runs, and one run with every field."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mlops_actions.metadata.records import RunRecord
from mlops_actions.render.format import MISSING, fmt_interval, fmt_num, fmt_seconds, one_line

COLUMNS = ("id", "started", "stage", "model", "verdict", "version/PR", "metric")
ID_CHARS = 8  # enough to name a run for `runs show`


def primary_metric(record: RunRecord, primary: str | None = None) -> tuple[str, dict[str, Any]] | None:
    """The record's ``primary`` metric, or its first metric when it has not that one; None without metrics."""
    if primary is not None and isinstance(record.metrics.get(primary), dict):
        return primary, record.metrics[primary]
    for name, values in record.metrics.items():
        if isinstance(values, dict):
            return name, values
    return None


def _metric_cell(record: RunRecord, primary: str | None) -> str:
    found = primary_metric(record, primary)
    if found is None or found[1].get("value") is None:
        return MISSING
    name, values = found
    interval = fmt_interval(values.get("low"), values.get("high"), signed=False)
    return f"{name} {fmt_num(values.get('value'))}" + ("" if interval == MISSING else f" {interval}")


def _version_cell(record: RunRecord) -> str:
    if record.version:
        return record.version
    return f"PR {record.pr}" if record.pr is not None else MISSING


def _cells(record: RunRecord, primary: str | None) -> list[str]:
    values = [
        record.id[:ID_CHARS],
        record.started_at,
        record.stage,
        record.model,
        record.verdict,
        _version_cell(record),
        _metric_cell(record, primary),
    ]
    return [one_line(value, 80) for value in values]


def runs_text(records: Sequence[RunRecord], *, primary: str | None = None) -> str:
    """The runs as an aligned table, oldest first; ``primary`` names the metric shown (else each run's first)."""
    if not records:
        return "no runs recorded yet\n"
    rows = [list(COLUMNS), *(_cells(record, primary) for record in records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, (dict, list)):
        return one_line(json.dumps(value, sort_keys=True, ensure_ascii=False), 2000)
    return one_line(value, 2000)


def run_text(record: RunRecord) -> str:
    """One run, every field on its own line; metrics as a table of value, interval, baseline and delta."""
    lines = [
        f"run         {record.id}",
        f"stage       {one_line(record.stage)}",
        f"model       {one_line(record.model)}",
        f"verdict     {one_line(record.verdict)}",
        f"started     {one_line(record.started_at)}",
        f"duration    {fmt_seconds(record.duration_s)}",
        f"commit      {_plain(record.commit)}",
        f"version     {_plain(record.version)}",
        f"PR          {_plain(record.pr)}",
        f"tool        {_plain(record.tool_version)}",
        f"schema      {record.schema}",
    ]
    baseline = record.baseline or {}
    if baseline:
        parts = [f"{one_line(key)} {_plain(value)}" for key, value in sorted(baseline.items())]
        lines.append(f"baseline    {', '.join(parts)}")
    else:
        lines.append(f"baseline    {MISSING}")
    lines.append("metrics" + ("" if record.metrics else f"     {MISSING}"))
    if record.metrics:
        header = ["name", "value", "interval", "baseline", "delta", "delta interval", "passed"]
        rows = [header]
        for name, values in record.metrics.items():
            passed = values.get("passed")
            rows.append(
                [
                    one_line(name, 60),
                    fmt_num(values.get("value")),
                    fmt_interval(values.get("low"), values.get("high"), signed=False),
                    fmt_num(values.get("baseline")),
                    fmt_num(values.get("delta"), signed=True),
                    fmt_interval(values.get("delta_low"), values.get("delta_high")),
                    MISSING if passed is None else ("yes" if passed else "no"),
                ]
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines += ["  " + "  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in rows]
    for title, section in (("data", record.data), ("links", record.links), ("details", record.details)):
        lines.append(title + ("" if section else " " * (12 - len(title)) + MISSING))
        lines += [f"  {one_line(key, 60)}: {_plain(value)}" for key, value in section.items()]
    return "\n".join(lines) + "\n"
