"""Running the project's own tests (e.g. of its feature code) and reading their JUnit counts."""

from __future__ import annotations

import shlex
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from mlops_actions.domain.config import Config
from mlops_actions.domain.secrets import env_for_config, run_user_command

OUTPUT_TAIL_CHARS = 4000


def junit_counts(path: Path) -> dict[str, int] | None:
    """passed/failed/errors/skipped from a JUnit XML file (pytest, JUnit, most runners); None when unreadable."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        for key in totals:
            totals[key] += int(float(suite.get(key, 0) or 0))
    passed = totals["tests"] - totals["failures"] - totals["errors"] - totals["skipped"]
    return {
        "passed": max(passed, 0),
        "failed": totals["failures"],
        "errors": totals["errors"],
        "skipped": totals["skipped"],
    }


def run_project_tests(config: Config) -> dict[str, Any]:
    """Run tests.command in the project folder; status, counts (via {junit}) and the output's tail."""
    if not config.tests_command:
        return {"status": "not-configured", "command": None, "required": False}
    with tempfile.TemporaryDirectory(prefix="mlops-tests-") as tmp:
        junit = Path(tmp) / "junit.xml"
        command = config.tests_command.replace("{junit}", shlex.quote(str(junit)))
        started = time.perf_counter()
        try:
            proc = run_user_command(
                command,
                cwd=config.root,
                timeout=config.tests_timeout_s,
                env=env_for_config(config, "tests", {"MLOPS_JUNIT_PATH": str(junit)}),
            )
            exit_code: int | None = proc.returncode
            output = proc.stdout + proc.stderr
        except subprocess.TimeoutExpired:
            exit_code, output = (
                None,
                f"timed out after {config.tests_timeout_s / 60:g} minutes (tests.timeout_minutes)",
            )
        seconds = round(time.perf_counter() - started, 3)
        counts = junit_counts(junit) if junit.exists() else None
    return {
        "status": "pass" if exit_code == 0 else "fail",
        "command": config.tests_command,
        "required": config.tests_required,
        "exit_code": exit_code,
        "passed": counts["passed"] if counts else None,
        "failed": counts["failed"] if counts else None,
        "errors": counts["errors"] if counts else None,
        "skipped": counts["skipped"] if counts else None,
        "seconds": seconds,
        "output_tail": output[-OUTPUT_TAIL_CHARS:],
    }
