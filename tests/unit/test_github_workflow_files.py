"""The composite action, the reusable workflows and their copy-paste callers keep their promises."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_actions import __version__

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
PR_WORKFLOW = ROOT / ".github" / "workflows" / "mlops-pr.yml"
COMMENT_WORKFLOW = ROOT / ".github" / "workflows" / "mlops-pr-comment.yml"
REUSABLE = [PR_WORKFLOW, COMMENT_WORKFLOW]
TEMPLATES = ROOT / "ci_templates" / "github"
EXAMPLE_CALLERS = ROOT / "example_project" / ".github" / "workflows"
KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
PINNED = re.compile(r"^\s*(?:-\s*)?uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40})\s+#\s*v\d+(\.\d+){0,2}\s*$")
USES = re.compile(r"^\s*(?:-\s*)?uses:\s*(\S+)")
THIS_REPOSITORY = "mlops-actions/mlops-actions"


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    if True in document:  # YAML 1.1 reads the key `on` as a boolean
        document["on"] = document.pop(True)
    return document  # type: ignore[no-any-return]


def jobs(path: Path) -> dict[str, dict[str, Any]]:
    return load(path)["jobs"]  # type: ignore[no-any-return]


def run_blocks(document: dict[str, Any]) -> list[str]:
    steps = [s for job in document.get("jobs", {}).values() for s in job.get("steps", [])]
    steps += document.get("runs", {}).get("steps", [])
    return [step["run"] for step in steps if "run" in step]


def test_action_inputs_are_kebab_case_described_and_defaulted():
    inputs = load(ACTION)["inputs"]
    assert {"config", "working-directory", "python-version", "install", "command"} <= set(inputs)
    for name, spec in inputs.items():
        assert KEBAB.match(name), name
        assert spec.get("description") and "default" in spec, name


def test_action_outputs_are_described_and_come_from_the_run_step():
    outputs = load(ACTION)["outputs"]
    assert set(outputs) == {"verdict", "result-path", "report-path", "candidate-artifact"}
    for name, spec in outputs.items():
        assert spec["description"] and spec["value"] == f"${{{{ steps.run.outputs.{name} }}}}"


def test_composite_steps_are_named_and_run_steps_declare_their_shell():
    for step in load(ACTION)["runs"]["steps"]:
        assert step.get("name")
        if "run" in step:
            assert step["shell"] == "bash"
            assert step["working-directory"] == "${{ inputs.working-directory }}"


@pytest.mark.parametrize("path", [ACTION, *REUSABLE], ids=lambda p: p.name)
def test_install_default_pins_the_release_of_this_version(path):
    document = load(path)
    inputs = document["inputs"] if "inputs" in document else document["on"]["workflow_call"]["inputs"]
    assert inputs["install"]["default"] == f"mlops-actions=={__version__}"


def test_pr_workflow_inputs_are_kebab_case_typed_described_and_defaulted():
    inputs = load(PR_WORKFLOW)["on"]["workflow_call"]["inputs"]
    assert {"config", "python-version", "install", "working-directory", "runs-on"} <= set(inputs)
    assert inputs["config"]["default"] == "mlops.yaml"
    for name, spec in inputs.items():
        assert KEBAB.match(name) and spec["description"] and spec["type"] and "default" in spec, name


OWN_ACTION = re.compile(rf"^{THIS_REPOSITORY}/\.github/actions/[\w-]+@v\d+$")


@pytest.mark.parametrize("path", [ACTION, *REUSABLE], ids=lambda p: p.name)
def test_third_party_actions_are_pinned_by_full_sha_with_a_version_comment(path):
    for line in path.read_text().splitlines():
        found = USES.match(line)
        if found and not found.group(1).startswith("./") and not OWN_ACTION.match(found.group(1)):
            assert PINNED.match(line), (
                f"{path.name}: not pinned by SHA with a version comment: {line.strip()}"
            )


@pytest.mark.parametrize("path", REUSABLE, ids=lambda p: p.name)
def test_reusable_workflows_grant_nothing_by_default_and_least_privilege_per_job(path):
    document = load(path)
    assert document["permissions"] == {}
    for name, job in document["jobs"].items():
        assert isinstance(job.get("permissions"), dict) and job["permissions"], name
        assert all(level in ("read", "write") for level in job["permissions"].values())
        assert "group" in job.get("concurrency", {}), name


@pytest.mark.parametrize("path", [ACTION, *REUSABLE], ids=lambda p: p.name)
def test_no_expression_is_interpolated_into_a_shell_script(path):
    for script in run_blocks(load(path)):
        assert "${{" not in script, script


def test_pr_workflow_checks_out_the_history_without_persisting_credentials():
    [checkout] = [
        s for s in jobs(PR_WORKFLOW)["check"]["steps"] if s.get("uses", "").startswith("actions/checkout@")
    ]
    assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}


def test_pr_workflow_comments_directly_only_when_the_token_can_write():
    """The workflow passes context; who may comment is decided by platforms/policy.py (unit-tested)."""
    [check] = [s for s in jobs(PR_WORKFLOW)["check"]["steps"] if s.get("id") == "check"]
    assert check["env"]["MLOPS_FORGE"] == "auto"
    assert check["run"] == "mlops-actions check"


@pytest.mark.parametrize(
    "path", [ACTION, *REUSABLE, *REUSABLE[0].parent.glob("mlops-[dr]e*.yml")], ids=lambda p: p.name
)
def test_the_install_step_is_written_once_and_reused(path):
    steps = [s for job in load(path).get("jobs", {}).values() for s in job["steps"]]
    steps += load(path).get("runs", {}).get("steps", [])
    assert not any("pip install" in step.get("run", "") for step in steps), path.name
    assert any(step.get("uses") == f"{THIS_REPOSITORY}/.github/actions/install@v0" for step in steps)


def uploads(workflow: Path) -> dict[str, dict]:
    """The upload-artifact steps of the check job, by artifact name."""
    steps = jobs(workflow)["check"]["steps"]
    return {s["with"]["name"]: s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")}


def test_pr_workflow_uploads_the_result_and_reports_even_when_the_gate_fails():
    upload = uploads(PR_WORKFLOW)["mlops-result-${{ steps.check.outputs.model }}"]
    assert "!cancelled()" in upload["if"]
    for name in ("mlops-result.json", "report.md", "report.html", "pr-number"):
        assert name in upload["with"]["path"]


def test_pr_workflow_uploads_the_passing_model_for_promotion_only_from_this_repositorys_branches():
    upload = uploads(PR_WORKFLOW)["${{ steps.check.outputs.candidate-artifact }}"]
    assert "steps.check.outputs.candidate-artifact != ''" in upload["if"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in upload["if"]
    assert upload["with"]["path"].splitlines() == [
        "${{ runner.temp }}/mlops-out/mlops-result.json",
        "${{ runner.temp }}/mlops-out/model/",
    ]
    release = jobs(PR_WORKFLOW.parent / "mlops-release.yml")["release"]
    assert release["permissions"]["actions"] == "read"
    [step] = [s for s in release["steps"] if s.get("id") == "release"]
    assert step["env"]["MLOPS_CANDIDATE_SOURCE"] == "${{ inputs.promote && 'github-artifact' || 'none' }}"


def test_comment_workflow_never_checks_out_or_runs_pull_request_code():
    text = COMMENT_WORKFLOW.read_text()
    assert "actions/checkout" not in text
    assert "head_sha" not in text and "head.sha" not in text
    [job] = jobs(COMMENT_WORKFLOW).values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert "head_repository.full_name != github.repository" in job["if"]
    [download] = [s for s in job["steps"] if s.get("uses", "").startswith("actions/download-artifact@")]
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    assert any("--pr-from-artifact" in script for script in run_blocks(load(COMMENT_WORKFLOW)))


@pytest.mark.parametrize("name", ["mlops-pr.yml", "mlops-pr-comment.yml"])
def test_the_example_project_uses_the_templates_as_they_are(name):
    assert (EXAMPLE_CALLERS / name).read_text() == (TEMPLATES / name).read_text()


@pytest.mark.parametrize("name", ["mlops-pr.yml", "mlops-pr-comment.yml"])
def test_templates_start_with_a_header_linking_the_docs(name):
    head = (TEMPLATES / name).read_text().split("\nname:")[0]
    assert head.startswith("#") and "docs/github.md" in head


@pytest.mark.parametrize("name", ["mlops-pr.yml", "mlops-pr-comment.yml"])
def test_callers_grant_every_permission_the_reusable_jobs_ask_for(name):
    caller = load(TEMPLATES / name)
    assert caller["permissions"] == {}
    [job] = caller["jobs"].values()
    target = re.fullmatch(rf"{THIS_REPOSITORY}/(\.github/workflows/[\w.-]+)@v\d+", job["uses"])
    assert target, job["uses"]
    rank = {"none": 0, "read": 1, "write": 2}
    for reusable_job in jobs(ROOT / target.group(1)).values():
        for scope, level in reusable_job["permissions"].items():
            assert rank[job["permissions"].get(scope, "none")] >= rank[level], (name, scope)


def test_the_comment_caller_follows_the_pr_caller_by_name():
    pr_name = load(TEMPLATES / "mlops-pr.yml")["name"]
    trigger = load(TEMPLATES / "mlops-pr-comment.yml")["on"]["workflow_run"]
    assert trigger == {"workflows": [pr_name], "types": ["completed"]}


def doc_table(heading: str) -> dict[str, tuple[str, str]]:
    """input -> (default, description) from the first table after ``heading`` in docs/github.md."""
    text = (ROOT / "docs" / "github.md").read_text().split(heading, 1)[1]
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `"):
            rows[cells[0].strip("`")] = (cells[1].strip("`"), cells[2])
        elif rows and not line.startswith("|"):
            break
    return rows


@pytest.mark.parametrize(
    ("heading", "inputs"),
    [
        ("### Inputs of `mlops-pr.yml`", lambda: load(PR_WORKFLOW)["on"]["workflow_call"]["inputs"]),
        ("### The composite action, for your own jobs", lambda: load(ACTION)["inputs"]),
    ],
    ids=["mlops-pr.yml", "action.yml"],
)
def test_the_docs_list_every_input_with_its_default(heading, inputs):
    documented = doc_table(heading)
    declared = inputs()
    assert set(documented) == set(declared)
    for name, spec in declared.items():
        default = str(spec["default"]) if spec["default"] != "" else "(empty)"
        assert documented[name][0] == default, name
