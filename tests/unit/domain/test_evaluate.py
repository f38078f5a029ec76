"""domain/evaluation.py: evaluate() scores a model folder and gives its metrics; save() writes what compare reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_actions.domain.config import Config, load_config
from mlops_actions.domain.evaluation import EVALUATION_FILE, evaluate, load_scored
from mlops_actions.domain.model_io import METADATA_FILE, MODEL_FILE, save_model


@pytest.fixture
def config(tiny_project: Path) -> Config:
    return load_config(tiny_project / "mlops.yaml")


@pytest.fixture
def eval_rows(tiny_project: Path) -> pd.DataFrame:
    return pd.read_csv(tiny_project / "eval.csv")


@pytest.fixture
def model_dir(tiny_project: Path, tmp_path: Path) -> Path:
    from sklearn.linear_model import LogisticRegression

    train = pd.read_csv(tiny_project / "train.csv")
    folder = tmp_path / "model"
    folder.mkdir()
    digest = save_model(LogisticRegression().fit(train[["x1", "x2"]], train["label"]), folder / MODEL_FILE)
    metadata = {"model_digest": digest, "model_name": "tiny", "classes": [0, 1], "features": ["x1", "x2"]}
    (folder / METADATA_FILE).write_text(json.dumps(metadata))
    return folder


def test_evaluate_gives_every_metric_with_an_interval_and_no_delta(
    model_dir: Path, eval_rows: pd.DataFrame, config: Config
) -> None:
    evaluation = evaluate(model_dir, eval_rows, config)
    assert evaluation.scored.rows == len(eval_rows)
    assert [row["name"] for row in evaluation.metrics] == list(config.metrics)
    for row in evaluation.metrics:
        assert row["ci_low"] <= row["candidate"] <= row["ci_high"]
        assert row["baseline"] is None and row["delta"] is None
    assert sorted(s["value"] for s in evaluation.slices) == ["a", "b", "c"]


def test_evaluate_computes_no_metric_until_one_is_read(
    model_dir: Path, eval_rows: pd.DataFrame, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(
        "mlops_actions.domain.comparison.metric_rows", lambda *args, **kwargs: calls.append("metrics") or []
    )
    evaluation = evaluate(model_dir, eval_rows, config)
    assert calls == []
    assert evaluation.metrics == [] and evaluation.metrics == []
    assert calls == ["metrics"]


def test_evaluate_puts_the_classes_in_the_order_asked_for(
    model_dir: Path, eval_rows: pd.DataFrame, config: Config
) -> None:
    as_fitted = evaluate(model_dir, eval_rows, config).scored
    reordered = evaluate(model_dir, eval_rows, config, classes=[1, 0]).scored
    assert reordered.classes == [1, 0]
    assert np.array_equal(reordered.y_true, 1 - as_fitted.y_true)
    assert reordered.predictions.scores == pytest.approx(1 - as_fitted.predictions.scores)


def test_save_writes_the_predictions_compare_reads_and_the_evaluation_document(
    model_dir: Path, eval_rows: pd.DataFrame, config: Config, tmp_path: Path
) -> None:
    evaluation = evaluate(model_dir, eval_rows, config)
    folder = evaluation.save(tmp_path / "eval")
    again = load_scored(folder)
    assert np.array_equal(again.row_keys, evaluation.scored.row_keys)
    assert again.predictions.scores == pytest.approx(evaluation.scored.predictions.scores)
    document = json.loads((folder / EVALUATION_FILE).read_text(encoding="utf-8"))
    assert document == json.loads(json.dumps(evaluation.to_dict()))
    assert document["model_digest"] == evaluation.scored.model_digest and document["rows"] == len(eval_rows)
