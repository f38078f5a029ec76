"""`mlops-actions deploy` on a released tiny project: fetch by tag, digest checks, the deploy command, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_actions.cli import main
from tests.conftest import run_git

DEPLOY = 'printf "%s %s %s\\n" {tag} {version} "$MLOPS_MODEL_DIGEST" > deployed.txt && ls {model_dir} >> deployed.txt'


@pytest.fixture
def released(tiny_project: Path) -> Path:
    config = tiny_project / "mlops.yaml"
    config.write_text(config.read_text() + f"deploy:\n  command: '{DEPLOY}'\n")
    (tiny_project / ".gitignore").write_text((tiny_project / ".gitignore").read_text() + "deployed.txt\n")
    run_git(tiny_project, "commit", "-q", "-am", "Deploy command")
    assert main(["release", "--config", str(config), "--output-dir", str(tiny_project / "mlops-out")]) == 0
    return tiny_project


def deploy(project: Path, *args: str) -> int:
    return main(["deploy", "--config", str(project / "mlops.yaml"), "-o", str(project / "deploy-out"), *args])


def manifest(project: Path, version: str = "1.0.0") -> dict:
    return json.loads((project / ".registry" / "tiny" / "versions" / version / "manifest.json").read_text())  # type: ignore[no-any-return]


def test_deploy_fetches_the_tag_verifies_it_and_runs_the_command(released, capsys):
    assert deploy(released, "--version-tag", "tiny@v1.0.0") == 0
    lines = (released / "deployed.txt").read_text().splitlines()
    assert lines[0] == f"tiny@v1.0.0 1.0.0 {manifest(released)['digest']}"
    assert {"model.skops", "metadata.json", "model-card.md", "data-profile.json"} <= set(lines[1:])
    assert "deployed tiny@v1.0.0" in capsys.readouterr().out


def test_deploy_by_alias_and_from_the_environment(released, capsys, monkeypatch):
    assert deploy(released, "--ref", "production", "--json") == 0
    assert json.loads(capsys.readouterr().out)["version"] == "1.0.0"
    monkeypatch.setenv("MLOPS_VERSION_TAG", "tiny@v1.0.0")
    assert deploy(released) == 0


def test_a_tag_of_another_model_is_skipped(released, capsys):
    assert deploy(released, "--version-tag", "churn@v3.0.0") == 0
    assert "nothing to deploy" in capsys.readouterr().out
    assert not (released / "deployed.txt").exists()


def test_a_tampered_registry_file_is_refused_before_the_command_runs(released, capsys):
    model = released / ".registry" / "tiny" / "versions" / "1.0.0" / "model.skops"
    data = bytearray(model.read_bytes())
    data[-5] ^= 0xFF
    model.write_bytes(bytes(data))
    assert deploy(released, "--version-tag", "tiny@v1.0.0") == 2
    assert "sha256 digest mismatch" in capsys.readouterr().err
    assert not (released / "deployed.txt").exists()
    assert not (released / "deploy-out" / "deploy" / "1.0.0").exists()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--version-tag", "tiny@1.0"], 2, "expected <model>@v<MAJOR.MINOR.PATCH>"),
        (["--version-tag", "tiny@v9.9.9"], 2, "has no version '9.9.9'"),
        (["--ref", "staging"], 2, "has no version 'staging'"),
    ],
)
def test_bad_versions_are_usage_errors(released, capsys, args, code, message):
    assert deploy(released, *args) == code
    assert message in capsys.readouterr().err


def test_a_failing_deploy_command_exits_1(released, capsys):
    config = released / "mlops.yaml"
    config.write_text(config.read_text().replace(DEPLOY, "exit 3"))
    assert deploy(released, "--version-tag", "tiny@v1.0.0") == 1
    assert "deploy.command exited with code 3" in capsys.readouterr().err


def test_a_config_without_a_deploy_section_deploys_to_the_built_in_server(tiny_project, capsys):
    config = tiny_project / "mlops.yaml"
    assert main(["release", "--config", str(config), "--output-dir", str(tiny_project / "mlops-out")]) == 0
    assert "smoke.json" in manifest(tiny_project)["files"]
    capsys.readouterr()
    assert deploy(tiny_project, "--version-tag", "tiny@v1.0.0", "--no-load") == 0
    out = capsys.readouterr().out
    assert "tiny@v1.0.0 deployed: smoke 21/21" in out, out[:300]
    result = json.loads((tiny_project / "deploy-out" / "deploy-result.json").read_text())
    assert result["target"] == "built-in" and result["attempt"]["smoke"]["source"] == "smoke.json"
    assert result["record"]["outcome"] == "deployed" and result["record"]["smoke"]["mismatches"] == 0


def test_dispatch_needs_a_version_tag(tiny_project, capsys):
    assert deploy(tiny_project, "--dispatch", "mlops-deploy.yml") == 2
    assert "needs --version-tag" in capsys.readouterr().err


def test_deploy_prints_its_steps_on_stderr_and_quiet_silences_them(released, capsys):
    assert deploy(released, "--version-tag", "tiny@v1.0.0") == 0
    captured = capsys.readouterr()
    started = [line.split("] ", 1)[1] for line in captured.err.splitlines() if line.endswith("...")]
    assert started == [
        "loading config...",
        "resolving version...",
        "fetching...",
        "verifying...",
        "deploy command...",
    ]
    assert any(line.endswith("] resolving version: tiny@v1.0.0") for line in captured.err.splitlines())
    assert "[" not in captured.out
    assert deploy(released, "--version-tag", "tiny@v1.0.0", "--quiet") == 0
    assert not [line for line in capsys.readouterr().err.splitlines() if line.startswith("[")]
