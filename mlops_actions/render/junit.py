"""A result document as a JUnit XML report: one test case per gate rule, data check and project test run.

CI systems read JUnit XML to show tests in the merge request (GitLab's ``artifacts:reports:junit``, on
every tier). A failed rule or check is a ``<failure>`` whose message says why; a skipped rule is
``<skipped>``; warnings that do not fail the gate (drift, leakage flags) pass with the details in
``<system-out>``, so the report and the verdict always agree. Advisory warnings (a confident regression of
a metric no rule gates) are passing cases too, one per line, and a change rule's margin, p-values and power
are properties of its case, with the note of an underpowered rule (or one that cannot fail) in its output.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

# Characters XML 1.0 cannot hold, even escaped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
MAX_MESSAGE_CHARS = 2_000
MAX_OUTPUT_CHARS = 20_000


@dataclass(frozen=True)
class TestCase:
    """One test case; ``outcome`` is pass, fail or skipped."""

    suite: str
    name: str
    outcome: str
    message: str = ""
    details: str = ""
    properties: dict[str, str] = field(default_factory=dict)


def _clean(text: object, limit: int) -> str:
    value = _INVALID_XML.sub("\ufffd", str(text))
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


INFERENCE_PROPERTIES = ("margin", "bound", "p_value", "p_adjusted", "family_size", "equivalent")
POWER_PROPERTIES = ("mde", "target", "underpowered", "cannot_fail", "rows_needed")


def _power_note(power: dict[str, Any]) -> str:
    """The note of an underpowered rule or one that cannot fail; "" otherwise."""
    if power.get("underpowered") is not True and power.get("cannot_fail") is not True:
        return ""
    if isinstance(power.get("note"), str) and power["note"].strip():
        return str(power["note"])
    return "cannot fail on these eval rows" if power.get("cannot_fail") is True else "underpowered"


def _rule_properties(rule: dict[str, Any]) -> dict[str, str]:
    properties = {"decision": str(rule.get("decision")), "threshold": str(rule.get("threshold"))}
    if rule.get("observed") is not None:
        properties["observed"] = str(rule.get("observed"))
    for key in INFERENCE_PROPERTIES:
        if rule.get(key) is not None:
            properties[key] = str(rule[key]).lower() if isinstance(rule[key], bool) else str(rule[key])
    power = _dict(rule.get("power"))
    for key in POWER_PROPERTIES:
        if power.get(key) is not None:
            value = power[key]
            properties[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return properties


def rule_cases(result: Mapping[str, Any]) -> list[TestCase]:
    """One case per gate rule (overall and per slice)."""
    cases = []
    for rule in map(_dict, _list(result.get("rules"))):
        where = f" [{rule['slice']}]" if rule.get("slice") else ""
        name = f"{rule.get('metric')}{where} {rule.get('kind')}: {rule.get('description')}"
        status = str(rule.get("status"))
        outcome = {"pass": "pass", "fail": "fail", "skipped": "skipped"}.get(status, "fail")
        message = str(rule.get("reason") or "") or (f"{name} failed" if outcome == "fail" else "")
        note = _power_note(_dict(rule.get("power")))
        details = (
            "\n".join(line for line in (message if outcome == "fail" else "", note) if line) if note else ""
        )
        cases.append(TestCase("gate", name, outcome, message, details, properties=_rule_properties(rule)))
    return cases


def warning_cases(result: Mapping[str, Any]) -> list[TestCase]:
    """One passing case per advisory warning: a confident regression of a metric that no rule gates."""
    lines = [str(line) for line in _list(result.get("warnings")) if str(line).strip()]
    return [
        TestCase(
            "gate",
            f"warning: {line}",
            "pass",
            details=f"⚠ {line}\nadvisory: no rule gates this metric, so it does not fail the gate",
            properties={"warning": line},
        )
        for line in lines
    ]


def data_check_cases(result: Mapping[str, Any]) -> list[TestCase]:
    """Cases for the data checks: schema per file, data changes and drift per file, leakage."""
    checks = result.get("data_checks")
    if not isinstance(checks, dict):
        return []
    cases = []
    schema = _dict(checks.get("schema"))
    for file in map(_dict, _list(schema.get("files"))):
        violations = [_dict(v) for v in _list(file.get("violations"))]
        name = f"schema: {file.get('path')} ({file.get('role')})"
        lines = [f"{v.get('column')}: {v.get('message') or v.get('kind')}" for v in violations]
        if violations and schema.get("status") == "fail":
            message = f"{len(violations)} schema violation(s) against {schema.get('path')}: " + "; ".join(
                lines
            )
            cases.append(TestCase("data", name, "fail", message, details="\n".join(lines)))
        else:
            cases.append(TestCase("data", name, "pass", details="\n".join(lines)))
    changes = _dict(checks.get("changes"))
    for file in map(_dict, _list(changes.get("files"))):
        drift = _dict(file.get("drift"))
        drifted = [str(c) for c in _list(drift.get("drifted_columns"))] or [
            str(c.get("column")) for c in map(_dict, _list(drift.get("columns"))) if c.get("drifted") is True
        ]
        lines = [
            f"{c.get('column')}: {c.get('method')} {c.get('score')} (threshold {c.get('threshold')})"
            + (" drifted" if c.get("drifted") else "")
            for c in map(_dict, _list(drift.get("columns")))
        ]
        summary = f"warning: drift in {', '.join(drifted)}" if drifted else "no drift"
        changed = "changed" if file.get("changed") else "unchanged"
        cases.append(
            TestCase(
                "data",
                f"drift: {file.get('path')} ({file.get('role')}, {changed})",
                "pass",
                details="\n".join([summary, *lines]),
            )
        )
    leakage = _dict(checks.get("leakage"))
    if leakage:
        flagged = [_dict(f) for f in _list(leakage.get("flagged"))]
        lines = [f"{f.get('column')}: {f.get('method')} {f.get('association')}" for f in flagged]
        summary = f"warning: {len(flagged)} column(s) flagged" if flagged else "no column flagged"
        cases.append(
            TestCase(
                "data",
                f"leakage: association with the target below {leakage.get('threshold')}",
                "fail" if leakage.get("status") == "fail" else "pass",
                message=summary if leakage.get("status") == "fail" else "",
                details="\n".join([summary, *lines]),
            )
        )
    return cases


def project_test_cases(result: Mapping[str, Any]) -> list[TestCase]:
    """One case for the project's own test command, when configured."""
    tests = _dict(result.get("tests"))
    status = tests.get("status")
    if not tests.get("command") or status in (None, "not-configured"):
        return []
    counts = ", ".join(
        f"{tests[k]} {k}" for k in ("passed", "failed", "errors", "skipped") if tests.get(k) is not None
    )
    failed = status == "fail" and tests.get("required", True)
    message = f"{tests['command']} exited with {tests.get('exit_code')}" + (f" ({counts})" if counts else "")
    outcome = "fail" if failed else "pass"
    return [
        TestCase(
            "tests",
            f"project tests: {tests['command']}",
            outcome,
            message if failed else "",
            details=str(tests.get("output_tail") or ""),
        )
    ]


def error_cases(result: Mapping[str, Any]) -> list[TestCase]:
    """A check stopped by an error: one failed case named after the step that failed."""
    if result.get("verdict") != "error":
        return []
    error = _dict(result.get("error"))
    stage = str(error.get("stage") or "check")
    message = str(error.get("message") or "the check stopped with an error")
    details = f"{message}\nreproduce in the project folder: {error.get('reproduce') or 'mlops-actions check'}"
    return [TestCase("check", f"error: {stage}", "fail", message, details)]


def result_cases(result: Mapping[str, Any]) -> list[TestCase]:
    """Every test case of a result document."""
    return [
        *error_cases(result),
        *rule_cases(result),
        *warning_cases(result),
        *data_check_cases(result),
        *project_test_cases(result),
    ]


def junit_xml(result: Mapping[str, Any]) -> str:
    """The JUnit XML report of a result document (suites gate, data and tests)."""
    model = str(_dict(result.get("model")).get("name", "model"))
    cases = result_cases(result)
    root = ET.Element("testsuites", name=f"mlops-actions {model}")
    totals: dict[str, int] = {"tests": 0, "failures": 0, "skipped": 0}
    for suite_name in ("check", "gate", "data", "tests"):
        members = [case for case in cases if case.suite == suite_name]
        if not members:
            continue
        failures = sum(case.outcome == "fail" for case in members)
        skipped = sum(case.outcome == "skipped" for case in members)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"{model} {suite_name}",
            tests=str(len(members)),
            failures=str(failures),
            errors="0",
            skipped=str(skipped),
        )
        for case in members:
            element = ET.SubElement(
                suite, "testcase", classname=f"mlops.{model}.{suite_name}", name=_clean(case.name, 500)
            )
            if case.properties:
                properties = ET.SubElement(element, "properties")
                for key, value in case.properties.items():
                    ET.SubElement(properties, "property", name=key, value=_clean(value, 200))
            if case.outcome == "fail":
                failure = ET.SubElement(
                    element, "failure", message=_clean(case.message, MAX_MESSAGE_CHARS), type=suite_name
                )
                failure.text = _clean(case.details or case.message, MAX_OUTPUT_CHARS)
            elif case.outcome == "skipped":
                ET.SubElement(element, "skipped", message=_clean(case.message, MAX_MESSAGE_CHARS))
            if case.details and case.outcome != "fail":
                ET.SubElement(element, "system-out").text = _clean(case.details, MAX_OUTPUT_CHARS)
        totals["tests"] += len(members)
        totals["failures"] += failures
        totals["skipped"] += skipped
    for key, total in totals.items():
        root.set(key, str(total))
    root.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
