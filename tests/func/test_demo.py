"""`make demo` runs its whole story and tells it: two releases, a gate that stops a bug, and at the end the
served v1.1.0 fed shifted traffic, whose prediction log the monitor fails, naming the shifted column and the
column out of the trained range."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_actions.demo import OUT_OF_RANGE_COLUMN, SERVED_VERSION, SHIFTED_COLUMN
from tests.conftest import REPO_ROOT

pytestmark = [
    pytest.mark.e2e,  # about a minute: the whole loop, with two servers started for real
    pytest.mark.skipif(
        importlib.util.find_spec("locust") is None or importlib.util.find_spec("uvicorn") is None,
        reason="needs the serve and loadtest extras",
    ),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """(the finished demo process, its repository)."""
    workspace = tmp_path_factory.mktemp("demo") / "demo-workspace"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_actions.demo", "--workspace", str(workspace)],
        cwd=workspace.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return proc, workspace / "credit-default"


def test_demo_succeeds_releasing_two_versions_and_stopping_the_broken_feature(demo):
    proc, _repo = demo
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "credit-default@v1.0.0" in proc.stdout
    assert f"credit-default@v{SERVED_VERSION}" in proc.stdout and "[production]" in proc.stdout
    assert "credit-default: FAIL (baseline: registry)" in proc.stderr  # the check's summary


def test_demo_ends_with_the_monitor_failing_the_shifted_traffic_served_by_the_released_version(demo):
    proc, repo = demo
    verdicts = [line for line in proc.stdout.splitlines() if line.startswith("monitor verdict")]
    assert len(verdicts) == 1, proc.stdout[-3000:]
    [verdict] = verdicts
    assert verdict.startswith(f"monitor verdict (exit 1): credit-default v{SERVED_VERSION}: ")
    assert SHIFTED_COLUMN in verdict and OUT_OF_RANGE_COLUMN in verdict
    assert "**" not in verdict and "&gt;" not in verdict and "\\" not in verdict  # plain text, not Markdown
    sent = proc.stdout.index("sent 4000 rows to http://127.0.0.1:")
    assert sent < proc.stdout.index(verdict) < proc.stdout.index("The monitor report: ")
    report = repo / "mlops-out" / "monitor"
    assert (
        (report / "monitor.md")
        .read_text()
        .splitlines()[0]
        .startswith(f"**credit-default v{SERVED_VERSION}: ")
    )
    document = json.loads((report / "monitor.json").read_text())
    assert document["model_version"] == SERVED_VERSION and document["status"] == "fail"
    logged = [
        json.loads(line)
        for log in (repo / ".mlops" / "predictions").glob("predictions-*.jsonl")
        for line in log.read_text().splitlines()
    ]
    assert len(logged) == 4000 and {row["version"] for row in logged} == {SERVED_VERSION}


def test_demo_ends_by_printing_where_the_trend_dashboard_of_both_versions_and_both_pr_checks_is(demo):
    import re

    proc, repo = demo
    dashboard = repo / "mlops-out" / "trend" / "index.html"
    assert proc.stdout.rstrip().endswith(f"The trend dashboard: {dashboard}"), proc.stdout[-2000:]
    page = dashboard.read_text(encoding="utf-8")
    primary = page[page.index('class="chart metric-chart"') :]
    primary = primary[: primary.index("</svg>")]
    assert re.findall(r'<circle class="point" data-version="([0-9.]+)"', primary) == ["1.0.0", SERVED_VERSION]
    checks = page[page.index("check-chart") :]
    checks = checks[: checks.index("</svg>")]
    assert re.findall(r'<rect class="run" data-verdict="(\w+)"', checks) == ["pass", "fail"]
    assert "deploy-chart" in page and "monitor-chart" in page
