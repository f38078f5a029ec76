"""The doctor: checks, a trial training on a sample of rows, the model loaded back, what it needs trusted."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_actions.cli import main
from mlops_actions.domain.config import load_config
from mlops_actions.stages.doctor import run_doctor
from tests.hostile.conftest import tree_snapshot


def test_a_healthy_project_trains_a_sample_loads_it_back_and_changes_nothing(tiny_project: Path) -> None:
    before = tree_snapshot(tiny_project)
    report = run_doctor(load_config(tiny_project / "mlops.yaml"), sample_rows=100)
    assert report.healthy and report.problem is None
    assert 100 <= report.sample_rows <= 110 and report.train_seconds is not None
    assert report.needed_types == ()
    assert tree_snapshot(tiny_project) == before and not (tiny_project / ".mlops").exists()


def test_a_project_type_is_listed_with_the_config_key_that_trusts_it(tiny_project: Path) -> None:
    (tiny_project / "doctor_probe_scaler.py").write_text(
        "from sklearn.preprocessing import StandardScaler\nclass Scaler(StandardScaler):\n    pass\n"
    )
    (tiny_project / "tiny_model.py").write_text(
        (tiny_project / "tiny_model.py")
        .read_text()
        .replace("StandardScaler()", "__import__('doctor_probe_scaler').Scaler()")
    )
    config = tiny_project / "mlops.yaml"
    config.write_text(
        config.read_text().replace(
            "params: {C: 1.0}", "params: {C: 1.0}\n  trusted_types: [doctor_probe_scaler.Scaler]"
        )
    )
    report = run_doctor(load_config(config), sample_rows=100)
    assert [(t.name, t.trusted_by) for t in report.needed_types] == [
        ("doctor_probe_scaler.Scaler", "train.trusted_types")
    ]


def test_a_preflight_problem_skips_the_trial_training(tiny_project: Path) -> None:
    config = tiny_project / "mlops.yaml"
    config.write_text(config.read_text().replace("target: label", "target: outcome"))
    report = run_doctor(load_config(config))
    assert not report.healthy and report.sample_rows == 0 and report.problem is None


def test_a_trial_training_failure_is_one_line_and_exit_2(
    tiny_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tiny_project / "tiny_model.py").write_text(
        "def train_model(X, y, params):\n    raise ValueError('boom')\n"
    )
    assert main(["doctor", "--config", str(tiny_project / "mlops.yaml"), "--rows", "50"]) == 2
    out, err = capsys.readouterr()
    assert "PROBLEM  trial training on" in out and "training raised ValueError: boom" in out
    assert err.splitlines() == [
        "mlops-actions: error: trial training failed: train.entrypoint tiny_model:train_model: "
        "training raised ValueError: boom"
    ]


def test_a_classification_sample_keeps_every_class(tiny_project: Path) -> None:
    import pandas as pd

    frame = pd.read_csv(tiny_project / "train.csv").sort_values("label")  # the first rows hold one class
    frame.to_csv(tiny_project / "train.csv", index=False)
    report = run_doctor(load_config(tiny_project / "mlops.yaml"), sample_rows=60)
    assert report.healthy, report.problem
