"""The deploy report (``deploy-report.md``, the job summary): what happened in one line first, then the steps
with their durations, the smoke table, the load figures against their thresholds and the rollback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops_actions.render.format import escape_md, safe_url

SHOWN_SMOKE_ROWS = 25


def _seconds(value: Any) -> str:
    return f"{float(value):.1f} s" if isinstance(value, (int, float)) else "—"


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(escape_md(value, 60))


def _smoke_section(smoke: Mapping[str, Any], title: str) -> list[str]:
    source = (
        "the answers recorded at release time (`smoke.json`)"
        if smoke.get("source") == "smoke.json"
        else "answers computed here from the fetched, verified model on the config's eval rows "
        "(this version was released without `smoke.json`)"
    )
    lines = [
        f"### {title}",
        "",
        f"{smoke.get('passed_requests')}/{smoke.get('requests')} requests answered as expected "
        f"({smoke.get('rows')} rows, each alone and all in one request, to `POST /predict`), compared with "
        f"{source}; tolerance {float(smoke.get('tolerance', 0)):g} on probabilities and values.",
        "",
        "| row | recorded | alone | in the batch | max diff | |",
        "|---|---|---|---|---|---|",
    ]
    checks = list(smoke.get("checks") or [])
    for check in checks[:SHOWN_SMOKE_ROWS]:
        mark = "✅" if check.get("ok") else "❌ " + str(escape_md(check.get("problem"), 160))
        diff = check.get("max_diff")
        lines.append(
            f"| {escape_md(check.get('row'), 60)} | {_value(check.get('expected'))} | {_value(check.get('single'))} "
            f"| {_value(check.get('batch'))} | {f'{diff:.2g}' if isinstance(diff, (int, float)) else '—'} | {mark} |"
        )
    if len(checks) > SHOWN_SMOKE_ROWS:
        lines.append(f"| … {len(checks) - SHOWN_SMOKE_ROWS} more rows in deploy-result.json | | | | | |")
    lines.append("")
    return lines


def _url(value: Any) -> str:
    plain = safe_url(value)
    return f"`{plain}`" if plain is not None and len(plain) <= 200 else str(escape_md(value, 200))


def _attempt_sections(attempt: Mapping[str, Any], *, what: str) -> list[str]:
    from mlops_actions.domain.loadtest import LoadTestResult
    from mlops_actions.render.loadtest import loadtest_markdown

    lines: list[str] = []
    smoke = attempt.get("smoke")
    if isinstance(smoke, Mapping):
        lines += _smoke_section(smoke, f"Smoke test of {escape_md(attempt.get('tag'))}{what}")
    load = attempt.get("load")
    if isinstance(load, Mapping):
        shown = loadtest_markdown(LoadTestResult.from_dict(load), str(attempt.get("url") or ""))
        lines += [f"### Load test of {escape_md(attempt.get('tag'))}", "", shown.strip(), ""]
    return lines


def deploy_markdown(result: Mapping[str, Any]) -> str:
    """The report of a deploy result (``deploy-result.json``)."""
    outcome = result.get("outcome")
    mark = {"deployed": "✅", "rolled_back": "↩️", "failed": "❌"}.get(str(outcome), "")
    lines = [f"## {mark} {escape_md(result.get('headline'), 1000)}".replace("##  ", "## "), ""]
    if outcome == "failed":
        lines += [
            "> [!CAUTION]",
            f"> The deploy failed and nothing was rolled back to: {escape_md(result.get('reason'), 800)}",
            "",
        ]
    if result.get("untested"):
        lines += [f"> [!WARNING]\n> {escape_md(result.get('untested'), 400)}", ""]
    target = (
        "the built-in server on this runner" if result.get("target") == "built-in" else "`deploy.command`"
    )
    attempt = result.get("attempt") or {}
    lines += [
        f"- version `{escape_md(result.get('version'))}`, digest `{escape_md(result.get('digest'))}`",
        f"- target: {target}" + (f", {_url(attempt.get('url'))}" if attempt.get("url") else ""),
    ]
    production = result.get("production") or {}
    if production:
        lines.append(
            f"- `production`: {escape_md(production.get('before'))} → {escape_md(production.get('after'))}"
            + (f" ({escape_md(production.get('note'), 300)})" if production.get("note") else "")
        )
    record = result.get("record")
    if record:
        lines.append(f"- deploy record `{escape_md(record.get('outcome'))}` written to the registry")
    if result.get("record_error"):
        lines.append(f"- ⚠️ the deploy record was not written: {escape_md(result.get('record_error'), 400)}")
    for note in result.get("notes") or []:
        lines.append(f"- {escape_md(note, 400)}")
    if result.get("run_url"):
        lines.append(f"- run: {escape_md(result.get('run_url'))}")
    lines += ["", "### Steps", "", "| step | time | |", "|---|---|---|"]
    for step in result.get("steps") or []:
        mark = "✅" if step.get("ok") else "❌"
        detail = f" {escape_md(step.get('detail'), 300)}" if step.get("detail") else ""
        lines.append(f"| {escape_md(step.get('name'))} | {_seconds(step.get('seconds'))} | {mark}{detail} |")
    lines += [f"| total | {_seconds(result.get('duration_s'))} | |", ""]
    lines += _attempt_sections(attempt, what="")
    rollback = result.get("rollback")
    if isinstance(rollback, Mapping):
        lines += [
            f"### Rollback to {escape_md(rollback.get('tag'))}",
            "",
            f"- chosen because {escape_md(rollback.get('chosen'), 300)}",
            (
                "- started again and passed its smoke test"
                if rollback.get("passed")
                else f"- ❌ the rollback failed too: {escape_md(rollback.get('failure'), 500)}"
            ),
            "",
        ]
        lines += _attempt_sections(rollback, what=" (rollback)")
    return "\n".join(lines).rstrip() + "\n"
