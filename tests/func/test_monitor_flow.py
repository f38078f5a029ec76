"""Serve -> prediction log -> monitor, end to end on example_project: a version released into a temporary
local registry is served for real on 127.0.0.1, once with the evaluation rows as they are and once with the
demo's shifted traffic (loan amounts 75% larger, 4% of ages beyond the trained range), each run logging to
its own folder; `mlops-actions monitor` then passes the first log and fails the second, naming exactly the
shifted column and the out-of-range column."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from mlops_actions.cli import main
from mlops_actions.demo import OUT_OF_RANGE_COLUMN, SHIFTED_COLUMN, send, serving, traffic
from tests.conftest import EXAMPLE_PROJECT, REPO_ROOT, init_repo

pytestmark = pytest.mark.skipif(importlib.util.find_spec("uvicorn") is None, reason="needs the serve extra")

MODEL = "credit-default"
FEATURES = (
    "age",
    "income",
    "loan_amount",
    "debt",
    "credit_history_years",
    "utilisation",
    "num_late_payments",
    "region",
    "home_ownership",
    "employment_type",
    "purpose",
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, int]]:
    """(project, version tag, rows answered per traffic): example_project released once, then served twice,
    healthy traffic logged to ``logs/healthy``, shifted traffic to ``logs/shifted``."""
    project = tmp_path_factory.mktemp("monitor-flow") / "credit"
    shutil.copytree(
        EXAMPLE_PROJECT, project, ignore=shutil.ignore_patterns(".mlops", "mlops-out", "__pycache__")
    )
    path = project / "mlops.yaml"
    config = yaml.safe_load(path.read_text())
    config.pop("tests")  # the project's own tests are not what this file is about
    # A run crossing midnight UTC makes two windows: the smaller is then not judged rather than judged by
    # tests at the 5% level (docs/monitoring.md, "False alarms"); one of at least 2,000 rows always is.
    config["monitor"] = {"min_window_rows": 1001}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    init_repo(project)
    assert main(["release", "-c", str(path), "-o", str(project / "mlops-out"), "-q"]) == 0
    tag = f"{MODEL}@v1.0.0"
    answered = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(REPO_ROOT))  # the server runs this checkout's code
        for kind in ("healthy", "shifted"):
            rows = traffic(project / "data" / "eval.csv", "defaulted", shifted=kind == "shifted")
            args = ["-c", str(path), "--version-tag", tag, "--log-dir", str(project / "logs" / kind)]
            with serving(args, project, project / f"server-{kind}.txt") as url:
                answered[kind] = send(url, rows)
    return project, tag, answered


def monitor(project: Path, tag: str, kind: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, dict]:
    """(exit code, verdict line, monitor.json) of `mlops-actions monitor` on one traffic's log."""
    out = project / "monitor" / kind
    capsys.readouterr()
    logs = project / "logs" / kind
    config = project / "mlops.yaml"
    code = main(["monitor", "-c", str(config), "--logs", str(logs), "--version-tag", tag, "--out", str(out)])
    verdict = capsys.readouterr().out.splitlines()[0]
    return code, verdict, json.loads((out / "monitor.json").read_text())


def named_features(text: str) -> set[str]:
    return {column for column in FEATURES if re.search(rf"(?<![A-Za-z0-9_]){column}(?![A-Za-z0-9_])", text)}


def failing_problems(document: dict) -> dict[str, list[str]]:
    """check -> problems of its failing findings, over every window."""
    failing: dict[str, list[str]] = {}
    for window in document["windows"]:
        for finding in window["findings"]:
            if finding["status"] == "fail":
                failing.setdefault(finding["check"], []).extend(finding["problems"])
    return failing


def test_every_row_sent_is_answered_and_logged_with_the_served_version(served):
    project, _tag, answered = served
    assert answered == {"healthy": 4000, "shifted": 4000}
    for kind in ("healthy", "shifted"):
        lines = [
            json.loads(line)
            for log in sorted((project / "logs" / kind).glob("predictions-*.jsonl"))
            for line in log.read_text().splitlines()
        ]
        assert len(lines) == 4000
        assert {(line["model"], line["version"]) for line in lines} == {(MODEL, "1.0.0")}
    shifted_ages = [
        json.loads(line)["inputs"][OUT_OF_RANGE_COLUMN]
        for log in (project / "logs" / "shifted").glob("predictions-*.jsonl")
        for line in log.read_text().splitlines()
    ]
    assert sum(age > 75 for age in shifted_ages) == 160  # one row in 25, beyond the trained maximum


def test_healthy_traffic_passes_the_monitor(served, capsys):
    project, tag, _answered = served
    code, verdict, document = monitor(project, tag, "healthy", capsys)
    assert code == 0, verdict
    assert failing_problems(document) == {}
    assert sum(window["rows"] for window in document["windows"]) == 4000
    assert f"{MODEL} v1.0.0: no check fails" in verdict


def test_shifted_traffic_fails_the_monitor_naming_the_shifted_and_the_out_of_range_column(served, capsys):
    project, tag, _answered = served
    code, verdict, document = monitor(project, tag, "shifted", capsys)
    assert code == 1, verdict
    failing = failing_problems(document)
    assert named_features(" ".join(failing["range"])) == {OUT_OF_RANGE_COLUMN}
    assert named_features(" ".join(failing["input_drift"])) == {SHIFTED_COLUMN}
    assert "stability" not in failing and "schema" not in failing
    every_problem = " ".join(problem for problems in failing.values() for problem in problems)
    assert named_features(every_problem) == {SHIFTED_COLUMN, OUT_OF_RANGE_COLUMN}  # and no other feature
    assert verdict.startswith(f"**{MODEL} v1.0.0: ") and " windows fail: " in verdict
    assert named_features(verdict) == {SHIFTED_COLUMN, OUT_OF_RANGE_COLUMN}
