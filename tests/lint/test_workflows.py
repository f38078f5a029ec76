"""Lint gates for the GitHub workflows and actions: zizmor (offline) and the vendored JSON schemas."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
ACTIONS = [ROOT / "action.yml", *sorted((ROOT / ".github" / "actions").glob("*/action.yml"))]
CALLERS = sorted((ROOT / "ci_templates" / "github").glob("*.y*ml")) + sorted(
    (ROOT / "example_project" / ".github" / "workflows").glob("*.y*ml")
)
STANDIN_ACTIONS = sorted((ROOT / "tests" / "e2e" / "actions").glob("*/action.yml"))
TEMPLATE_POLICY = Path(__file__).resolve().parent / "zizmor-templates.yml"
IGNORE_COMMENT = re.compile(r"#\s*zizmor:\s*ignore\[([^\]]*)\](.*)$")


def tool(name: str) -> str:
    """The tool installed next to this Python (the dev environment), else on PATH."""
    local = Path(sys.executable).parent / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[dev]' provides it"
    return found


def run(*command: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_CONFIG")}
    env["NO_COLOR"] = "1"
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)


def rel(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


def test_the_files_to_lint_exist():
    assert rel(WORKFLOWS) == [
        ".github/workflows/mlops-deploy.yml",
        ".github/workflows/mlops-monitor.yml",
        ".github/workflows/mlops-pr-comment.yml",
        ".github/workflows/mlops-pr.yml",
        ".github/workflows/mlops-release.yml",
        ".github/workflows/release.yml",
    ]
    assert (ROOT / "action.yml").is_file()
    assert len(CALLERS) == 9


def test_zizmor_finds_nothing_in_the_workflows_and_the_action():
    done = run(tool("zizmor"), "--offline", "--no-progress", *rel(WORKFLOWS), *rel(ACTIONS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr


def test_zizmor_finds_nothing_in_the_copy_paste_callers():
    done = run(tool("zizmor"), "--offline", "--no-progress", "--config", str(TEMPLATE_POLICY), *rel(CALLERS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_inline_zizmor_ignore_gives_a_reason():
    for path in [*WORKFLOWS, *ACTIONS, *CALLERS]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            found = IGNORE_COMMENT.search(line)
            if found:
                reason = found.group(2).strip().lstrip("-—: ").strip()
                assert len(reason) >= 10, (
                    f"{path.relative_to(ROOT)}:{number}: an inline zizmor ignore needs a reason"
                )


def test_workflows_match_the_github_workflow_schema():
    done = run(
        tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *rel(WORKFLOWS + CALLERS)
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_actions_match_the_github_action_schema():
    done = run(
        tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", *rel(ACTIONS + STANDIN_ACTIONS)
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", [*WORKFLOWS, *ACTIONS, CALLERS[0]], ids=lambda p: str(p.relative_to(ROOT)))
def test_the_schema_check_rejects_a_broken_copy(path, tmp_path):
    """The schema gate can fail: a copy with an unknown top-level key is rejected."""
    broken = tmp_path / path.name
    broken.write_text(path.read_text() + "\nnot-a-key: true\n")
    schema = "vendor.github-actions" if path in ACTIONS else "vendor.github-workflows"
    done = run(tool("check-jsonschema"), "--builtin-schema", schema, str(broken))
    assert done.returncode != 0 and "not-a-key" in done.stdout + done.stderr
