"""Cross-fitting's fold assignment and pooling: deterministic, order-free, stratified, every row held out once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_actions.domain.config import Config, parse_config
from mlops_actions.domain.cross_fit import (
    assign_folds,
    fold_files,
    pool_out_of_fold,
    pooled_rows,
    too_few_rows,
    write_folds,
)
from mlops_actions.domain.datasets import Datasets
from mlops_actions.domain.evaluation import Scored
from mlops_actions.domain.metrics import Predictions
from mlops_actions.errors import DataError


def config_for(
    tmp_path: Path, *, task: str = "binary", id_column: str | None = "row_id", seed: int = 0
) -> Config:
    data: dict[str, object] = {"train": "train.csv", "eval": "eval.csv", "target": "label"}
    if id_column:
        data["id"] = id_column
    doc = {
        "version": 1,
        "model": {"name": "m", "task": task},
        "train": {"entrypoint": "m:train"},
        "data": data,
        "metrics": {"primary": "roc_auc" if task == "binary" else "rmse"},
        "gate": {"seed": seed, "evaluation": "cross_fit", "folds": 5},
    }
    return parse_config(doc, tmp_path / "mlops.yaml")


def table(rows: int, *, positives: float = 0.2, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "row_id": [f"r{i:05d}" for i in range(rows)],
            "x": rng.normal(size=rows),
            "label": (rng.random(rows) < positives).astype(int),
        }
    )


def folds_by_id(frame: pd.DataFrame, config: Config, folds: int = 5) -> dict[str, int]:
    return dict(zip(frame["row_id"], assign_folds(frame, config, folds).tolist(), strict=True))


def test_fold_assignment_is_the_same_in_every_run_and_for_any_row_order(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    frame = table(500)
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    assert folds_by_id(frame, config) == folds_by_id(frame, config) == folds_by_id(shuffled, config)


def test_fold_assignment_without_an_id_follows_the_row_content_not_its_position(tmp_path: Path) -> None:
    config = config_for(tmp_path, id_column=None)
    frame = table(300)
    shuffled = frame.sample(frac=1.0, random_state=5).reset_index(drop=True)
    assert folds_by_id(frame, config) == folds_by_id(shuffled, config)


def test_another_gate_seed_deals_other_folds(tmp_path: Path) -> None:
    frame = table(500)
    assert folds_by_id(frame, config_for(tmp_path, seed=0)) != folds_by_id(
        frame, config_for(tmp_path, seed=1)
    )


def test_classifier_folds_are_stratified_by_target_and_balanced(tmp_path: Path) -> None:
    frame = table(1003, positives=0.07)
    assignment = assign_folds(frame, config_for(tmp_path), 5)
    for label in (0, 1):
        counts = np.bincount(assignment[frame["label"].to_numpy() == label], minlength=5)
        assert counts.max() - counts.min() <= 1
    assert np.bincount(assignment, minlength=5).max() - np.bincount(assignment, minlength=5).min() <= 2


def test_regression_folds_are_balanced(tmp_path: Path) -> None:
    frame = table(101).assign(label=lambda f: f["x"] * 2.0)
    counts = np.bincount(assign_folds(frame, config_for(tmp_path, task="regression"), 4), minlength=4)
    assert counts.max() - counts.min() <= 1


def test_every_row_is_held_out_exactly_once_and_trains_the_other_folds(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    frame = table(240)
    plan = write_folds(frame, assign_folds(frame, config, 3), 3, tmp_path / "folds")
    held = np.concatenate([fold.heldout for fold in plan.folds])
    assert sorted(held.tolist()) == list(range(240))
    for fold in plan.folds:
        heldout = pd.read_csv(fold.heldout_file)
        trained = pd.read_csv(fold.train_file)
        assert heldout["row_id"].tolist() == frame["row_id"].iloc[fold.heldout].tolist()
        assert set(trained["row_id"]) == set(frame["row_id"]) - set(heldout["row_id"])
    assert fold_files(tmp_path / "folds") == [(f.train_file, f.heldout_file) for f in plan.folds]


def test_a_folder_without_fold_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"fold-1-train\.csv"):
        fold_files(tmp_path)


def test_pooled_rows_are_the_train_then_the_eval_rows(tmp_path: Path) -> None:
    frame = table(30)
    datasets = Datasets(train=frame.iloc[:20], eval=frame.iloc[20:], fingerprints={}, split=None)
    rows = pooled_rows(datasets, config_for(tmp_path))
    assert isinstance(rows, pd.DataFrame) and rows["row_id"].tolist() == frame["row_id"].tolist()


def test_an_id_in_both_train_and_eval_cannot_be_cross_fitted(tmp_path: Path) -> None:
    frame = table(30)
    datasets = Datasets(train=frame.iloc[:20], eval=frame.iloc[15:], fingerprints={}, split=None)
    reason = pooled_rows(datasets, config_for(tmp_path))
    assert reason == "data.id 'r00015' is in both the train and the eval rows, so rows cannot be paired by id"


def test_a_class_with_a_single_row_or_too_few_rows_cannot_be_cross_fitted(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    frame = table(50).assign(label=0)
    frame.loc[7, "label"] = 1
    assert (
        too_few_rows(frame, config, 5)
        == "class '1' has a single row, so some fold's training rows would lack it"
    )
    assert too_few_rows(table(9), config, 5) == "9 train + eval rows are too few for 5 folds"
    assert too_few_rows(table(50, positives=0.5), config, 5) is None


def test_pooled_predictions_go_back_to_their_rows_in_the_pooled_order(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    frame = table(60, positives=0.5)
    plan = write_folds(frame, assign_folds(frame, config, 3), 3, tmp_path / "folds")
    truth = np.linspace(0.0, 1.0, 60)  # a score per pooled row, to see where each lands
    parts = [
        Scored(
            task="binary",
            classes=[0, 1],
            row_keys=frame["row_id"].to_numpy()[fold.heldout],
            y_true=frame["label"].to_numpy()[fold.heldout],
            predictions=Predictions(
                labels=(truth[fold.heldout] > 0.5).astype(np.int64), scores=truth[fold.heldout]
            ),
        )
        for fold in plan.folds
    ]
    pooled = pool_out_of_fold(plan, parts, config)
    assert pooled.row_keys.tolist() == frame["row_id"].tolist()
    np.testing.assert_array_equal(pooled.predictions.scores, truth)
    np.testing.assert_array_equal(pooled.y_true, frame["label"].to_numpy())
    with pytest.raises(DataError, match="fold 1: 1 rows scored"):
        short = parts[0]
        pool_out_of_fold(
            plan,
            [
                Scored("binary", [0, 1], short.row_keys[:1], short.y_true[:1], Predictions(scores=truth[:1])),
                *parts[1:],
            ],
            config,
        )
