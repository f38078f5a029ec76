"""The jobs of a matrix over the configs: `check --plan` and `release --plan` on a config the plan skipped (as
GitLab's parallel:matrix over every config runs them) end with a `skipped:` line and write nothing, and the
null commit a branch's first push reports as its previous one plans every model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_actions.cli import main
from tests.func.test_configs_cli import _two_models_template, configs_json, two_models

__all__ = ["_two_models_template", "two_models"]  # the fixtures, shared with the configs command's tests


def plan_of(repo: Path, capsys: pytest.CaptureFixture[str], config: str) -> str:
    """The plan of ``config`` alone since main, as one job of the matrix writes it."""
    (repo / "plan.json").write_text(json.dumps(configs_json(capsys, config, "--changed-since", "main")))
    capsys.readouterr()
    return "plan.json"


def test_check_of_a_config_the_plan_skipped_says_so_and_writes_no_result(
    two_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = plan_of(two_models, capsys, "models/b/mlops.yaml")
    code = main(["check", "--config", "models/b/mlops.yaml", "--plan", plan, "--output-dir", "mlops-out"])
    assert code == 0
    assert capsys.readouterr().out.startswith("skipped: b (no input changed: models/b/mlops.yaml")
    assert not (two_models / "mlops-out" / "mlops-result.json").exists()


def test_check_of_a_config_the_plan_kept_runs_the_check(
    two_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = plan_of(two_models, capsys, "models/a/mlops.yaml")
    argv = ["check", "--config", "models/a/mlops.yaml", "--plan", plan, "--baseline", "none", "--quiet"]
    assert main([*argv, "--output-dir", "mlops-out", "--comment-dir", ".mlops/comments"]) == 0
    assert "skipped:" not in capsys.readouterr().out
    assert json.loads((two_models / "mlops-out" / "mlops-result.json").read_text())["verdict"] == "pass"


def test_release_of_a_config_the_plan_skipped_publishes_nothing(
    two_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = plan_of(two_models, capsys, "models/b/mlops.yaml")
    code = main(["release", "--config", "models/b/mlops.yaml", "--plan", plan, "--output-dir", "mlops-out"])
    assert code == 0
    assert capsys.readouterr().out.startswith("skipped: b (no input changed")
    assert not (two_models / "models" / "b" / ".registry").exists()
    assert not (two_models / "mlops-out").exists()


def test_a_null_commit_as_the_base_plans_every_model(
    two_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = configs_json(capsys, "models/*/mlops.yaml", "--changed-since", "0" * 40)
    assert [m["model"] for m in document["matrix"]["include"]] == ["a", "b"]
    assert document["skipped"] == []
