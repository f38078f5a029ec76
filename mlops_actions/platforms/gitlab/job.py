"""GitLab CI job reports: the JUnit report, the dotenv report and the link to the HTML report artifact.

Used by :class:`mlops_actions.platforms.gitlab.platform.GitLabPlatform` (and by ``mlops-actions widgets``).
The job template declares ``artifacts:reports:junit`` and ``artifacts:reports:dotenv`` on the files written
here, and ``artifacts:expose_as`` on the HTML report, so the merge request shows every gate rule and data
check as a test, the verdict and key metrics as variables, and a link to the full report.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mlops_actions.domain.model_io import write_text_atomic
from mlops_actions.render.junit import junit_xml

JUNIT_FILE = "mlops-junit.xml"
DOTENV_FILE = "mlops.env"
# GitLab.com accepts at most 20 variables in a dotenv report (self-managed: 150 by default) and 5 KB.
MAX_DOTENV_VARIABLES = 20
MAX_DOTENV_VALUE_CHARS = 200
_UNSAFE_VALUE = re.compile(r"[^A-Za-z0-9 _.,:;/@+=%()\[\]-]")


def _variable_name(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_")


def _number(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return f"{value:.6g}"


def _value(text: Any) -> str:
    """A one-line dotenv value with no quotes, backslashes or other characters a parser could misread."""
    value = _UNSAFE_VALUE.sub("_", str(text))
    return value[:MAX_DOTENV_VALUE_CHARS]


def dotenv_variables(result: Mapping[str, Any], links: Mapping[str, str] | None = None) -> dict[str, str]:
    """The verdict and key metrics of a result as dotenv variables (at most 20, primary metric first)."""
    model: dict[str, Any] = result["model"] if isinstance(result.get("model"), dict) else {}
    baseline: dict[str, Any] = result["baseline"] if isinstance(result.get("baseline"), dict) else {}
    variables = {
        "MLOPS_VERDICT": _value(result.get("verdict", "")),
        "MLOPS_MODEL": _value(model.get("name", "")),
        "MLOPS_PRIMARY_METRIC": _value(model.get("primary_metric", "")),
        "MLOPS_BASELINE_SOURCE": _value(baseline.get("source", "")),
        "MLOPS_FAILED_RULES": str(sum(1 for r in result.get("rules") or [] if r.get("status") == "fail")),
    }
    if links and links.get("html_report"):
        variables["MLOPS_REPORT_URL"] = _value(links["html_report"])
    rows = [r for r in result.get("metrics") or [] if isinstance(r, dict)]
    primary = model.get("primary_metric")
    rows.sort(key=lambda r: r.get("name") != primary)
    for row in rows:
        name = _variable_name(str(row.get("name", "")))
        if not name:
            continue
        for suffix, key in (("", "candidate"), ("_BASELINE", "baseline"), ("_DELTA", "delta")):
            value = _number(row.get(key))
            if value is not None and len(variables) < MAX_DOTENV_VARIABLES:
                variables[f"MLOPS_METRIC_{name}{suffix}"] = value
    return variables


def dotenv_text(variables: Mapping[str, str]) -> str:
    """``NAME=value`` lines."""
    return "".join(f"{name}={value}\n" for name, value in variables.items())


def report_links(paths: Mapping[str, str], env: Mapping[str, str]) -> dict[str, str]:
    """The job's URL and the URL of the HTML report among the job's artifacts, when GitLab CI tells them."""
    job_url = env.get("CI_JOB_URL", "")
    if not job_url.startswith(("https://", "http://")):
        return {}
    links = {"run_url": job_url}
    html = paths.get("html")
    if not html:
        return links
    # Artifact paths are relative to the project folder, where the job's script runs.
    for base in (env.get("CI_PROJECT_DIR"), str(Path.cwd())):
        if not base:
            continue
        try:
            relative = Path(html).resolve().relative_to(Path(base).resolve())
        except ValueError:
            continue
        links["html_report"] = f"{job_url.rstrip('/')}/artifacts/file/{quote(relative.as_posix())}"
        break
    return links


def write_job_reports(
    result: Mapping[str, Any], folder: str | Path, links: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Write the JUnit and dotenv reports into ``folder``; return their paths by kind."""
    folder = Path(folder)
    junit_path, dotenv_path = folder / JUNIT_FILE, folder / DOTENV_FILE
    write_text_atomic(junit_path, junit_xml(result))
    write_text_atomic(dotenv_path, dotenv_text(dotenv_variables(result, links)))
    return {"junit": str(junit_path), "dotenv": str(dotenv_path)}


def publish_job_reports(
    result: dict[str, Any],
    markdown: str,
    paths: Mapping[str, str],
    env: Mapping[str, str] | None = None,
) -> str:
    """Write the JUnit and dotenv reports next to the result file; return the note body, for a result that
    was rendered without the job's links (``markdown`` rendered again with them, when the job's URL is known).

    The check stage does not need this: it renders once with :meth:`GitLabPlatform.links` and writes the
    reports through :meth:`GitLabPlatform.publish_job_summary`.
    """
    from mlops_actions.render import render_markdown

    env = os.environ if env is None else env
    links = report_links(paths, env)
    write_job_reports(result, Path(paths["result"]).parent, links)
    return render_markdown(result, links=links) if links else markdown
