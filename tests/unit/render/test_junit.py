"""JUnit XML and dotenv reports of result documents (GitLab merge request widgets)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from mlops_actions.commands import widgets
from mlops_actions.platforms.gitlab.job import (
    DOTENV_FILE,
    JUNIT_FILE,
    MAX_DOTENV_VARIABLES,
    dotenv_text,
    dotenv_variables,
    report_links,
)
from mlops_actions.render.junit import junit_xml, result_cases

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "results"


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def cases_of(xml: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml)
    return {case.get("name"): case for case in root.iter("testcase")}


def test_every_rule_is_a_test_case_and_failed_rules_are_failures_with_the_reason():
    result = load("fail_change_and_slice")
    cases = cases_of(junit_xml(result))
    failed = {name: case for name, case in cases.items() if case.find("failure") is not None}
    assert set(failed) == {
        "roc_auc change: Δ ≥ -0.0100 (interval)",
        "roc_auc [region=north] change: Δ ≥ -0.0200 (interval)",
        "project tests: pytest -q tests",
    }
    message = failed["roc_auc [region=north] change: Δ ≥ -0.0200 (interval)"].find("failure").get("message")
    assert message.startswith("slice region=north: ROC AUC Δ = -0.0611")
    assert len([c for c in cases if not c.startswith(("schema", "drift", "leakage", "project"))]) == len(
        result["rules"]
    )


def test_a_passing_result_has_no_failures_and_the_counts_add_up():
    root = ET.fromstring(junit_xml(load("pass_with_baseline")))
    assert root.get("failures") == "0"
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in root.iter("testsuite"))
    assert all(case.find("failure") is None for case in root.iter("testcase"))


def test_schema_violations_fail_and_drift_is_reported_without_failing():
    cases = cases_of(junit_xml(load("data_checks_violations")))
    schema = cases["schema: data/train.csv (train)"].find("failure")
    assert schema is not None and "age: 37 values below the minimum 0" in schema.get("message")
    assert cases["schema: data/eval.csv (eval)"].find("failure") is None
    drift = cases["drift: data/train.csv (train, changed)"]
    assert drift.find("failure") is None
    assert "warning: drift in income, tenure" in drift.find("system-out").text
    leakage = next(case for name, case in cases.items() if name.startswith("leakage"))
    assert "churn_date" in leakage.find("system-out").text


def test_the_verdict_and_the_report_agree_on_every_fixture():
    for path in sorted(FIXTURES.glob("*.json")):
        result = json.loads(path.read_text(encoding="utf-8"))
        failed = [case for case in result_cases(result) if case.outcome == "fail"]
        assert bool(failed) == (result["verdict"] in ("fail", "error")) or not result["reasons"], path.name


def test_hostile_strings_stay_well_formed_xml():
    xml = junit_xml(load("hostile_strings"))
    ET.fromstring(xml)  # parses
    assert "\x1b" not in xml


def test_dotenv_has_the_verdict_and_primary_metric_first_within_gitlabs_limit():
    variables = dotenv_variables(
        load("fail_change_and_slice"), {"html_report": "https://gl.example/j/1/artifacts/file/r.html"}
    )
    assert variables["MLOPS_VERDICT"] == "fail"
    assert list(variables)[:5] == [
        "MLOPS_VERDICT",
        "MLOPS_MODEL",
        "MLOPS_PRIMARY_METRIC",
        "MLOPS_BASELINE_SOURCE",
        "MLOPS_FAILED_RULES",
    ]
    assert len(variables) <= MAX_DOTENV_VARIABLES
    text = dotenv_text(variables)
    assert all("=" in line and "\n" not in line and '"' not in line for line in text.splitlines())
    assert len(text.encode()) < 5 * 1024


def test_dotenv_values_cannot_break_lines_or_quote():
    result = load("hostile_strings")
    for value in dotenv_variables(result).values():
        assert not set(value) & set("\n\r\"'`$\\")


def test_report_links_point_at_the_html_artifact_of_the_job(tmp_path, monkeypatch):
    (tmp_path / "mlops-out").mkdir()
    env = {"CI_JOB_URL": "https://gitlab.example.com/acme/credit/-/jobs/91", "CI_PROJECT_DIR": str(tmp_path)}
    links = report_links({"html": str(tmp_path / "mlops-out" / "report.html")}, env)
    assert links == {
        "run_url": "https://gitlab.example.com/acme/credit/-/jobs/91",
        "html_report": "https://gitlab.example.com/acme/credit/-/jobs/91/artifacts/file/mlops-out/report.html",
    }
    assert report_links({"html": "/elsewhere/report.html"}, env) == {"run_url": env["CI_JOB_URL"]}
    monkeypatch.chdir(tmp_path / "mlops-out")
    moved = {**env, "CI_PROJECT_DIR": "/builds/acme/credit"}  # another view of the same folder
    assert report_links({"html": str(tmp_path / "mlops-out" / "report.html")}, moved)["html_report"].endswith(
        "/jobs/91/artifacts/file/report.html"
    )
    assert report_links({}, {"CI_JOB_URL": "javascript:alert(1)"}) == {}


def test_widgets_command_writes_the_reports_next_to_the_result(tmp_path, capsys):
    (tmp_path / "mlops-result.json").write_text((FIXTURES / "fail_change_and_slice.json").read_text())
    code = widgets.run(argparse.Namespace(result=str(tmp_path / "mlops-result.json"), output_dir=None))
    assert code == 0
    assert ET.parse(tmp_path / JUNIT_FILE).getroot().get("failures") != "0"
    assert "MLOPS_VERDICT=fail" in (tmp_path / DOTENV_FILE).read_text()
    assert "wrote" in capsys.readouterr().out


def test_widgets_command_rejects_a_missing_result(tmp_path):
    from mlops_actions.errors import MlopsError

    with pytest.raises(MlopsError, match="result file not found"):
        widgets.run(argparse.Namespace(result=str(tmp_path / "nope.json"), output_dir=None))


def test_an_error_result_is_one_failed_case_named_after_the_step_that_failed():
    xml = junit_xml(load("error"))
    root = ET.fromstring(xml)
    assert (root.get("tests"), root.get("failures")) == ("1", "1")
    [case] = root.iter("testcase")
    assert case.get("name") == "error: training candidate"
    failure = case.find("failure")
    assert failure is not None and "Input X contains NaN" in failure.get("message")
    assert "mlops-actions check --config mlops.yaml" in failure.text
