"""Lint gates for the GitLab CI templates: GitLab's CI schema (check-jsonschema, offline) and conventions.

A template with a ``spec:`` header is two YAML documents: the header and the jobs. check-jsonschema reads
one document per file, so each is validated on its own; the jobs document is validated as GitLab sees it
after ``$[[ inputs.x ]]`` interpolation with the inputs' defaults (and, for the bundle, the values it
passes to each job template).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIR = ROOT / "templates"
TEMPLATES = sorted(TEMPLATE_DIR.glob("*/template.yml"))
JOB_TEMPLATES = [p for p in TEMPLATES if p.parent.name != "mlops-pipeline"]
BUNDLE = TEMPLATE_DIR / "mlops-pipeline" / "template.yml"
EXAMPLES = sorted((ROOT / "ci_templates" / "gitlab" / "examples").glob("*.yml"))
STANDARD_INPUTS = ("as", "stage", "rules", "needs")
INTERPOLATION = re.compile(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]")
STAGE_COMMANDS = {
    "mlops-check": "mlops-actions check",
    "mlops-release": "mlops-actions release",
    "mlops-deploy": "mlops-actions deploy",
    "mlops-data-shard": (
        'mlops-actions data profile "$MLOPS_DATA" --shard "$CI_NODE_INDEX/$CI_NODE_TOTAL"'
        ' --bins-from "$MLOPS_DATA_REFERENCE" -o "$MLOPS_OUTPUT_DIR/part-$CI_NODE_INDEX.json"'
    ),
    "mlops-data-merge": (
        'mlops-actions data merge "$MLOPS_OUTPUT_DIR"/part-*.json -o "$MLOPS_OUTPUT_DIR/current-profile.json"'
        ' && mlops-actions data drift "$MLOPS_DATA_REFERENCE" "$MLOPS_OUTPUT_DIR/current-profile.json"'
    ),
    "mlops-monitor": (
        'mlops-actions monitor ${MLOPS_MONITOR_REF:+--ref "$MLOPS_MONITOR_REF"}'
        ' ${MLOPS_MONITOR_REFERENCE:+--reference "$MLOPS_MONITOR_REFERENCE"}'
    ),
    "mlops-retrain": (
        "git add -A &&"
        " if git diff --cached --quiet;"
        ' then echo "The refreshed data is the same;'
        ' no merge request.";'
        ' else git -c user.name="mlops-actions" -c user.email="mlops-actions@noreply.invalid" commit -q -m "Retrain on refreshed data" -m "${MLOPS_REASON:-started by hand}" &&'
        ' git push -o merge_request.create -o merge_request.target="$CI_DEFAULT_BRANCH" -o merge_request.remove_source_branch -o merge_request.title="Retrain on refreshed data" -o merge_request.description="${MLOPS_REASON:-started by hand}" "$MLOPS_RETRAIN_REMOTE" "HEAD:refs/heads/$MLOPS_RETRAIN_BRANCH";'
        " fi"
    ),
}


def check_jsonschema() -> str:
    local = Path(sys.executable).parent / "check-jsonschema"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("check-jsonschema")
    assert found, "check-jsonschema is not installed: pip install -e '.[dev]' provides it"
    return found


def documents(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    assert len(docs) == 2, f"{path}: expected a spec header and a jobs document"
    return docs[0], docs[1]


def interpolate(node: Any, values: dict[str, Any]) -> Any:
    """``$[[ inputs.x ]]`` replaced as GitLab does: a whole scalar keeps the input's type, else text."""
    if isinstance(node, dict):
        return {interpolate(key, values): interpolate(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(item, values) for item in node]
    if isinstance(node, str):
        whole = INTERPOLATION.fullmatch(node.strip())
        if whole:
            return values[whole.group(1)]
        return INTERPOLATION.sub(lambda m: str(values[m.group(1)]), node)
    return node


def defaults(spec: dict[str, Any]) -> dict[str, Any]:
    return {name: entry.get("default") for name, entry in spec["spec"]["inputs"].items()}


def validate(documents: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """One check-jsonschema run over every document (name -> document); fails when any is invalid."""
    paths = []
    for name, document in documents.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        paths.append(str(path))
    return subprocess.run(
        [check_jsonschema(), "--builtin-schema", "vendor.gitlab-ci", *paths],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_templates_exist():
    assert [p.parent.name for p in TEMPLATES] == [
        "mlops-check",
        "mlops-data-merge",
        "mlops-data-shard",
        "mlops-deploy",
        "mlops-monitor",
        "mlops-pipeline",
        "mlops-release",
        "mlops-retrain",
    ]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.parent.name)
def test_header_and_jobs_match_gitlabs_ci_schema(template, tmp_path):
    spec, jobs = documents(template)
    done = validate({"spec": spec, "jobs": interpolate(jobs, defaults(spec))}, tmp_path)
    assert done.returncode == 0, f"{template.parent.name}: {done.stdout}{done.stderr}"


def test_the_bundle_passes_inputs_that_give_valid_jobs(tmp_path):
    spec, jobs = documents(BUNDLE)
    bundle = interpolate(jobs, defaults(spec))
    expanded = {}
    for entry in bundle["include"]:
        target = ROOT / entry["local"].lstrip("/")
        assert target.is_file(), f"the bundle includes a missing file {entry['local']}"
        inner_spec, inner_jobs = documents(target)
        unknown = set(entry["inputs"]) - set(inner_spec["spec"]["inputs"])
        assert not unknown, f"{target.parent.name}: the bundle passes unknown inputs {sorted(unknown)}"
        values = {**defaults(inner_spec), **entry["inputs"]}
        expanded[target.parent.name] = interpolate(inner_jobs, values)
    done = validate(expanded, tmp_path)
    assert done.returncode == 0, f"the jobs of the bundle: {done.stdout}{done.stderr}"


def test_the_bundle_includes_every_job_template():
    spec, jobs = documents(BUNDLE)
    included = {Path(interpolate(e["local"], defaults(spec))).parent.name for e in jobs["include"]}
    assert included == {p.parent.name for p in JOB_TEMPLATES}


def test_a_broken_template_fails_the_schema(tmp_path):
    spec, jobs = documents(JOB_TEMPLATES[0])
    broken = interpolate(jobs, {**defaults(spec), "rules": "always"})
    assert validate({"broken": broken}, tmp_path).returncode != 0
    spec["spec"]["inputs"]["as"]["type"] = "text"
    assert validate({"broken-spec": spec}, tmp_path).returncode != 0


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.parent.name)
def test_every_input_is_snake_case_described_and_defaulted(template):
    spec, _jobs = documents(template)
    inputs = spec["spec"]["inputs"]
    for name, entry in inputs.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), (
            f"{template.parent.name}: input {name!r} is not snake_case"
        )
        assert entry.get("description"), f"{template.parent.name}: input {name!r} has no description"
        assert "default" in entry, f"{template.parent.name}: input {name!r} has no default"
        if "options" in entry:
            assert entry["default"] in entry["options"], (
                f"{template.parent.name}: {name} default not in options"
            )
        kind = entry.get("type", "string")
        expected = {"string": str, "array": list, "boolean": bool, "number": (int, float)}[kind]
        assert isinstance(entry["default"], expected), (
            f"{template.parent.name}: {name} default is not a {kind}"
        )
    used = set(INTERPOLATION.findall(template.read_text(encoding="utf-8").split("\n---\n", 1)[1]))
    assert used <= set(inputs), (
        f"{template.parent.name}: interpolates undeclared inputs {sorted(used - set(inputs))}"
    )
    assert set(inputs) <= used, f"{template.parent.name}: declares unused inputs {sorted(set(inputs) - used)}"


@pytest.mark.parametrize("template", JOB_TEMPLATES, ids=lambda p: p.parent.name)
def test_one_thin_job_per_file_with_the_standard_inputs(template):
    spec, jobs = documents(template)
    assert set(STANDARD_INPUTS) <= set(spec["spec"]["inputs"])
    assert list(jobs) == ["$[[ inputs.as ]]"]
    job = jobs["$[[ inputs.as ]]"]
    for key in ("stage", "rules", "needs"):
        assert job[key] == f"$[[ inputs.{key} ]]"
    assert job["script"] == [STAGE_COMMANDS[template.parent.name]]


def test_the_check_job_declares_the_merge_request_widgets():
    spec, jobs = documents(TEMPLATE_DIR / "mlops-check" / "template.yml")
    job = interpolate(jobs, defaults(spec))["mlops-check"]
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["reports"] == {"junit": "mlops-out/mlops-junit.xml", "dotenv": "mlops-out/mlops.env"}
    assert artifacts["expose_as"] and "mlops-out/report.html" in artifacts["paths"]


def test_no_template_puts_a_token_in_its_inputs_or_variables():
    for template in TEMPLATES:
        text = template.read_text(encoding="utf-8")
        assert "MLOPS_GITLAB_TOKEN" not in text and "CI_JOB_TOKEN" not in text, template.parent.name


def test_every_input_is_documented_in_docs_gitlab_md():
    docs = (ROOT / "docs" / "gitlab.md").read_text(encoding="utf-8")
    for template in TEMPLATES:
        spec, _jobs = documents(template)
        missing = [name for name in spec["spec"]["inputs"] if f"`{name}`" not in docs]
        assert not missing, f"{template.parent.name}: inputs not in docs/gitlab.md: {missing}"


def test_the_copy_paste_example_includes_the_bundle_and_matches_the_schema(tmp_path):
    [example] = EXAMPLES
    document = yaml.safe_load(example.read_text(encoding="utf-8"))
    [entry] = document["include"]
    assert entry["component"] == "$CI_SERVER_FQDN/mlops-actions/mlops-actions/mlops-pipeline@v0"
    spec, _jobs = documents(BUNDLE)
    assert set(entry["inputs"]) <= set(spec["spec"]["inputs"])
    done = validate({"example": document}, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
