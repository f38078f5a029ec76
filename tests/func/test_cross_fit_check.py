"""`mlops-actions check` with gate.evaluation cross_fit: every train + eval row is a paired row of candidate and
merge-base code trained on the same folds, once per repetition; a registry baseline falls back to the eval rows
and says why."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from mlops_actions.cli import main
from mlops_actions.domain.inference import cross_fit_inflation
from mlops_actions.stages import check as check_stage
from tests.conftest import run_git
from tests.func.test_check_cli import check

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"
NOT_COPIED = shutil.ignore_patterns(".github", ".mlops", "mlops-out", "__pycache__", ".pytest_cache")


def result_of(project: Path) -> dict[str, Any]:
    return json.loads((project / "mlops-out" / "mlops-result.json").read_text())


def cross_fit_config(config: Path, **gate: Any) -> None:
    document = yaml.safe_load(config.read_text())
    document["gate"].update(evaluation="cross_fit", folds=3, **gate)
    config.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any, float]]:
    """The (candidate, baseline, inflation) every check hands to compare."""
    calls: list[tuple[Any, Any, float]] = []
    real = check_stage.compare

    def recording(
        candidate: Any, baseline: Any, config: Any, *, inflation: float = 1.0, repeats: int = 1
    ) -> Any:
        calls.append((candidate, baseline, inflation))
        return real(candidate, baseline, config, inflation=inflation, repeats=repeats)

    monkeypatch.setattr(check_stage, "compare", recording)
    return calls


def debt_to_income_cross_fitted(tmp_path: Path, **gate: Any) -> Path:
    """A copy of example_project in git whose branch adds the debt-to-income ratio, cross-fitted on 3 folds
    (``gate`` adds to its gate), the baseline retrained from the merge-base."""
    project = tmp_path / "example"
    shutil.copytree(EXAMPLE, project, ignore=NOT_COPIED)
    config = project / "mlops.yaml"
    document = yaml.safe_load(config.read_text())
    del document["tests"]  # the project's tests are not what is tested here
    document["gate"]["resamples"] = 200
    document["baseline"]["source"] = "retrain"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    run_git(project, "init", "-q", "-b", "main")
    run_git(project, "add", "-A")
    run_git(project, "commit", "-q", "-m", "base")
    run_git(project, "checkout", "-q", "-b", "debt-to-income")
    run_git(project, "apply", "changes/add-debt-to-income.patch")
    cross_fit_config(config, **gate)
    run_git(project, "commit", "-q", "-am", "add the debt-to-income ratio, cross-fitted")
    return project


def pooled_ids(project: Path) -> pd.Series:
    return pd.concat([pd.read_csv(project / "data" / name) for name in ("train.csv", "eval.csv")])["loan_id"]


@pytest.mark.slow
def test_cross_fit_pairs_every_train_and_eval_row_of_candidate_and_merge_base_code(
    tmp_path: Path, compared: list[tuple[Any, Any, float]]
) -> None:
    project = debt_to_income_cross_fitted(tmp_path, repeats=1)

    assert check(project) == 0
    result = result_of(project)
    ids = pooled_ids(project)
    assert result["gate"]["evaluation"] == {
        "mode": "cross_fit",
        "folds": 3,
        "repeats": 1,
        "rows": len(ids),
        "paired_rows": len(ids),
        "variance": "nadeau-bengio",
        "inflation": pytest.approx(cross_fit_inflation(3)),
        "fallback": None,
    }
    assert result["evaluation"]["rows"] == len(ids) and result["evaluation"]["same_rows"] is True
    [(candidate, baseline, inflation)] = compared
    assert inflation == pytest.approx(cross_fit_inflation(3))
    assert sorted(candidate.row_keys.tolist()) == sorted(ids.tolist())
    assert candidate.row_keys.tolist() == baseline.row_keys.tolist()
    assert (
        result["baseline"]["source"] == "retrain"
        and "cross-fitted on 3 folds" in result["baseline"]["reason"]
    )
    auc = next(m for m in result["metrics"] if m["name"] == "roc_auc")
    assert auc["ci_low"] > 0  # the ratio feature's documented gain, now seen on all 12,000 rows
    released = json.loads((project / "mlops-out" / "model" / "metadata.json").read_text())
    assert released["train_rows"] == len(pd.read_csv(project / "data" / "train.csv"))


@pytest.mark.slow
def test_repeated_cross_fit_stacks_each_repetitions_rows_and_reports_the_repeats(
    tmp_path: Path, compared: list[tuple[Any, Any, float]]
) -> None:
    project = debt_to_income_cross_fitted(tmp_path, repeats=2)

    assert check(project) == 0
    result = result_of(project)
    ids = pooled_ids(project)
    evaluation = result["gate"]["evaluation"]
    assert evaluation["repeats"] == 2 and evaluation["folds"] == 3
    assert evaluation["rows"] == len(ids) and evaluation["paired_rows"] == 2 * len(ids)
    assert evaluation["variance"] == "bouckaert-frank"
    assert evaluation["inflation"] == pytest.approx(cross_fit_inflation(3, 2))
    assert result["evaluation"]["rows"] == len(ids)  # distinct rows: what more eval rows would add to
    [(candidate, baseline, inflation)] = compared
    assert inflation == pytest.approx(cross_fit_inflation(3, 2))
    assert candidate.rows == 2 * len(ids)
    assert candidate.row_keys.tolist() == baseline.row_keys.tolist()
    assert sorted(candidate.row_keys[: len(ids)].tolist()) == sorted(ids.tolist())
    assert candidate.row_keys[len(ids) :].tolist() == candidate.row_keys[: len(ids)].tolist()
    assert "cross-fitted on 3 folds × 2 repeats" in result["baseline"]["reason"]
    markdown = (project / "mlops-out" / "report.md").read_text()
    assert (
        f"Cross-fitted on 3 folds × 2 repeats of train+eval ({2 * len(ids):,} paired rows: 2 × {len(ids):,})"
        in markdown
    )


def test_a_registry_baseline_is_compared_on_the_eval_rows_and_the_fallback_says_why(
    tiny_project: Path, compared: list[tuple[Any, Any, float]]
) -> None:
    assert (
        main(
            [
                "release",
                "--config",
                str(tiny_project / "mlops.yaml"),
                "--output-dir",
                str(tiny_project / "out"),
            ]
        )
        == 0
    )
    run_git(tiny_project, "checkout", "-q", "-b", "cross-fit")
    cross_fit_config(tiny_project / "mlops.yaml")
    run_git(tiny_project, "commit", "-q", "-am", "cross-fit the gate")
    compared.clear()

    assert check(tiny_project) == 0
    result = result_of(tiny_project)
    evaluation = result["gate"]["evaluation"]
    assert result["baseline"]["source"] == "registry"
    assert evaluation["mode"] == "holdout" and evaluation["folds"] is None and evaluation["inflation"] is None
    assert evaluation["rows"] == result["evaluation"]["rows"]
    assert evaluation["fallback"].startswith("the baseline is the registry's version 1.0.0")
    assert [inflation for _, _, inflation in compared] == [1.0]


def test_the_cross_fit_command_refuses_a_folder_without_folds_in_one_line(
    tiny_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folds = tmp_path / "empty"
    folds.mkdir()
    assert main(["cross-fit", "--config", str(tiny_project / "mlops.yaml"), "--folds", str(folds)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert str(folds) in line and "fold-1-train.csv" in line
