"""Plain-text renderings of validation results and drift reports for the terminal."""

from __future__ import annotations

from mlops_actions.domain.data.drift import DriftReport
from mlops_actions.domain.data.validate import FileValidation


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.3g}"
    return f"{value:.4f}"


def render_validation_text(results: list[FileValidation], schema_path: str) -> str:
    """One block per file: PASS/FAIL, rows, then one line per violation."""
    lines = []
    for result in results:
        verdict = "PASS" if result.passed else f"FAIL ({len(result.violations)} violation(s))"
        lines.append(f"{result.path}: {verdict}, {result.rows} rows, schema {schema_path}")
        for violation in result.violations:
            where = f"column '{violation.column}'" if violation.column is not None else "table"
            examples = f"; e.g. {', '.join(violation.examples)}" if violation.examples else ""
            lines.append(f"  {where}: {violation.kind} x{violation.count}: {violation.message}{examples}")
    return "\n".join(lines) + "\n"


def render_drift_text(report: DriftReport) -> str:
    """A table of columns (drifted first), the dataset verdict, and the largest correlation changes."""
    rows = [("column", "kind", "method", "score", "threshold", "verdict", "psi / js", "wasserstein/std")]
    ordered = sorted(report.columns, key=lambda c: (not c.drifted, c.column))
    for column in ordered:
        secondary = column.extras.get("psi", column.extras.get("jensenshannon"))
        rows.append(
            (
                column.column,
                column.kind,
                column.method,
                _number(column.score),
                _number(column.threshold),
                "DRIFT" if column.drifted else "ok",
                _number(secondary),
                _number(column.extras.get("wasserstein_norm")),
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = [f"reference: {report.reference} ({report.reference_rows} rows)"]
    lines.append(f"current:   {report.current} ({report.current_rows} rows)")
    lines.append("")
    for row in rows:
        lines.append(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
        )
    for item in report.skipped:
        lines.append(f"skipped {item['column']}: {item['reason']}")
    if report.new_columns:
        lines.append(f"new columns (not compared): {', '.join(report.new_columns)}")
    if report.missing_columns:
        lines.append(f"missing columns: {', '.join(report.missing_columns)}")
    if report.correlation_changes:
        lines.append("")
        lines.append("largest correlation changes:")
        for change in report.correlation_changes:
            flag = "  FLAGGED" if change.flagged else ""
            lines.append(
                f"  {change.a} ~ {change.b}: {change.before:+.3f} -> {change.after:+.3f} "
                f"(delta {change.delta:+.3f}){flag}"
            )
    lines.append("")
    if report.drifted:
        lines.append(f"dataset: DRIFT: {'; '.join(report.reasons)}")
    else:
        lines.append(f"dataset: no drift: {report.drifted_columns} of {len(report.columns)} columns drifted")
    return "\n".join(lines) + "\n"
