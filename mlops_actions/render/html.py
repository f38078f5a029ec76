"""The HTML report: one self-contained file (inline CSS and SVG, no scripts), everything expanded."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from mlops_actions.render.charts import changes_svg, slices_svg
from mlops_actions.render.format import (
    MISSING,
    clip,
    fmt_count,
    fmt_interval,
    fmt_num,
    fmt_pvalue,
    fmt_seconds,
    fmt_signed,
    one_line,
    plural,
    short_sha,
)
from mlops_actions.render.view import (
    LINK_LABELS,
    TEST_NAMES,
    MetricView,
    Report,
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
    from markupsafe import Markup

BADGE_TEXT = {
    "pass": "✅ pass",
    "fail": "❌ fail",
    "warn": "⚠️ warn",
    "skipped": "skipped",
    "not-configured": "not configured",
    "no-base": "no base to compare with",
}


def _markup(text: str) -> Markup:
    from markupsafe import Markup

    return Markup(text)


def _escape(value: Any) -> Markup:
    from markupsafe import escape

    return escape(value)


def _badge(status: Any) -> Markup:
    if status is None:
        return _markup('<span class="badge none">no rule</span>')
    name = one_line(status, 30)
    css = (
        name
        if name in ("pass", "fail", "warn", "skipped", "not-configured", "no-base", "changed", "unchanged")
        else "none"
    )
    text = BADGE_TEXT.get(name, name)
    return _markup(f'<span class="badge {css}">{_escape(text)}</span>')


def _sha(value: Any, length: int = 7) -> str:
    if value is None:
        return MISSING
    short = short_sha(value, length)
    if short is None:
        return one_line(value, 40)
    return ("sha256:" if isinstance(value, str) and value.startswith("sha256:") else "") + short


def _fingerprint(value: Any) -> Markup:
    if not isinstance(value, dict) or not value:
        return _markup(MISSING)
    facts = [f'<span class="mono">{_escape(_sha(value.get("sha256"), 12))}</span>']
    if value.get("rows") is not None:
        facts.append(f"{_escape(fmt_count(value.get('rows')))} rows")
    path = f'<span class="mono">{_escape(one_line(value["path"], 300))}</span> ' if value.get("path") else ""
    return _markup(f"{path}({', '.join(facts)})")


def _delta_class(metric: MetricView) -> str:
    if metric.delta is None or metric.direction == "same":
        return ""
    if metric.within_noise:
        return "noise"
    return "better" if metric.direction == "better" else "worse"


def _p_equals(value: Any) -> str:
    text = fmt_pvalue(value)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


FILTERS: dict[str, Callable[..., Any]] = {
    "num": fmt_num,
    "signed": fmt_signed,
    "count": fmt_count,
    "seconds": fmt_seconds,
    "sha": _sha,
    "clip": lambda value, limit=200: clip(str(value), limit),
    "delta_text": delta_text,
    "delta_class": _delta_class,
    "interval_text": lambda m, has_baseline: fmt_interval(
        m.ci_low, m.ci_high, signed=has_baseline and m.delta is not None
    ),
    "p_equals": _p_equals,
    "pvalue": fmt_pvalue,
    "margin": lambda value: MISSING if fmt_num(value) == MISSING else f"±{fmt_num(value)}",
    "plural": plural,
    "test_name": lambda value: TEST_NAMES.get(str(value), str(value)),
    "yes_no": lambda value: MISSING if value is None else "yes" if value else "no",
}


@cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the HTML template, autoescaping every value."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mlops_actions.render", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(FILTERS)
    env.globals.update(badge=_badge, fingerprint=_fingerprint)
    return env


def _compared(report: Report) -> dict[str, Any]:
    compared = dict(report.compared)
    empty = {key: None for key in ("commit", "branch", "dirty", "version", "model_digest", "train_seconds")}
    compared["baseline"] = compared["baseline"] or {**empty, "data": {}}
    return compared


def html_from_report(report: Report) -> str:
    """The HTML page of a report (a short page for a check stopped by an error)."""
    if report.error is not None:
        links = [(label, url) for label, url in report.links if label != LINK_LABELS["html_report"]]
        return environment().get_template("error.html.j2").render({"report": report, "links": links})
    changes = changes_svg(report)
    slices = slices_svg(report)
    context = {
        "report": report,
        "pass_summary": pass_summary(report),
        "resampling": resampling_text(report),
        "changes_svg": _markup(changes) if changes else None,
        "slices_svg": _markup(slices) if slices else None,
        "d": report.data_checks,
        "links": [(label, url) for label, url in report.links if label != LINK_LABELS["html_report"]],
        "c": _compared(report),
        "evaluation": evaluation_text(report),
        "cross_fitted": report.evaluation is not None and report.evaluation.mode == "cross_fit",
        "roles": role_text(report),
        "rules": [(rule, p_value_text(rule, report)) for rule in report.change_rules],
        "rule_legend": rule_legend(report),
    }
    return environment().get_template("report.html.j2").render(context)


def render_html(result: dict[str, Any]) -> str:
    """A self-contained HTML page of a result document: inline CSS and SVG charts, no scripts or fonts,
    every value from the document escaped, every section expanded."""
    return html_from_report(build_report(result))
