"""GitHub Actions job outputs: the job summary, error annotations and step outputs.

Used by :class:`mlops_actions.platforms.github.platform.GitHubPlatform`. Values that come from users' data
(rule descriptions, reasons, model names) are escaped per GitHub's workflow-command rules, so they can
neither break out of an annotation nor start a workflow command of their own.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Mapping
from typing import Any, TextIO

# GitHub caps one step's summary at 1 MiB.
MAX_SUMMARY_BYTES = 1_000_000
SUMMARY_TRUNCATED = (
    "\n\n_… summary truncated to fit GitHub's 1 MiB limit; the full report is in the artifact._\n"
)
MAX_ANNOTATIONS = 10  # GitHub shows at most 10 error annotations per step

# Keys of ``paths`` and the step output each one becomes.
PATH_OUTPUTS = {
    "result": "result-path",
    "markdown": "report-path",
    "report": "report-path",
    "html": "html-report-path",
}


def escape_data(value: str) -> str:
    """The message part of a workflow command: %, CR and LF percent-encoded."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """A property value of a workflow command (e.g. title=): also ':' and ',' percent-encoded."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def error_annotation(message: str, *, title: str) -> str:
    """One ``::error title=...::message`` line."""
    return f"::error title={escape_property(title)}::{escape_data(message)}"


ERROR_TITLE = "mlops-actions check"


def failure_annotations(result: Mapping[str, Any]) -> list[str]:
    """One error annotation per reason of a failed verdict (the failed rules and checks); for a check
    stopped by an error, one annotation with its line."""
    if result.get("verdict") == "error":
        error = result.get("error")
        message = error.get("message") if isinstance(error, Mapping) else None
        return [error_annotation(str(message or "the check stopped with an error"), title=ERROR_TITLE)]
    if result.get("verdict") != "fail":
        return []
    model = str((result.get("model") or {}).get("name", "model"))
    title = f"mlops-actions: {model} gate failed"
    reasons = [str(r) for r in result.get("reasons") or [] if str(r).strip()]
    if not reasons:
        failed = [r for r in result.get("rules") or [] if r.get("status") == "fail"]
        reasons = [
            f"{r.get('metric')}: {r.get('description')} {r.get('reason') or ''}".strip() for r in failed
        ]
    if not reasons:
        reasons = ["the gate failed"]
    lines = [error_annotation(reason, title=title) for reason in reasons[:MAX_ANNOTATIONS]]
    if len(reasons) > MAX_ANNOTATIONS:
        lines.append(
            error_annotation(f"{len(reasons) - MAX_ANNOTATIONS} more reasons in the job summary", title=title)
        )
    return lines


def output_lines(name: str, value: str) -> str:
    """A GITHUB_OUTPUT entry in the delimiter form, safe for any value."""
    delimiter = f"ghadelimiter_{uuid.uuid4()}"
    while delimiter in value:
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def append_outputs(outputs: Mapping[str, str], env: Mapping[str, str] = os.environ) -> None:
    """Write step outputs to GITHUB_OUTPUT (nothing when it is not set)."""
    target = env.get("GITHUB_OUTPUT", "")
    if target:
        _append(target, "".join(output_lines(name, value) for name, value in outputs.items()))


def _append(path: str, text: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)


def _summary_text(markdown: str) -> str:
    text = markdown if markdown.endswith("\n") else markdown + "\n"
    data = text.encode("utf-8")
    if len(data) <= MAX_SUMMARY_BYTES:
        return text
    budget = MAX_SUMMARY_BYTES - len(SUMMARY_TRUNCATED.encode("utf-8"))
    cut = data[:budget].decode("utf-8", errors="ignore")
    return cut[: cut.rfind("\n") + 1] + SUMMARY_TRUNCATED


def publish_job_outputs(
    result: Mapping[str, Any],
    markdown: str,
    paths: Mapping[str, str],
    env: Mapping[str, str] = os.environ,
    *,
    stream: TextIO | None = None,
) -> dict[str, str]:
    """Publish a stage's outcome to the GitHub Actions job.

    Appends ``markdown`` to GITHUB_STEP_SUMMARY, prints one ``::error`` annotation per failed rule or
    check to ``stream`` (stdout), and writes the step outputs ``verdict``, ``model`` and, from ``paths``
    (keys ``result``, ``markdown`` or ``report``, ``html``), ``result-path``, ``report-path`` and
    ``html-report-path`` to GITHUB_OUTPUT. Returns the outputs written. Missing variables are skipped.
    """
    stream = sys.stdout if stream is None else stream
    summary = env.get("GITHUB_STEP_SUMMARY", "")
    if summary:
        _append(summary, _summary_text(markdown))
    for line in failure_annotations(result):
        print(line, file=stream)
    stream.flush()
    outputs: dict[str, str] = {
        "verdict": str(result.get("verdict", "")),
        "model": str((result.get("model") or {}).get("name", "")),
    }
    for key, name in PATH_OUTPUTS.items():
        if paths.get(key) and name not in outputs:
            outputs[name] = str(paths[key])
    append_outputs(outputs, env)
    return outputs
