"""Cross-fitted comparison (``gate.evaluation: cross_fit``): every train + eval row becomes a paired eval row.

The train and eval rows are pooled and split into ``gate.folds`` folds by a seeded hash of each row's id
(``data.id``, else the row's content), so a row keeps its fold whatever the order of the files; for a
classifier the folds are stratified by target (within each class, rows sorted by hash are dealt to the folds
in turn). Candidate code and baseline code are each trained on the other k - 1 folds and score the held-out
fold; the held-out predictions, pooled, are two out-of-fold ``Scored`` over the same rows, compared as any
paired eval set. With ``gate.repeats`` r > 1 this is done r times, each repetition with its own assignment
(the hash keyed by gate.seed and the repetition; repetition 0's key is the single cross-fit's, so its folds
never move), and the r out-of-fold sets are stacked: r x n paired rows, repetition by repetition.

Why stack, not average: every stacked row is a genuine prediction of one fold model, so every metric keeps
its meaning (stacked accuracy is the mean of the repetitions' accuracies; ROC AUC ranks pairs across fold
models, as pooling the folds of one repetition already does), and slices simply repeat with their rows.
Averaging a row's r predictions would score an ensemble that no code under test trained (averaged
probabilities rank better than any single model's, averaged labels are not labels).

Variance: Nadeau and Bengio's corrected resampled variance, in Bouckaert and Frank's form for repeated
k-fold, applied to the paired bootstrap. Call s**2 the variance one row adds to the delta; one fold's
estimate (n / k rows) has sigma**2 = k s**2 / n. The bootstrap of the r n stacked rows takes them as
independent, so it sees s**2 / (r n) = sigma**2 / (k r): blind to the training sets' overlap (each row trains
k - 2 of the other folds' models, so the fold estimates correlate) and to the repetitions' reuse of the same
rows. The corrected variance (1 / (k r) + n_test / n_train) sigma**2, with n_test / n_train = 1 / (k - 1),
accounts for both; relative to the bootstrap it is the factor 1 + k r / (k - 1) on the variance,
``cross_fit_inflation(k, r)`` = sqrt(1 + k r / (k - 1)) on the spread of the bootstrap deltas. The reported
standard error is then sqrt(1 / r + k / (k - 1)) * s / sqrt(n): repetitions shrink only the 1 / r term, and
even for many repetitions it stays above s / sqrt(n), the sampling of the n distinct rows that no repetition
removes. For r = 2, k = 5 it is 12% below a single cross-fit's (k = 10: 13%).

It is chosen over a bootstrap over folds because k (2..20) is too few folds for a bootstrap of them, and
over a plain t-test over folds because it keeps the row-level bootstrap (intervals for every metric and
slice) the holdout gate uses. ``benchmarks/bench_cross_fit.py`` measures it on example_project. Comparing two
codes (C = 0.01 and C = 1) on 20 fresh data sets, k = 5, r = 1, the spread of the cross-fitted ROC AUC delta
was 0.00070, the pooled bootstrap's standard error 0.00118 and the corrected one 0.00177: conservative there
(a factor 0.6 would have sufficed), while the holdout bootstrap's 0.00236 was below its spread of 0.00294.
With a noise-degraded candidate on fresh eval rows the corrected standard error (0.00148) matched the spread
across trials (0.00143, 200 trials). Repeated twice (the default), the two codes' spread was 0.00071 against a
corrected standard error of 0.00160 (bootstrap 0.00086), and the power for a 0.5-point ROC AUC regression
rose from 77% to 88% (200 trials; a third repetition added nothing). The noise candidate, whose degradation of
a row is the same in every repetition, is the case least favourable to repeating: its spread stayed 0.00142
while the corrected standard error fell to 0.00129, 9% below it. The correction is kept: it is the published
one, and it must also hold for learners less stable than this logistic regression, whose training sets'
overlap weighs more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.domain.config import Config
from mlops_actions.domain.datasets import Datasets, row_keys

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops_actions.domain.evaluation import Scored

NADEAU_BENGIO = "nadeau-bengio"  # the variance a cross-fitted comparison reports for one repetition
BOUCKAERT_FRANK = "bouckaert-frank"  # ... and for several (corrected repeated k-fold)


@dataclass(frozen=True)
class Fold:
    """One fold of one repetition: the files of the rows its models train on and of the rows they score."""

    index: int  # 0 .. folds * repeats - 1, repetition by repetition: the file number less one
    train_file: Path
    heldout_file: Path
    heldout: np.ndarray  # positions of the held-out rows in the pooled rows
    repeat: int = 0  # the repetition (fold assignment) it belongs to


@dataclass(frozen=True)
class FoldPlan:
    """The pooled train + eval rows, the fold of each in every repetition, and the folds' files."""

    rows: pd.DataFrame
    assignments: np.ndarray  # (repeats, rows): the fold index of every pooled row in each repetition
    folds: list[Fold]  # every repetition's folds, repetition by repetition

    @property
    def repeats(self) -> int:
        return len(self.assignments)

    def label(self, fold: Fold) -> str:
        """'fold 3', or 'repetition 2 fold 3' when there are several repetitions."""
        within = f"fold {fold.index - fold.repeat * (len(self.folds) // self.repeats) + 1}"
        return within if self.repeats == 1 else f"repetition {fold.repeat + 1} {within}"


def pooled_rows(datasets: Datasets, config: Config) -> pd.DataFrame | str:
    """The train rows then the eval rows as one table, or why they cannot be cross-fitted."""
    import pandas as pd

    if set(datasets.train.columns) != set(datasets.eval.columns):
        differ = sorted(set(datasets.train.columns) ^ set(datasets.eval.columns), key=str)
        return f"the train and eval rows have different columns ({', '.join(map(str, differ[:5]))})"
    rows = pd.concat([datasets.train, datasets.eval[list(datasets.train.columns)]], ignore_index=True)
    if config.id_column:
        repeated = rows[config.id_column].astype(str).duplicated()
        if repeated.any():
            value = rows[config.id_column].astype(str)[repeated].iloc[0]
            return f"data.id {value!r} is in both the train and the eval rows, so rows cannot be paired by id"
    return rows


def fold_hash_key(seed: int, repeat: int) -> str:
    """The 16-character key of the row hash that deals repetition ``repeat``'s folds; repetition 0's is the
    key of a single cross-fit, so its folds do not move when repetitions are added."""
    if repeat == 0:
        return f"{seed:016d}"[-16:]
    return f"{seed:011d}"[-11:] + f"r{repeat:04d}"


def assign_folds(rows: pd.DataFrame, config: Config, folds: int, repeat: int = 0) -> np.ndarray:
    """The fold (0..folds-1) of every row in repetition ``repeat``: a hash of its id (else its content) seeded
    by gate.seed and the repetition, stratified by target for a classifier; the same rows in any order get the
    same folds."""
    import numpy as np
    import pandas as pd

    key = fold_hash_key(config.seed, repeat)
    if config.id_column and config.id_column in rows.columns:
        hashed = pd.util.hash_pandas_object(rows[config.id_column].astype(str), index=False, hash_key=key)
    else:
        hashed = pd.util.hash_pandas_object(rows, index=False, hash_key=key)
    hashes = hashed.to_numpy(dtype=np.uint64)
    groups = (
        rows[config.target].astype(str).to_numpy()
        if config.is_classification
        else np.zeros(len(rows), dtype=int)
    )
    assignment = np.empty(len(rows), dtype=np.int64)
    for value in np.unique(groups):
        members = np.flatnonzero(groups == value)
        ranked = members[np.argsort(hashes[members], kind="stable")]
        assignment[ranked] = np.arange(len(ranked)) % folds
    return assignment


def too_few_rows(rows: pd.DataFrame, config: Config, folds: int) -> str | None:
    """Why ``rows`` cannot be split into ``folds`` folds whose training rows hold every class, else None."""
    if len(rows) < 2 * folds:
        return f"{len(rows)} train + eval rows are too few for {folds} folds"
    if config.is_classification:
        counts = rows[config.target].astype(str).value_counts()
        rare = counts[counts < 2]
        if len(rare):
            return f"class {rare.index[0]!r} has a single row, so some fold's training rows would lack it"
    return None


def write_folds(rows: pd.DataFrame, assignments: np.ndarray, folds: int, directory: Path) -> FoldPlan:
    """Write each fold's training rows (the other folds) and held-out rows as CSV files in ``directory``,
    numbered on across repetitions (``fold_files`` reads them back); ``assignments`` is one repetition's fold
    per row, or a (repeats, rows) array."""
    import numpy as np

    assignments = np.atleast_2d(assignments)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Fold] = []
    for repeat, assignment in enumerate(assignments):
        for within in range(folds):
            index = repeat * folds + within
            heldout = np.flatnonzero(assignment == within)
            train_file = directory / f"fold-{index + 1}-train.csv"
            heldout_file = directory / f"fold-{index + 1}-heldout.csv"
            rows[assignment != within].to_csv(train_file, index=False)
            rows.iloc[heldout].to_csv(heldout_file, index=False)
            written.append(
                Fold(index, train_file=train_file, heldout_file=heldout_file, heldout=heldout, repeat=repeat)
            )
    return FoldPlan(rows=rows, assignments=assignments, folds=written)


def plan_folds(datasets: Datasets, config: Config, directory: Path) -> FoldPlan | str:
    """Pool, assign and write the folds of ``config.folds`` in each of ``config.repeats`` repetitions; or why
    the rows cannot be cross-fitted."""
    import numpy as np

    rows = pooled_rows(datasets, config)
    if isinstance(rows, str):
        return rows
    problem = too_few_rows(rows, config, config.folds)
    if problem:
        return problem
    assignments = np.stack([assign_folds(rows, config, config.folds, j) for j in range(config.repeats)])
    return write_folds(rows, assignments, config.folds, directory)


def pool_out_of_fold(plan: FoldPlan, scored: Sequence[Scored], config: Config) -> Scored:
    """One ``Scored`` of repeats x pooled rows, from each fold's held-out predictions: repetition by
    repetition, each in the pooled order (so a row and its slice values recur once per repetition)."""
    import numpy as np

    from mlops_actions.domain.evaluation import Scored
    from mlops_actions.domain.metrics import Predictions
    from mlops_actions.errors import DataError

    if len(scored) != len(plan.folds):
        raise ValueError(f"expected {len(plan.folds)} scored folds, got {len(scored)}")
    first = scored[0]
    n = len(plan.rows)
    stacked = n * plan.repeats

    def pooled(values: Sequence[np.ndarray | None]) -> np.ndarray | None:
        if any(v is None for v in values):
            return None
        shape = (stacked, *values[0].shape[1:])  # type: ignore[union-attr]
        out = np.empty(shape, dtype=np.result_type(*values))
        for fold, value in zip(plan.folds, values, strict=True):
            out[fold.repeat * n + fold.heldout] = value
        return out

    for fold, part in zip(plan.folds, scored, strict=True):
        if part.rows != len(fold.heldout):
            raise DataError(
                f"{plan.label(fold)}: {part.rows} rows scored, expected its {len(fold.heldout)} held-out rows"
            )
        if list(map(str, part.classes or [])) != list(map(str, first.classes or [])):
            raise DataError(
                f"{plan.label(fold)}: classes {part.classes} differ from fold 1's {first.classes}"
            )
    slices = {
        column: pooled([part.slices.get(column) for part in scored])
        for column in first.slices
        if all(column in part.slices for part in scored)
    }
    predictions = Predictions(
        labels=pooled([p.predictions.labels for p in scored]),
        scores=pooled([p.predictions.scores for p in scored]),
        values=pooled([p.predictions.values for p in scored]),
    )
    y_true = pooled([p.y_true for p in scored])
    assert y_true is not None
    return Scored(
        task=first.task,
        classes=first.classes,
        row_keys=np.tile(row_keys(plan.rows, config), plan.repeats),
        y_true=y_true,
        predictions=predictions,
        slices={column: values for column, values in slices.items() if values is not None},
        model_digest=None,
        metadata=dict(first.metadata),
    )


def out_of_fold(plan: FoldPlan, config: Config, score_fold: Callable[[Fold], Scored]) -> Scored:
    """Out-of-fold predictions over every pooled row: ``score_fold`` trains on a fold's training rows and
    returns its predictions of the held-out rows."""
    return pool_out_of_fold(plan, [score_fold(fold) for fold in plan.folds], config)


def fold_files(directory: Path) -> list[tuple[Path, Path]]:
    """The (training rows, held-out rows) files of each fold in ``directory``, as ``write_folds`` names them."""
    pairs: list[tuple[Path, Path]] = []
    while True:
        index = len(pairs) + 1
        train_file, heldout_file = (
            directory / f"fold-{index}-train.csv",
            directory / f"fold-{index}-heldout.csv",
        )
        if not (train_file.is_file() and heldout_file.is_file()):
            break
        pairs.append((train_file, heldout_file))
    if len(pairs) < 2:
        from mlops_actions.errors import DataError

        raise DataError(
            f"{directory}: expected fold-1-train.csv, fold-1-heldout.csv, ... for at least 2 folds"
        )
    return pairs


def train_and_score_fold(
    config: Config, index: int, train_file: Path, heldout_file: Path, model_dir: Path
) -> Scored:
    """Train ``config``'s code on ``train_file`` (into ``model_dir``) and score ``heldout_file``; the data files
    are the only change to ``config``, so its trusted types and code are used as they are."""
    from dataclasses import replace

    from mlops_actions.domain.evaluation import evaluate
    from mlops_actions.domain.training import train

    folded = replace(config, train_data=train_file, eval_data=heldout_file)
    trained = train(folded, model_dir)
    source = f"cross-fit fold {index} scoring"
    return evaluate(trained.directory, trained.datasets.eval, folded, source=source).scored


def score_folds(config: Config, folds_dir: Path, output_dir: Path) -> list[Path]:
    """Train and score every fold of ``folds_dir`` with ``config``'s code; one scored folder per fold in
    ``output_dir`` (``fold-N``, what ``load_scored`` reads), the fold models beside them."""
    from mlops_actions.domain.evaluation import save_scored

    written: list[Path] = []
    for index, (train_file, heldout_file) in enumerate(fold_files(folds_dir), start=1):
        scored = train_and_score_fold(
            config, index, train_file, heldout_file, output_dir / f"fold-{index}-model"
        )
        save_scored(scored, output_dir / f"fold-{index}")
        written.append(output_dir / f"fold-{index}")
    return written


def candidate_out_of_fold(
    config: Config, plan: FoldPlan, classes: list[Any] | None, directory: Path
) -> Scored:
    """The configured training code's out-of-fold predictions (in ``classes`` order), trained in this process."""
    from mlops_actions.domain.evaluation import align_classes

    def score(fold: Fold) -> Scored:
        index = fold.index + 1
        model_dir = directory / f"fold-{index}-model"
        return align_classes(
            train_and_score_fold(config, index, fold.train_file, fold.heldout_file, model_dir), classes
        )

    return out_of_fold(plan, config, score)


def folds_text(config: Config) -> str:
    """'5 folds', or '5 folds × 2 repeats' when the cross-fit is repeated."""
    folds = f"{config.folds} folds"
    return folds if config.repeats == 1 else f"{folds} × {config.repeats} repeats"


def evaluation_block(
    mode: str,
    *,
    folds: int | None = None,
    repeats: int | None = None,
    rows: int,
    inflation: float | None = None,
    fallback: str | None = None,
) -> dict[str, Any]:
    """The result's ``gate.evaluation``: how the compared predictions were made. ``rows`` counts the distinct
    rows; ``paired_rows`` the compared ones (repeats x rows when cross-fitted)."""
    cross_fit = mode == "cross_fit"
    repeated = repeats if cross_fit and repeats is not None else 1
    return {
        "mode": mode,
        "folds": folds,
        "repeats": repeats if cross_fit else None,
        "rows": rows,
        "paired_rows": rows * repeated,
        "variance": (NADEAU_BENGIO if repeated == 1 else BOUCKAERT_FRANK) if cross_fit else None,
        "inflation": inflation,
        "fallback": fallback,
    }
