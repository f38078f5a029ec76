"""The Markdown report: the sticky PR/MR comment, verdict and metrics table first, at most max_chars long."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from functools import cache
from typing import TYPE_CHECKING, Any

from mlops_actions.render.charts import mermaid_changes
from mlops_actions.render.format import (
    MISSING,
    MdSafe,
    code_fence,
    escape_md,
    fmt_count,
    fmt_interval,
    fmt_num,
    fmt_pvalue,
    fmt_seconds,
    fmt_signed,
    plural,
    short_sha,
    strip_terminal,
)
from mlops_actions.render.view import (
    TEST_NAMES,
    MetricView,
    Report,
    RuleView,
    SliceView,
    build_report,
    delta_text,
    evaluation_text,
    p_value_text,
    pass_summary,
    resampling_text,
    role_text,
    rule_legend,
)

if TYPE_CHECKING:
    import jinja2

DEFAULT_MAX_CHARS = 60_000
TEST_OUTPUT_LINES = 80
TEST_OUTPUT_CHARS = 12_000
SUMMARY_NAMES = 5
MIN_ROW_CHARS = 40  # no table row or list item of the report is shorter

ERROR_MESSAGE_CHARS = 2_000
_PLAIN_COMMAND = re.compile(r"[A-Za-z0-9 ._/=:+-]{1,300}")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9._@/+-]{1,100}")
NOT_CHECKED_SHOWN = 20  # models named in the "not checked" lines, the rest counted
STATUS_CELL = {"pass": "✅ pass", "fail": "❌ fail", "warn": "⚠️ warn", "skipped": "— skipped"}


@dataclasses.dataclass(frozen=True)
class Layout:
    """What a rendering includes; the truncation shrinks it step by step."""

    test_lines: int = TEST_OUTPUT_LINES  # 0: no test output
    data_rows: int | None = None  # None: every row; 0: no data details
    slices: int | None = None  # None: every slice; 0: no slice section
    compared: bool = True
    chart: bool = True
    summaries: bool = True
    reasons: int | None = None  # None: every reason
    slice_rules: int | None = None  # slice rules in the change rules table; None: every one


# ---------------------------------------------------------------- filters


def _safe(text: str) -> MdSafe:
    return MdSafe(text)


def _finalize(value: Any) -> Any:
    """Escape every value a template prints unless it is already Markdown-safe."""
    if isinstance(value, MdSafe):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return fmt_num(value)
    return escape_md(value)


def _metric_label(metric: MetricView) -> MdSafe:
    label = escape_md(metric.label, 80)
    role = f" · {metric.role}" if metric.role else ""
    return _safe(f"**{label}**{role}" if metric.primary else f"{label}{role}")


def _rule_cell(rule: RuleView) -> MdSafe:
    where = escape_md(rule.where, 120)
    return _safe(f"{where}: {escape_md(rule.description, 120)}" if rule.description else where)


def _margin_cell(value: Any) -> MdSafe:
    return _safe(MISSING if value is None else f"±{fmt_num(value)}")


def _rule_status(rule: RuleView) -> MdSafe:
    status = _status_cell(rule.status)
    marker = rule.marker
    if marker is None:
        return status
    return _safe(f"{status} · {'⚠ ' if marker != 'equivalent' else ''}{marker}")


def _delta_cell(metric: MetricView) -> MdSafe:
    return _safe(delta_text(metric))  # digits, signs, arrows and words only


def _interval_cell(metric: MetricView, has_baseline: bool) -> MdSafe:
    return _safe(
        fmt_interval(metric.ci_low, metric.ci_high, signed=has_baseline and metric.delta is not None)
    )


def _status_cell(status: Any) -> MdSafe:
    if status is None:
        return _safe(MISSING)
    return _safe(STATUS_CELL.get(str(status), escape_md(status, 20)))


def _slice_status(item: SliceView) -> MdSafe:
    if item.flagged:
        reasons = "; ".join(escape_md(reason, 200) for reason in item.failures)
        return _safe(f"❌ flagged: {reasons}" if reasons else "❌ flagged")
    return _status_cell(item.status)


def _join_md(values: Iterable[Any], separator: str = "; ", limit: int = 200) -> MdSafe:
    return _safe(separator.join(escape_md(value, limit) for value in values) or MISSING)


def _sha(value: Any, length: int = 7) -> MdSafe:
    if value is None:
        return _safe(MISSING)
    short = short_sha(value, length)
    if short is None:
        return escape_md(value, 20)
    prefix = "sha256:" if isinstance(value, str) and value.startswith("sha256:") else ""
    return _safe(f"`{prefix}{short}`")


def _fingerprint(value: Any) -> MdSafe:
    if not isinstance(value, dict) or not value:
        return _safe(MISSING)
    facts = [_sha(value.get("sha256"))]
    if value.get("rows") is not None:
        facts.append(_safe(f"{fmt_count(value.get('rows'))} rows"))
    path = escape_md(value.get("path"), 120) if value.get("path") else ""
    return _safe(f"{path} ({', '.join(facts)})" if path else ", ".join(facts))


def _p_equals(value: Any) -> MdSafe:
    text = fmt_pvalue(value)
    return _safe(f"p {text}" if text.startswith("<") else f"p = {text}")


def _yes_no(value: Any) -> MdSafe:
    return _safe(MISSING if value is None else "yes" if value else "no")


def _drift_cell(value: Any) -> MdSafe:
    return _safe("⚠️ yes" if value is True else "no" if value is False else MISSING)


def _url(value: str) -> MdSafe:
    return _safe(value)  # already checked by safe_url: http(s), no spaces, quotes or parentheses


FILTERS: dict[str, Callable[..., Any]] = {
    "md": escape_md,
    "num": lambda value: _safe(fmt_num(value)),
    "signed": lambda value: _safe(fmt_signed(value)),
    "pvalue": lambda value: _safe(fmt_pvalue(value)),
    "p_equals": _p_equals,
    "plural": lambda count, word: _safe(plural(count, word)),
    "count": lambda value: _safe(fmt_count(value)),
    "seconds": lambda value: _safe(fmt_seconds(value)),
    "metric_label": _metric_label,
    "delta_cell": _delta_cell,
    "interval_cell": _interval_cell,
    "status_cell": _status_cell,
    "slice_status": _slice_status,
    "join_md": _join_md,
    "sha": _sha,
    "fingerprint": _fingerprint,
    "yes_no": _yes_no,
    "drift_cell": _drift_cell,
    "url": _url,
    "rule_cell": _rule_cell,
    "margin_cell": _margin_cell,
    "rule_status": _rule_status,
    "test_name": lambda value: _safe(TEST_NAMES.get(str(value), escape_md(value, 20))),
}


@cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the Markdown templates (package data)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mlops_actions.render", "templates"),
        autoescape=False,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(FILTERS)
    return env


# ---------------------------------------------------------------- content


def _names(values: list[Any], limit: int = SUMMARY_NAMES) -> str:
    shown = ", ".join(escape_md(value, 60) for value in values[:limit])
    return shown + (f", … ({len(values) - limit} more)" if len(values) > limit else "")


def _tests_summary(report: Report) -> MdSafe:
    tests = report.tests
    status = tests["status"]
    if status == "not-configured":
        return _safe("not configured")
    parts = [_status_cell(status)]
    counts = tests["counts"]
    if counts:
        parts.append(_safe(", ".join(f"{fmt_count(value)} {key}" for key, value in counts.items())))
    if tests["exit_code"] not in (None, 0):
        parts.append(_safe(f"exit code {tests['exit_code']}"))
    if tests["seconds"] is not None:
        parts.append(_safe(fmt_seconds(tests["seconds"])))
    if tests["required"] is False:
        parts.append(_safe("not required for the verdict"))
    return _safe(" · ".join(parts))


def _data_summary(report: Report) -> MdSafe:
    checks = report.data_checks
    assert checks is not None
    parts = [_status_cell(checks["status"])]
    if checks["schema_status"]:
        violations = len(checks["violations"])
        text = f"schema {_status_cell(checks['schema_status'])}"
        if violations:
            columns = list(dict.fromkeys(v.get("column") for v in checks["violations"]))
            text += f" ({plural(violations, 'violation')}: {_names(columns)})"
        parts.append(_safe(text))
    status = checks["changes_status"]
    if status == "changed":
        parts.append(
            _safe(
                f"data changed ({checks['files_changed']} of {plural(len(checks['change_files']), 'file')})"
            )
        )
    elif status == "unchanged":
        parts.append(_safe("data unchanged"))
    elif status == "no-base":
        parts.append(_safe("no base data to compare with"))
    drifted = checks["drifted_columns"]
    if drifted:
        parts.append(_safe(f"drift in {plural(len(drifted), 'column')}: {_names(drifted)}"))
    elif checks["drift_rows"]:
        parts.append(_safe("no drift"))
    flagged = checks["leakage_flagged"]
    if flagged:
        names = [flag.get("column") for flag in flagged]
        parts.append(_safe(f"leakage: {plural(len(flagged), 'column')} flagged ({_names(names)})"))
    elif checks["leakage_status"]:
        parts.append(_safe("no leakage flags"))
    return _safe(" · ".join(parts))


def _headline(report: Report) -> MdSafe:
    icon, word = ("✅", "PASS") if report.verdict == "pass" else ("❌", "FAIL")
    task = f" ({escape_md(report.task, 20)})" if report.task else ""
    return _safe(f"{icon} {word}: model {escape_md(report.model_name, 100)}{task}")


def _limited_slices(slices: list[SliceView], limit: int | None) -> list[SliceView]:
    if limit is None or limit >= len(slices):
        return slices
    flagged = [i for i, item in enumerate(slices) if item.status == "fail"][:limit]
    others = [i for i, item in enumerate(slices) if item.status != "fail"][: max(limit - len(flagged), 0)]
    return [slices[i] for i in sorted(flagged + others)]


def _limited_rules(rules: list[RuleView], slice_rules: int | None) -> list[RuleView]:
    """Every overall change rule, then up to ``slice_rules`` slice rules: failed ones first, then those
    whose power note matters, in document order."""
    if slice_rules is None:
        return rules
    indexed = [(i, rule) for i, rule in enumerate(rules) if rule.slice]
    ranked = sorted(indexed, key=lambda item: (item[1].status != "fail", item[1].power_note is None, item[0]))
    kept = {i for i, _ in ranked[:slice_rules]}
    return [rule for i, rule in enumerate(rules) if not rule.slice or i in kept]


def _data_details(report: Report, rows: int | None) -> dict[str, Any] | None:
    checks = report.data_checks
    if checks is None or rows == 0:
        return None
    details = dict(checks)
    has_content = any(
        checks[key]
        for key in ("violations", "change_files", "drift_rows", "correlation_changes", "leakage_flagged")
    )
    if not has_content and not checks["schema_status"]:
        return None
    drift = sorted(checks["drift_rows"], key=lambda row: row.get("drifted") is not True)
    details["drift_rows"] = drift
    details["violations_omitted"] = details["drift_omitted"] = 0
    if rows is not None:
        details["violations_omitted"] = max(len(checks["violations"]) - rows, 0)
        details["drift_omitted"] = max(len(drift) - rows, 0)
        for key in ("violations", "change_files", "drift_rows", "correlation_changes", "leakage_flagged"):
            details[key] = details[key][:rows]
    return details


def _compared(report: Report) -> dict[str, Any]:
    compared = dict(report.compared)
    empty = {key: None for key in ("commit", "branch", "dirty", "version", "model_digest", "train_seconds")}
    compared["baseline"] = compared["baseline"] or {**empty, "data": {}}
    compared["roles"] = compared["roles"][:50]
    return compared


def _test_output(report: Report, lines: int) -> tuple[MdSafe | None, int]:
    tail = report.tests["output_tail"]
    if not tail or lines <= 0:
        return None, 0
    text = strip_terminal(tail, lines, TEST_OUTPUT_CHARS)
    fence = code_fence(text)
    return _safe(f"{fence}text\n{text}\n{fence}"), text.count("\n") + 1


def _left_out(report: Report, layout: Layout) -> list[str]:
    """What a layout leaves out of the full report, in words."""
    left_out = []
    if layout.reasons is not None and layout.reasons < len(report.reasons):
        left_out.append(f"reasons beyond the first {layout.reasons}")
    if not layout.summaries:
        left_out.append("the baseline, tests and data summaries")
    if not layout.chart and mermaid_changes(report):
        left_out.append("the chart")
    rules = len([rule for rule in report.change_rules if rule.slice])
    if layout.slice_rules is not None and layout.slice_rules < rules:
        left_out.append(f"{rules - layout.slice_rules:,} of {rules:,} slice rules")
    if report.slices and layout.slices == 0:
        left_out.append("the slices")
    elif layout.slices is not None and layout.slices < len(report.slices):
        left_out.append(f"{len(report.slices) - layout.slices:,} of {len(report.slices):,} slices")
    if _data_details(report, None) is not None:
        if layout.data_rows == 0:
            left_out.append("the data check details")
        elif layout.data_rows is not None and _data_details(report, None) != _data_details(
            report, layout.data_rows
        ):
            left_out.append(f"data check rows beyond the first {layout.data_rows} per table")
    if not layout.compared:
        left_out.append("the comparison details")
    if report.tests["output_tail"]:
        if layout.test_lines == 0:
            left_out.append("the test output")
        elif _test_output(report, layout.test_lines) != _test_output(report, Layout().test_lines):
            left_out.append("older test output lines")
    return left_out


def _truncation_note(report: Report, layout: Layout, max_chars: int) -> MdSafe | None:
    """The note that says what was left out and where to find everything; None when nothing was."""
    left_out = _left_out(report, layout)
    if not left_out:
        return None
    links = " or ".join(f"[{label}]({url})" for label, url in report.links)
    if not layout.summaries:  # the last resorts: keep the note short
        where = f" See the {links}." if links else ""
        return _safe(f"✂️ **Shortened to fit {max_chars:,} characters.**{where}")
    where = (
        f"See the {links} for everything."
        if links
        else "`mlops-actions report --format html` shows everything."
    )
    return _safe(f"✂️ **Shortened to fit {max_chars:,} characters**: left out {', '.join(left_out)}. {where}")


def _render(report: Report, layout: Layout, max_chars: int, note: bool = True) -> str:
    reasons = report.reasons if layout.reasons is None else report.reasons[: layout.reasons]
    test_output, test_lines = _test_output(report, layout.test_lines)
    slices = _limited_slices(report.slices, layout.slices)
    rules = _limited_rules(report.change_rules, layout.slice_rules)
    shown = set(map(id, rules))
    evaluation = evaluation_text(report)
    roles = role_text(report)
    context = {
        "report": report,
        "layout": layout,
        "verdict_headline": _headline(report),
        "reasons": reasons,
        "reasons_omitted": len(report.reasons) - len(reasons),
        "pass_summary": _safe(escape_md(pass_summary(report))),
        "resampling": _safe(resampling_text(report)),
        "tests_summary": _tests_summary(report),
        "data_summary": _data_summary(report) if report.data_checks else None,
        "chart": _safe(chart) if layout.chart and (chart := mermaid_changes(report)) else None,
        "slices": slices if layout.slices != 0 else [],
        "slices_omitted": len(report.slices) - len(slices),
        "data_details": _data_details(report, layout.data_rows),
        "compared": _compared(report) if layout.compared else None,
        "test_output": test_output,
        "test_output_lines": test_lines,
        "not_checked": not_checked_lines(report),
        "warnings": [escape_md(line, 300) for line in report.warnings],
        "roles": escape_md(roles, 1000) if roles else None,
        "rules": [(rule, _safe(escape_md(p_value_text(rule, report)))) for rule in rules],
        "rules_omitted": len(report.change_rules) - len(rules),
        "rule_legend": escape_md(rule_legend(report), 1000) if rules else None,
        "power_notes": [
            (rule, escape_md(note, 400)) for rule, note in report.power_notes if id(rule) in shown
        ],
        "evaluation": escape_md(evaluation, 600) if evaluation else None,
        "cross_fitted": report.evaluation is not None and report.evaluation.mode == "cross_fit",
        "sep": _safe(" · "),
        "truncation_note": _truncation_note(report, layout, max_chars) if note else None,
    }
    return environment().get_template("report.md.j2").render(context).strip() + "\n"


def _largest_fitting(fits: Callable[[int], bool], low: int, high: int) -> int | None:
    """The largest n in [low, high] with fits(n), assuming fits is monotone (True then False)."""
    if high < low or not fits(low):
        return None
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _shrinking_layouts() -> list[tuple[Layout, str | None, int]]:
    """Layouts from richest to barest.

    The second item names a count to shrink by binary search ('slices' or 'reasons'), the third the
    smallest count worth keeping at that step (below it, the next step drops something else first).
    """
    steps: list[tuple[Layout, str | None, int]] = []
    layout = Layout(test_lines=30, data_rows=50)
    steps.append((layout, None, 0))
    steps.append((layout, "slices", 10))
    layout = dataclasses.replace(layout, test_lines=0, data_rows=20)
    steps.append((layout, "slices", 10))
    layout = dataclasses.replace(layout, compared=False, data_rows=10)
    steps.append((layout, "slices", 5))
    layout = dataclasses.replace(layout, data_rows=0)
    steps.append((layout, "slices", 1))
    layout = dataclasses.replace(layout, slices=0)
    steps.append((layout, "slice_rules", 0))
    layout = dataclasses.replace(layout, slice_rules=0)
    layout = dataclasses.replace(layout, chart=False)
    steps.append((layout, None, 0))
    layout = dataclasses.replace(layout, summaries=False)
    steps.append((layout, "reasons", 1))
    return steps


def _rows_at_least(report: Report, layout: Layout) -> int:
    """How many table rows and list items a layout renders at least (to skip hopeless renderings)."""
    rows = len(report.slices) if layout.slices is None else 0
    if layout.slice_rules is None:
        rows += len(report.change_rules)
    checks = report.data_checks
    if checks is not None and layout.data_rows is None:
        rows += len(checks["violations"]) + len(checks["drift_rows"]) + len(checks["correlation_changes"])
    return rows


def _with_count(layout: Layout, field: str, count: int) -> Layout:
    if field == "slices":
        return dataclasses.replace(layout, slices=count)
    if field == "slice_rules":
        return dataclasses.replace(layout, slice_rules=count)
    return dataclasses.replace(layout, reasons=count)


def _searched_total(report: Report, field: str | None) -> int:
    """How many items a shrinking step searches over: slices, slice rules or reasons."""
    if field == "slices":
        return len(report.slices)
    if field == "slice_rules":
        return len([rule for rule in report.change_rules if rule.slice])
    return len(report.reasons) if field else 0


def _hard_cut(text: str, note: str, max_chars: int) -> str:
    tail = f"\n\n> {note}\n"
    if len(tail) >= max_chars:
        return text[:max_chars]
    cut = text[: max_chars - len(tail)]
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    return cut.rstrip() + tail


def _command(text: str) -> MdSafe:
    """A command as inline code when it is plain (letters, digits, paths, options), else escaped text."""
    return _safe(f"`{text}`") if _PLAIN_COMMAND.fullmatch(text) else escape_md(text, 300)


def not_checked_lines(report: Report) -> list[MdSafe]:
    """One line per model of the repository this change did not check: ``Not checked in this PR: `b`
    (no input changed: ...)``, the names past NOT_CHECKED_SHOWN counted in a last line."""
    lines = []
    for skipped in report.skipped_models[:NOT_CHECKED_SHOWN]:
        name = f"`{skipped.model}`" if _PLAIN_NAME.fullmatch(skipped.model) else escape_md(skipped.model, 100)
        lines.append(_safe(f"Not checked in this PR: {name} ({escape_md(skipped.reason, 300)})"))
    left = len(report.skipped_models) - NOT_CHECKED_SHOWN
    if left > 0:
        lines.append(_safe(f"… and {plural(left, 'more model')} not checked in this PR"))
    return lines


def error_markdown(report: Report, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The comment of a check stopped by an error: the error line, the failed step, how to reproduce it."""
    assert report.error is not None
    error = report.error
    context = {
        "report": report,
        "error": {
            "message": escape_md(error.message, ERROR_MESSAGE_CHARS),
            "stage": escape_md(error.stage, 100),
        },
        "reproduce": _command(error.reproduce),
        "not_checked": not_checked_lines(report),
        "sep": _safe(" · "),
    }
    text = environment().get_template("error.md.j2").render(context).strip() + "\n"
    return text if len(text) <= max_chars else _hard_cut(text, "✂️ **Shortened**.", max_chars)


def markdown_from_report(report: Report, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Render the report, shrinking its long parts until it fits in max_chars characters."""
    if report.error is not None:
        return error_markdown(report, max_chars)
    for layout, search, minimum in [(Layout(), None, 0), *_shrinking_layouts()]:
        if _rows_at_least(report, layout) * MIN_ROW_CHARS <= max_chars:
            text = _render(report, layout, max_chars)
            if len(text) <= max_chars:
                return text
        total = _searched_total(report, search)
        if search is None or total <= minimum:
            continue

        def fits(count: int, base: Layout = layout, field: str = search) -> bool:
            return len(_render(report, _with_count(base, field, count), max_chars)) <= max_chars

        count = _largest_fitting(fits, minimum, min(total - 1, max_chars // MIN_ROW_CHARS))
        if count is not None:
            return _render(report, _with_count(layout, search, count), max_chars)
    barest = dataclasses.replace(_shrinking_layouts()[-1][0], reasons=min(len(report.reasons), 1))
    note = _truncation_note(report, barest, max_chars) or _safe("✂️ **Shortened**.")
    return _hard_cut(_render(report, barest, max_chars, note=False), note, max_chars)


def render_markdown(
    result: dict[str, Any], *, max_chars: int = DEFAULT_MAX_CHARS, links: dict[str, str] | None = None
) -> str:
    """The Markdown report of a result document (a PR/MR comment), at most ``max_chars`` characters.

    The verdict with its reasons comes first, then the metrics table; when the text is too long the
    long parts (test output, data details, comparison details, slices, chart) are shortened or left
    out first, and a note says so with links to the full report.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    return markdown_from_report(build_report(result, links), max_chars)
