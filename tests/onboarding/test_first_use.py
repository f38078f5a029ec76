"""First use on a project unlike example_project, configured from the README alone: a regression task, a command
trainer (``python train.py ...``) that picks its own columns, a HistGradientBoosting pipeline and a
FunctionTransformer over a function of the project. main -> release -> pull requests that improve, stay within
noise and degrade -> check: each gets its verdict and its comment on the first try."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import init_repo, run_git
from tests.hostile.conftest import run_cli

PROJECT = Path(__file__).resolve().parent / "house_prices"
MAIN_PARAMS = "params: {max_iter: 150, drop: [distance_km]}"


@pytest.fixture(scope="module")
def house_prices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project on main, released once: house-price@v1.0.0 in the local registry."""
    project = tmp_path_factory.mktemp("first-use") / "house-prices"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "generate.py", "data"], cwd=project, check=True)
    (project / ".gitignore").write_text(".mlops/\nmlops-out/\n__pycache__/\n")
    config = project / "mlops.yaml"
    config.write_text(config.read_text().replace("params: {max_iter: 150}", MAIN_PARAMS))
    init_repo(project)
    validated = run_cli(["config", "validate", "mlops.yaml"], cwd=project)
    assert validated.code == 0, validated.stderr
    released = run_cli(["release"], cwd=project)
    assert released.code == 0, released.stderr
    assert "released house-price@v1.0.0" in released.stdout + released.stderr
    return project


def pull_request(project: Path, branch: str, params: str) -> tuple[int, dict, str]:
    """Check a branch of main whose only change is the training params: (exit code, result, comment)."""
    run_git(project, "checkout", "-q", "main")
    run_git(project, "checkout", "-q", "-B", branch)
    config = project / "mlops.yaml"
    config.write_text(config.read_text().replace(MAIN_PARAMS, f"params: {params}"))
    run_git(project, "commit", "-q", "-am", f"{branch}: params {params}")
    checked = run_cli(["check"], cwd=project)
    run_git(project, "checkout", "-q", "main")
    assert "Traceback" not in checked.stderr, checked.stderr
    result = json.loads((project / "mlops-out" / "mlops-result.json").read_text())
    comment = (project / ".mlops" / "comments" / "house-price.md").read_text()
    return checked.code, result, comment


def rmse_row(result: dict) -> dict:
    return next(m for m in result["metrics"] if m["name"] == "rmse")


def test_a_pull_request_that_adds_a_feature_passes_with_a_confident_gain(house_prices: Path) -> None:
    code, result, comment = pull_request(house_prices, "add-distance", "{max_iter: 150}")
    assert code == 0 and result["verdict"] == "pass"
    assert result["baseline"]["source"] == "registry" and result["baseline"]["model"]["version"] == "1.0.0"
    rmse = rmse_row(result)
    assert rmse["ci_high"] < 0 and rmse["within_noise"] is False
    assert comment.startswith("<!-- mlops-actions:sticky house-price -->") and "PASS" in comment


def test_a_pull_request_within_noise_passes_and_says_so(house_prices: Path) -> None:
    code, result, comment = pull_request(
        house_prices, "one-more-iteration", "{max_iter: 151, drop: [distance_km]}"
    )
    assert code == 0 and result["verdict"] == "pass"
    assert rmse_row(result)["within_noise"] is True
    assert "PASS" in comment and "within noise" in comment


def test_a_pull_request_that_drops_a_strong_feature_fails_naming_the_rule(house_prices: Path) -> None:
    code, result, comment = pull_request(
        house_prices, "drop-area", "{max_iter: 150, drop: [distance_km, area]}"
    )
    assert code == 1 and result["verdict"] == "fail"
    assert result["reasons"][0].startswith("rmse: Δ +")
    assert "FAIL" in comment and "rmse" in comment


def test_the_doctor_names_what_the_pipeline_needs_trusted(house_prices: Path) -> None:
    doctor = run_cli(["doctor"], cwd=house_prices)
    assert doctor.code == 0, doctor.stdout + doctor.stderr
    assert "trusts house_features.age_at_sale: train.trusted_types" in doctor.stdout
    assert (
        "trusts sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor: stock scikit-learn list"
        in doctor.stdout
    )
