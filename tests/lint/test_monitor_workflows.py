"""The scheduled monitoring workflows and templates keep their promises: least privilege, no token where user
commands run, the report kept when the monitor fails, and every input documented."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mlops_actions import __version__
from tests.lint.test_github_templates import (
    KEBAB,
    OWN_ACTION,
    PINNED,
    THIS_REPOSITORY,
    USES,
    jobs,
    load,
    run_blocks,
)
from tests.lint.test_gitlab_templates import defaults, documents, interpolate

ROOT = Path(__file__).resolve().parents[2]
MONITOR_WORKFLOW = ROOT / ".github" / "workflows" / "mlops-monitor.yml"
MONITOR_CALLER = ROOT / "ci_templates" / "github" / "mlops-monitor.yml"
RETRAIN_STARTER = ROOT / "ci_templates" / "github" / "mlops-retrain.yml"
GITLAB = ROOT / "templates"
MONITORING_DOC = ROOT / "docs" / "monitoring.md"
TOKENS = re.compile(r"token|secrets\.", re.IGNORECASE)


def steps(path: Path, job: str) -> list[dict[str, Any]]:
    return jobs(path)[job]["steps"]  # type: ignore[no-any-return]


def step_named(path: Path, job: str, prefix: str) -> dict[str, Any]:
    [step] = [s for s in steps(path, job) if s.get("name", "").startswith(prefix)]
    return step


def test_the_monitor_job_asks_for_contents_for_its_history_issue_writes_and_the_dispatch_only():
    document = load(MONITOR_WORKFLOW)
    assert document["permissions"] == {}
    [job] = document["jobs"].values()
    assert job["permissions"] == {"contents": "write", "issues": "write", "actions": "write"}
    assert job["concurrency"]["cancel-in-progress"] is False and "group" in job["concurrency"]


@pytest.mark.parametrize("path", [MONITOR_WORKFLOW, RETRAIN_STARTER], ids=lambda p: p.name)
def test_third_party_actions_are_pinned_and_no_expression_reaches_a_shell_script(path):
    for line in path.read_text().splitlines():
        found = USES.match(line)
        if found and not OWN_ACTION.match(found.group(1)):
            assert PINNED.match(line), line
    for script in run_blocks(load(path)):
        assert "${{" not in script, script
    for step in [s for job in load(path)["jobs"].values() for s in job["steps"]]:
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def test_the_monitor_installs_with_the_shared_step_pinned_to_this_release():
    inputs = load(MONITOR_WORKFLOW)["on"]["workflow_call"]["inputs"]
    assert inputs["install"]["default"] == f"mlops-actions=={__version__}"
    assert any(
        s.get("uses") == f"{THIS_REPOSITORY}/.github/actions/install@v0"
        for s in steps(MONITOR_WORKFLOW, "monitor")
    )
    assert not any("pip install" in s.get("run", "") for s in steps(MONITOR_WORKFLOW, "monitor"))


def test_the_logs_command_runs_without_any_forge_token_and_the_monitor_with_the_jobs_own():
    fetch = step_named(MONITOR_WORKFLOW, "monitor", "Fetch the prediction logs")
    assert fetch["env"]["MLOPS_LOGS_COMMAND"] == "${{ inputs.logs-command }}"
    assert not [name for name, value in fetch["env"].items() if "TOKEN" in name or "github.token" in value]
    monitor = step_named(MONITOR_WORKFLOW, "monitor", "Monitor the logs")
    assert monitor["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    assert monitor["env"]["MLOPS_MONITOR_ALERT"] == "${{ inputs.alert }}"
    assert monitor["env"]["MLOPS_MONITOR_RETRAIN"] == "${{ inputs.dispatch-retrain }}"
    assert monitor["run"].startswith("mlops-actions monitor")


def test_the_report_is_summarised_and_uploaded_even_when_a_check_fails():
    summary = step_named(MONITOR_WORKFLOW, "monitor", "Put the report in the job summary")
    upload = step_named(MONITOR_WORKFLOW, "monitor", "Upload the monitor report")
    assert summary["if"] == upload["if"] == "${{ !cancelled() }}"
    assert "GITHUB_STEP_SUMMARY" in summary["run"]
    assert [Path(p).name for p in upload["with"]["path"].splitlines()] == [
        "monitor.json",
        "monitor.md",
        "monitor.html",
    ]


def test_the_monitor_inputs_are_kebab_case_typed_described_and_defaulted():
    inputs = load(MONITOR_WORKFLOW)["on"]["workflow_call"]["inputs"]
    assert {"config", "logs", "logs-command", "window", "since", "ref", "alert", "dispatch-retrain"} <= set(
        inputs
    )
    assert inputs["alert"]["default"] is True and inputs["dispatch-retrain"]["default"] is False
    for name, spec in inputs.items():
        assert KEBAB.match(name) and spec["description"] and spec["type"] and "default" in spec, name


def test_the_caller_runs_on_a_schedule_and_by_hand_and_grants_what_the_job_asks_for():
    caller = load(MONITOR_CALLER)
    assert set(caller["on"]) == {"schedule", "workflow_dispatch"}
    assert caller["permissions"] == {}
    [job] = caller["jobs"].values()
    assert job["uses"] == f"{THIS_REPOSITORY}/.github/workflows/mlops-monitor.yml@v0"
    [reusable] = jobs(MONITOR_WORKFLOW).values()
    assert job["permissions"] == reusable["permissions"]
    declared = load(MONITOR_WORKFLOW)["on"]["workflow_call"]["inputs"]
    assert set(job["with"]) <= set(declared)


def test_the_retrain_starter_takes_the_reason_and_only_its_pull_request_step_holds_a_token():
    starter = load(RETRAIN_STARTER)
    assert set(starter["on"]) == {"workflow_dispatch"}
    assert "reason" in starter["on"]["workflow_dispatch"]["inputs"]
    assert starter["permissions"] == {}
    [job] = starter["jobs"].values()
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    refresh = step_named(RETRAIN_STARTER, "retrain", "Refresh the training data")
    assert not any(TOKENS.search(f"{name}={value}") for name, value in refresh["env"].items())
    opened = step_named(RETRAIN_STARTER, "retrain", "Open a pull request")
    assert "gh pr create" in opened["run"] and "REASON" in opened["env"]


@pytest.mark.parametrize("path", [MONITOR_CALLER, RETRAIN_STARTER], ids=lambda p: p.name)
def test_the_starters_start_with_a_header_linking_the_monitoring_docs(path):
    head = path.read_text().split("\nname:")[0]
    assert head.startswith("#") and "docs/monitoring.md" in head


def documented_inputs(heading: str) -> dict[str, str]:
    """input -> default from the first table after ``heading`` in docs/monitoring.md."""
    text = MONITORING_DOC.read_text().split(heading, 1)[1]
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `"):
            rows[cells[0].strip("`")] = cells[1].strip("`")
        elif rows and not line.startswith("|"):
            break
    return rows


def test_the_docs_list_every_input_of_the_monitor_workflow_with_its_default():
    declared = load(MONITOR_WORKFLOW)["on"]["workflow_call"]["inputs"]
    documented = documented_inputs("### Inputs of `mlops-monitor.yml`")
    assert set(documented) == set(declared)
    for name, spec in declared.items():
        default = str(spec["default"]).lower() if isinstance(spec["default"], bool) else str(spec["default"])
        assert documented[name] == (default if default != "" else "(empty)"), name


def test_the_gitlab_monitor_runs_on_schedules_and_the_retrain_on_its_dispatch():
    monitor_spec, _ = documents(GITLAB / "mlops-monitor" / "template.yml")
    retrain_spec, _ = documents(GITLAB / "mlops-retrain" / "template.yml")
    monitor_rules = [rule["if"] for rule in defaults(monitor_spec)["rules"]]
    assert monitor_rules[0].startswith('$CI_PIPELINE_SOURCE == "schedule"')
    [retrain_rule] = [rule["if"] for rule in defaults(retrain_spec)["rules"]]
    pattern = re.fullmatch(r"\$MLOPS_DISPATCH =~ /(.+)/", retrain_rule)
    assert pattern
    for target in ("retrain", "mlops-retrain.yml"):
        assert re.fullmatch(pattern.group(1), target), target
    assert not re.fullmatch(pattern.group(1), "deploy")
    bundle_spec, bundle = documents(GITLAB / "mlops-pipeline" / "template.yml")
    bundle_defaults = defaults(bundle_spec)
    assert bundle_defaults["monitor_rules"] == defaults(monitor_spec)["rules"]
    assert bundle_defaults["retrain_rules"] == defaults(retrain_spec)["rules"]
    included = {Path(e["local"]).parent.name: e for e in interpolate(bundle, bundle_defaults)["include"]}
    assert included["mlops-monitor"]["inputs"]["alert"] == "true"
    assert included["mlops-monitor"]["inputs"]["dispatch_retrain"] == "false"
