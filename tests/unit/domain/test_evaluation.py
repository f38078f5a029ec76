"""Scoring a model folder: each model is scored on the columns it was fitted on."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mlops_actions.domain.config import load_config
from mlops_actions.domain.evaluation import score_model
from mlops_actions.domain.model_io import METADATA_FILE, MODEL_FILE, save_model
from mlops_actions.errors import DataError


def model_folder(folder: Path, estimator: object, recorded_features: list[str]) -> Path:
    digest = save_model(estimator, folder / MODEL_FILE)
    metadata = {
        "model_digest": digest,
        "model_name": "tiny",
        "classes": [0, 1],
        "features": recorded_features,
    }
    (folder / METADATA_FILE).write_text(json.dumps(metadata))
    return folder


def fit_on(frame: pd.DataFrame, columns: list[str]) -> object:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit(frame[columns], frame["label"])


def test_a_model_fitted_on_a_subset_is_scored_on_that_subset(tiny_project: Path, tmp_path: Path) -> None:
    train = pd.read_csv(tiny_project / "train.csv")
    eval_frame = pd.read_csv(tiny_project / "eval.csv")
    # the trainer picked x1 alone, though the recorded features are every non-target column
    folder = model_folder(tmp_path / "m", fit_on(train, ["x1"]), ["row_id", "x1", "x2", "group"])
    scored = score_model(folder, eval_frame, load_config(tiny_project / "mlops.yaml"))
    assert scored.rows == len(eval_frame) and scored.predictions.scores is not None


def test_a_candidate_that_adds_a_derived_column_is_scored_with_it(tiny_project: Path, tmp_path: Path) -> None:
    train = pd.read_csv(tiny_project / "train.csv").assign(x1x2=lambda f: f.x1 * f.x2)
    eval_frame = pd.read_csv(tiny_project / "eval.csv").assign(x1x2=lambda f: f.x1 * f.x2)
    folder = model_folder(tmp_path / "m", fit_on(train, ["x1", "x2", "x1x2"]), ["x1", "x2"])
    scored = score_model(folder, eval_frame, load_config(tiny_project / "mlops.yaml"))
    assert scored.rows == len(eval_frame)


def test_eval_rows_lacking_a_fitted_column_name_the_missing_columns(
    tiny_project: Path, tmp_path: Path
) -> None:
    train = pd.read_csv(tiny_project / "train.csv").assign(x1x2=lambda f: f.x1 * f.x2)
    folder = model_folder(tmp_path / "m", fit_on(train, ["x1", "x1x2"]), ["x1"])
    with pytest.raises(DataError, match=r"^eval data: columns the model was fitted on are missing: x1x2$"):
        score_model(folder, pd.read_csv(tiny_project / "eval.csv"), load_config(tiny_project / "mlops.yaml"))
