"""Cross-fitting's fold assignment and pooling: deterministic, order-free, stratified, every row held out once
per repetition; repetitions stacked; the variance correction's factor."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_actions.domain.config import Config, parse_config
from mlops_actions.domain.cross_fit import (
    FoldPlan,
    assign_folds,
    evaluation_block,
    fold_files,
    plan_folds,
    pool_out_of_fold,
    pooled_rows,
    too_few_rows,
    write_folds,
)
from mlops_actions.domain.datasets import Datasets
from mlops_actions.domain.evaluation import Scored
from mlops_actions.domain.inference import cross_fit_inflation
from mlops_actions.domain.metrics import Predictions
from mlops_actions.errors import DataError


def config_for(
    tmp_path: Path,
    *,
    task: str = "binary",
    id_column: str | None = "row_id",
    seed: int = 0,
    repeats: int = 1,
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
        "gate": {"seed": seed, "evaluation": "cross_fit", "folds": 5, "repeats": repeats},
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


def scored_folds(frame: pd.DataFrame, plan: FoldPlan, truth: np.ndarray) -> list[Scored]:
    """Each fold's held-out rows scored ``truth[repetition * rows + row]``, as the fold models would score them."""
    parts = []
    for fold in plan.folds:
        scores = truth[fold.repeat * len(frame) + fold.heldout]
        parts.append(
            Scored(
                task="binary",
                classes=[0, 1],
                row_keys=frame["row_id"].to_numpy()[fold.heldout],
                y_true=frame["label"].to_numpy()[fold.heldout],
                predictions=Predictions(labels=(scores > 0.5).astype(np.int64), scores=scores),
                slices={"x": frame["x"].to_numpy()[fold.heldout]},
            )
        )
    return parts


def test_pooled_predictions_go_back_to_their_rows_in_the_pooled_order(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    frame = table(60, positives=0.5)
    plan = write_folds(frame, assign_folds(frame, config, 3), 3, tmp_path / "folds")
    truth = np.linspace(0.0, 1.0, 60)  # a score per pooled row, to see where each lands
    parts = scored_folds(frame, plan, truth)
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


def test_repetition_0_deals_the_folds_of_a_single_cross_fit() -> None:
    """Pinned: the folds a single cross-fit dealt before repetitions existed (seed 0, 5 folds, table(500))."""
    frame = table(500)
    config = config_for(Path("."))
    expected = [0, 2, 4, 2, 0, 3, 4, 3, 4, 0, 1, 2, 0, 1, 4, 2, 1, 3, 0, 4]
    assert assign_folds(frame, config, 5).tolist()[:20] == expected
    assert assign_folds(frame, config, 5, 0).tolist()[:20] == expected


def test_each_repetition_deals_other_folds_stratified_and_balanced(tmp_path: Path) -> None:
    frame = table(1003, positives=0.07)
    config = config_for(tmp_path)
    repetitions = [assign_folds(frame, config, 5, j) for j in range(3)]
    for j, assignment in enumerate(repetitions):
        for other in repetitions[j + 1 :]:
            assert (assignment != other).mean() > 0.6  # independent deals agree on about 1 row in 5
        for label in (0, 1):
            counts = np.bincount(assignment[frame["label"].to_numpy() == label], minlength=5)
            assert counts.max() - counts.min() <= 1


def test_every_row_is_held_out_exactly_once_in_every_repetition(tmp_path: Path) -> None:
    frame = table(240)
    datasets = Datasets(train=frame.iloc[:180], eval=frame.iloc[180:], fingerprints={}, split=None)
    plan = plan_folds(datasets, config_for(tmp_path, repeats=3), tmp_path / "folds")
    assert not isinstance(plan, str)
    assert [(fold.repeat, fold.index) for fold in plan.folds] == [
        (j, j * 5 + f) for j in range(3) for f in range(5)
    ]
    for j in range(3):
        held = np.concatenate([fold.heldout for fold in plan.folds if fold.repeat == j])
        assert sorted(held.tolist()) == list(range(240))
    assert plan.label(plan.folds[7]) == "repetition 2 fold 3"
    assert fold_files(tmp_path / "folds") == [(f.train_file, f.heldout_file) for f in plan.folds]
    single = plan_folds(datasets, config_for(tmp_path, repeats=1), tmp_path / "single")
    assert not isinstance(single, str)
    np.testing.assert_array_equal(single.assignments[0], plan.assignments[0])


def test_repetitions_are_stacked_as_repeats_times_rows_paired_rows(tmp_path: Path) -> None:
    frame = table(60, positives=0.5)
    config = config_for(tmp_path, repeats=2)
    assignments = np.stack([assign_folds(frame, config, 3, j) for j in range(2)])
    plan = write_folds(frame, assignments, 3, tmp_path / "folds")
    truth = np.linspace(0.0, 1.0, 120)  # a score per stacked row, to see where each lands
    parts = scored_folds(frame, plan, truth)
    stacked = pool_out_of_fold(plan, parts, config)
    assert stacked.rows == 120
    assert stacked.row_keys.tolist() == frame["row_id"].tolist() * 2
    np.testing.assert_array_equal(stacked.predictions.scores, truth)
    np.testing.assert_array_equal(stacked.y_true, np.tile(frame["label"].to_numpy(), 2))
    np.testing.assert_array_equal(stacked.slices["x"], np.tile(frame["x"].to_numpy(), 2))


@pytest.mark.parametrize(("folds", "repeats"), [(2, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)])
def test_the_inflation_is_bouckaert_and_franks_correction_over_the_stacked_bootstrap(
    folds: int, repeats: int
) -> None:
    # The bootstrap of repeats x n stacked rows sees sigma^2 / (k r) of one fold's variance sigma^2; the
    # corrected repeated k-fold variance is (1 / (k r) + 1 / (k - 1)) sigma^2.
    naive = 1 / (folds * repeats)
    corrected = naive + 1 / (folds - 1)
    assert cross_fit_inflation(folds, repeats) == pytest.approx(math.sqrt(corrected / naive))


def test_repetitions_shrink_the_corrected_standard_error_towards_k_over_k_minus_1() -> None:
    # The stacked rows' bootstrap se is 1 / sqrt(r) of one repetition's: the reported se, relative to one
    # repetition's uninflated se, is sqrt(1 / r + k / (k - 1)).
    def relative_se(folds: int, repeats: int) -> float:
        return cross_fit_inflation(folds, repeats) / math.sqrt(repeats)

    assert relative_se(10, 1) == pytest.approx(math.sqrt(1 + 10 / 9))
    assert relative_se(10, 2) == pytest.approx(math.sqrt(0.5 + 10 / 9))
    assert relative_se(10, 2) / relative_se(10, 1) == pytest.approx(0.8736, abs=1e-4)  # 13% less
    assert relative_se(5, 10**6) == pytest.approx(math.sqrt(5 / 4), rel=1e-5)
    assert cross_fit_inflation(5) == cross_fit_inflation(5, 1) == pytest.approx(1.5)


def test_fewer_than_2_folds_or_1_repetition_have_no_correction() -> None:
    with pytest.raises(ValueError, match="at least 2 folds"):
        cross_fit_inflation(1)
    with pytest.raises(ValueError, match="at least 1 repetition"):
        cross_fit_inflation(5, 0)


def test_the_evaluation_block_counts_distinct_and_paired_rows_and_names_the_variance() -> None:
    repeated = evaluation_block("cross_fit", folds=5, repeats=2, rows=100, inflation=1.87)
    assert repeated["repeats"] == 2 and repeated["rows"] == 100 and repeated["paired_rows"] == 200
    assert repeated["variance"] == "bouckaert-frank"
    once = evaluation_block("cross_fit", folds=5, repeats=1, rows=100, inflation=1.5)
    assert once["paired_rows"] == 100 and once["variance"] == "nadeau-bengio"
    holdout = evaluation_block("holdout", rows=100)
    assert holdout["repeats"] is None and holdout["paired_rows"] == 100 and holdout["variance"] is None
