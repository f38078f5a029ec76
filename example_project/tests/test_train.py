"""Tests of the training entrypoint: determinism, parameters, and safe loading with skops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import yaml

from credit_model.train import train_model

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample() -> tuple[pd.DataFrame, pd.Series]:
    rows = pd.read_csv(PROJECT / "data" / "train.csv", nrows=1_500)
    return rows.drop(columns=["loan_id", "defaulted"]), rows["defaulted"]


def test_training_twice_gives_the_same_predictions(sample):
    X, y = sample
    first = train_model(X, y, {}).predict_proba(X)
    second = train_model(X, y, {}).predict_proba(X)
    np.testing.assert_array_equal(first, second)


def test_params_reach_the_model(sample):
    X, y = sample
    pipeline = train_model(X, y, {"C": 0.5, "max_iter": 300})
    assert pipeline.named_steps["model"].C == 0.5
    assert pipeline.named_steps["model"].max_iter == 300


def test_unknown_param_is_refused(sample):
    X, y = sample
    with pytest.raises(ValueError, match="unknown training params: n_estimators"):
        train_model(X, y, {"n_estimators": 10})


def test_saved_model_loads_trusting_only_the_types_listed_in_mlops_yaml(sample, tmp_path):
    X, y = sample
    pipeline = train_model(X, y, {})
    path = tmp_path / "model.skops"
    sio.dump(pipeline, path)
    config = yaml.safe_load((PROJECT / "mlops.yaml").read_text(encoding="utf-8"))
    untrusted = sio.get_untrusted_types(file=path)
    assert set(untrusted) <= set(config["train"]["trusted_types"])
    loaded = sio.load(path, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))
