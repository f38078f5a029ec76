"""Evaluation metrics for binary, multiclass and regression models, plain and under row weights.

Every metric is computed from integer row weights: ``compute_metrics`` uses a weight of one per row and
the paired bootstrap (``mlops_actions.domain.stats``) uses the multinomial counts of each resample, so a weight
of 3 means the same as the row appearing three times. The values agree with scikit-learn:

- precision, recall and F1 follow ``zero_division=0``; the macro averages run over the classes present in
  ``y_true`` or in the predicted labels; balanced accuracy averages the recall of the classes present in
  ``y_true``.
- roc_auc and pr_auc (average precision) are one-vs-rest macro averages for multiclass; they are nan
  (undefined) when a class has no positive rows, and roc_auc also when a class has no negative rows.
- log_loss clips the probability of the true class to ``[eps, 1 - eps]`` (float64 machine epsilon).
- brier is the mean of ``(p - y)**2`` for binary and the mean over rows of the sum over classes of the
  squared one-hot differences for multiclass (scikit-learn's ``brier_score_loss`` with its default scaling).
- r2 is nan when ``y_true`` is constant (scikit-learn's ``force_finite=False`` convention for 0/0).
- mape is a fraction (0.1 = 10 %) over the rows whose target is not zero: rows with a zero target have no
  defined percentage error and are left out; nan when every target is zero.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mlops_actions.domain.metric_names import BINARY, METRICS, MULTICLASS, REGRESSION, TASKS
from mlops_actions.errors import DataError

_LABEL_METRICS = frozenset(name for name, info in METRICS.items() if info.needs == "labels")
_EPS = float(np.finfo(np.float64).eps)
# Confusion counts come from one-hot columns in a matrix product up to this many classes, and from a
# segmented sum over rows ordered by (true, predicted) class above it.
_MAX_CLASSES_FOR_ONE_HOT = 4
# From this many rows on, weights are permuted through a one-byte copy when they all fit one: a gather from a
# table a quarter the size stays in cache.
_NARROW_GATHER_ROWS = 1 << 19
# Weights (resamples x rows) that a ranking metric evaluates at once: its intermediates then fit in cache.
_RANKING_ELEMENTS = 1 << 17


@dataclass
class Predictions:
    """A model's outputs on the evaluation rows, aligned with y_true."""

    labels: np.ndarray | None = None  # classification: predicted class index 0..K-1 (int), shape (n,)
    scores: np.ndarray | None = None  # probabilities: binary -> (n,) P(class 1); multiclass -> (n, K)
    values: np.ndarray | None = None  # regression predictions, shape (n,)


def compute_metrics(
    names: Sequence[str],
    task: str,
    y_true: np.ndarray,
    predictions: Predictions,
    n_classes: int | None = None,
) -> dict[str, float]:
    """The named metrics of the predictions against y_true, in the order given."""
    evaluator = MetricEvaluator(names, task, y_true, predictions, n_classes)
    values = evaluator.evaluate(np.ones((1, evaluator.n_rows), dtype=np.int64))
    return {name: float(values[name][0]) for name in evaluator.names}


def check_metric_names(names: Sequence[str], task: str) -> list[str]:
    """The names without duplicates; a DataError for an unknown task, an unknown metric or one that does not apply."""
    if task not in TASKS:
        raise DataError(f"unknown task '{task}', expected one of: {', '.join(TASKS)}")
    unique = list(dict.fromkeys(names))
    if not unique:
        raise DataError("no metrics requested")
    for name in unique:
        info = METRICS.get(name)
        if info is None:
            raise DataError(f"unknown metric '{name}', expected one of: {', '.join(METRICS)}")
        if task not in info.tasks:
            raise DataError(f"metric '{name}' does not apply to a {task} task")
    return unique


class MetricEvaluator:
    """One model's metrics, prepared once and then evaluated under many integer row-weight vectors.

    ``evaluate(weights)`` takes weights of shape (r, n) and returns, for each metric, an array of r values:
    the metric on the evaluation rows repeated as many times as their weight says.
    """

    def __init__(
        self,
        names: Sequence[str],
        task: str,
        y_true: np.ndarray,
        predictions: Predictions,
        n_classes: int | None = None,
    ):
        self.names = check_metric_names(names, task)
        self.task = task
        needs = {METRICS[name].needs for name in self.names}
        self._columns: list[np.ndarray] = []
        self._column_of: dict[str, int] = {}
        self._add_column("rows", np.ones(len(np.asarray(y_true))))
        self._rankings: list[_Ranking] = []
        self._code_order: np.ndarray | None = None
        self._code_starts: np.ndarray | None = None
        self._code_present: np.ndarray | None = None

        if task == REGRESSION:
            y = _float_vector(y_true, "y_true")
            self.n_rows = len(y)
            self.n_classes: int | None = None
            values = _float_vector(_needed(predictions.values, "values", self.names), "predicted values")
            _check_length(values, self.n_rows, "predicted values")
            self._prepare_regression(y, values)
        else:
            y_int = _class_vector(y_true, "y_true")
            self.n_rows = len(y_int)
            labels = scores = None
            if "labels" in needs:
                labels = _class_vector(_needed(predictions.labels, "labels", self.names), "predicted labels")
                _check_length(labels, self.n_rows, "predicted labels")
            if "scores" in needs:
                scores = _float_array(_needed(predictions.scores, "scores", self.names), "predicted scores")
            self.n_classes = _resolve_classes(task, n_classes, y_int, labels, scores)
            if scores is not None:
                scores = _check_scores(scores, task, self.n_classes, self.n_rows)
            self._prepare_classification(y_int, labels, scores)
        self._matrix = np.column_stack(self._columns)
        self._columns = []

    # -- preparation -------------------------------------------------------------------------------------

    def _add_column(self, key: str, column: np.ndarray) -> None:
        self._column_of[key] = len(self._columns)
        self._columns.append(np.asarray(column, dtype=np.float64))

    def _prepare_regression(self, y: np.ndarray, values: np.ndarray) -> None:
        error = values - y
        centred = y - y.mean()
        nonzero = y != 0
        self._add_column("squared_error", error * error)
        self._add_column("absolute_error", np.abs(error))
        self._add_column("centred", centred)
        self._add_column("centred_squared", centred * centred)
        self._add_column("nonzero", nonzero)
        percentage = np.zeros_like(y)
        np.divide(np.abs(error), np.abs(y), out=percentage, where=nonzero)
        self._add_column("percentage_error", percentage)

    def _prepare_classification(
        self, y: np.ndarray, labels: np.ndarray | None, scores: np.ndarray | None
    ) -> None:
        k = self.n_classes
        assert k is not None
        if labels is not None:
            codes = y * k + labels
            if k <= _MAX_CLASSES_FOR_ONE_HOT:
                for code in range(k * k):
                    self._add_column(f"code{code}", codes == code)
            else:
                counts = np.bincount(codes, minlength=k * k)
                self._code_order = np.argsort(codes, kind="stable")
                self._code_present = np.flatnonzero(counts)
                self._code_starts = (np.cumsum(counts) - counts)[self._code_present]
        if scores is not None:
            rows = np.arange(self.n_rows)
            binary_scores = scores.ndim == 1
            true_probability = np.where(y == 1, scores, 1.0 - scores) if binary_scores else scores[rows, y]
            if "log_loss" in self.names:
                self._add_column("log_loss", -np.log(np.clip(true_probability, _EPS, 1.0 - _EPS)))
            if "brier" in self.names:
                if scores.ndim == 1:
                    brier = (scores - y) ** 2
                else:
                    one_hot = np.zeros_like(scores)
                    one_hot[rows, y] = 1.0
                    brier = ((scores - one_hot) ** 2).sum(axis=1)
                self._add_column("brier", brier)
            if "roc_auc" in self.names or "pr_auc" in self.names:
                if scores.ndim == 1:
                    self._rankings = [_Ranking(y == 1, scores)]
                else:
                    self._rankings = [_Ranking(y == c, scores[:, c]) for c in range(k)]

    # -- evaluation --------------------------------------------------------------------------------------

    @property
    def columns(self) -> np.ndarray:
        """Per-row quantities (n, k) whose weighted sums the metrics need."""
        return self._matrix

    @property
    def row_order(self) -> np.ndarray | None:
        """An order of the rows in which weights make evaluation cheapest (the first ranking's), if any."""
        return self._rankings[0].order if self._rankings else None

    def reordered(self, order: np.ndarray) -> MetricEvaluator:
        """This evaluator for the same rows held in another order: row ``order[j]`` becomes row j."""
        place = np.empty(self.n_rows, dtype=np.intp)
        place[order] = np.arange(self.n_rows)
        moved = copy.copy(self)
        moved._matrix = self._matrix[order]
        if self._code_order is not None:
            moved._code_order = place[self._code_order]
        moved._rankings = [ranking.reordered(place) for ranking in self._rankings]
        return moved

    def evaluate(self, weights: np.ndarray, column_sums: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Each metric under each row of integer weights (shape (r, n)) as an array of r values.

        ``column_sums`` may pass ``weights @ columns`` when the caller has already computed it.
        """
        weights = np.asarray(weights)
        if weights.ndim != 2 or weights.shape[1] != self.n_rows or weights.dtype.kind not in "iu":
            raise ValueError(
                f"weights must be integers of shape (r, {self.n_rows}), got {weights.dtype} {weights.shape}"
            )
        sums = weights.astype(np.float64) @ self._matrix if column_sums is None else column_sums
        rows = self._column(sums, "rows")
        want_auc, want_ap = "roc_auc" in self.names, "pr_auc" in self.names
        rankings = [ranking.evaluate(weights, rows, want_auc, want_ap) for ranking in self._rankings]
        return self._metrics(sums, rankings, weights)

    @property
    def kernel_ready(self) -> bool:
        """Whether ``evaluate_statistics`` covers every metric (not for confusion counts of many classes)."""
        return self._code_order is None

    @property
    def ranking_arrays(self) -> list[RankingArrays]:
        """Each ranking's arrays, for computing its weighted statistics elsewhere (the bootstrap's kernel)."""
        return [ranking.arrays() for ranking in self._rankings]

    def evaluate_statistics(
        self,
        column_sums: np.ndarray,
        twice_auc: np.ndarray,
        negative_weight: np.ndarray,
        positive_weight: np.ndarray,
        ap_numerator: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """Each metric from r resamples' weighted column sums (r, k) and each ranking's statistics (r, rankings).

        The statistics are those ``ranking_arrays`` define: twice the ROC AUC numerator, the weight of the
        negatives and of the positives, and the average precision numerator. Equals ``evaluate(weights)``.
        """
        if not self.kernel_ready:
            raise ValueError("these metrics need the weights themselves: use evaluate(weights)")
        rankings = [
            _ranking_ratios(twice_auc[:, q], ap_numerator[:, q], positive_weight[:, q], negative_weight[:, q])
            for q in range(len(self._rankings))
        ]
        return self._metrics(column_sums, rankings, None)

    def _metrics(
        self,
        sums: np.ndarray,
        rankings: Sequence[tuple[np.ndarray | None, np.ndarray | None]],
        weights: np.ndarray | None,
    ) -> dict[str, np.ndarray]:
        rows = self._column(sums, "rows")
        results: dict[str, np.ndarray] = {}
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.task == REGRESSION:
                results.update(self._regression_metrics(sums, rows))
            else:
                if any(name in _LABEL_METRICS for name in self.names):
                    results.update(self._label_metrics(self._confusion(weights, sums)))
                for name in ("log_loss", "brier"):
                    if name in self._column_of:
                        results[name] = self._column(sums, name) / rows
                results.update(self._ranking_metrics(rankings))
        return {name: results[name] for name in self.names}

    def _column(self, sums: np.ndarray, key: str) -> np.ndarray:
        return sums[:, self._column_of[key]]

    def _regression_metrics(self, sums: np.ndarray, rows: np.ndarray) -> dict[str, np.ndarray]:
        squared = self._column(sums, "squared_error")
        centred = self._column(sums, "centred")
        centred_squared = self._column(sums, "centred_squared")
        total_squares = centred_squared - centred * centred / rows
        # Rounding leaves a tiny positive remainder when the target is constant: that is 0/0, undefined.
        constant = total_squares <= 1e-12 * centred_squared
        r2 = np.where(constant, np.nan, 1.0 - squared / np.where(constant, 1.0, total_squares))
        nonzero = self._column(sums, "nonzero")
        return {
            "rmse": np.sqrt(squared / rows),
            "mae": self._column(sums, "absolute_error") / rows,
            "r2": r2,
            "mape": np.where(nonzero > 0, self._column(sums, "percentage_error") / nonzero, np.nan),
        }

    def _confusion(self, weights: np.ndarray | None, sums: np.ndarray) -> np.ndarray:
        """Weighted confusion counts, shape (r, true class, predicted class)."""
        k = self.n_classes
        assert k is not None
        r = sums.shape[0]
        if self._code_order is None:
            first = self._column_of["code0"]
            counts = sums[:, first : first + k * k]
        else:
            assert self._code_starts is not None and self._code_present is not None and weights is not None
            ordered = weights.take(self._code_order, axis=1)
            counts = np.zeros((r, k * k), dtype=np.float64)
            counts[:, self._code_present] = np.add.reduceat(ordered, self._code_starts, axis=1)
        return counts.reshape(r, k, k)

    def _label_metrics(self, confusion: np.ndarray) -> dict[str, np.ndarray]:
        true_count = confusion.sum(axis=2)
        predicted_count = confusion.sum(axis=1)
        hits = np.diagonal(confusion, axis1=1, axis2=2)
        total = true_count.sum(axis=1)
        recall = _ratio(hits, true_count)
        precision = _ratio(hits, predicted_count)
        f1 = _ratio(2.0 * hits, true_count + predicted_count)
        in_truth = true_count > 0
        present = in_truth | (predicted_count > 0)
        n_present = present.sum(axis=1)
        results = {
            "accuracy": hits.sum(axis=1) / total,
            "balanced_accuracy": (recall * in_truth).sum(axis=1) / in_truth.sum(axis=1),
            "precision_macro": (precision * present).sum(axis=1) / n_present,
            "recall_macro": (recall * present).sum(axis=1) / n_present,
            "f1_macro": (f1 * present).sum(axis=1) / n_present,
        }
        if self.task == BINARY:
            results.update(precision=precision[:, 1], recall=recall[:, 1], f1=f1[:, 1])
        return {name: value for name, value in results.items() if name in self.names}

    def _ranking_metrics(
        self, rankings: Sequence[tuple[np.ndarray | None, np.ndarray | None]]
    ) -> dict[str, np.ndarray]:
        if not rankings:
            return {}
        want_auc = "roc_auc" in self.names
        want_ap = "pr_auc" in self.names
        aucs: list[np.ndarray] = []
        aps: list[np.ndarray] = []
        for auc, ap in rankings:
            if auc is not None:
                aucs.append(auc)
            if ap is not None:
                aps.append(ap)
        results = {}
        # A mean over classes is nan when any class is undefined, as the metric itself is then undefined.
        if want_auc:
            results["roc_auc"] = np.mean(aucs, axis=0)
        if want_ap:
            results["pr_auc"] = np.mean(aps, axis=0)
        return results


class _Ranking:
    """Rows split into positives and negatives, each sorted by score: weighted ROC AUC and average precision.

    For positive row i with weight w_i, let below_i be the weight of negatives scored lower, tied_i the weight
    of negatives with the same score, and tp_i / fp_i the weight of positives / negatives scored at least as
    high. Then ROC AUC = sum(w_i * (below_i + tied_i / 2)) / (P * N) and average precision =
    sum(w_i * tp_i / (tp_i + fp_i)) / P, which is scikit-learn's step-wise sum over distinct thresholds.
    """

    def __init__(self, positive: np.ndarray, scores: np.ndarray):
        negative_rows = np.flatnonzero(~positive)
        positive_rows = np.flatnonzero(positive)
        negative_rows = negative_rows[np.argsort(scores[negative_rows], kind="stable")]
        positive_rows = positive_rows[np.argsort(scores[positive_rows], kind="stable")]
        order = np.concatenate([negative_rows, positive_rows])
        self.order: np.ndarray | None = None if np.array_equal(order, np.arange(len(order))) else order
        self.n_negative = len(negative_rows)
        negative_scores = scores[negative_rows]
        positive_scores = scores[positive_rows]
        self.negatives_below = np.searchsorted(negative_scores, positive_scores, side="left")
        negatives_not_above = np.searchsorted(negative_scores, positive_scores, side="right")
        self.cross_ties = bool(np.any(negatives_not_above != self.negatives_below))
        self.negatives_not_above = negatives_not_above if self.cross_ties else None
        positives_below = np.searchsorted(positive_scores, positive_scores, side="left")
        self.positive_ties = bool(np.any(positives_below != np.arange(len(positive_rows))))
        self.positives_below = positives_below if self.positive_ties else None

    def reordered(self, place: np.ndarray) -> _Ranking:
        """This ranking for the rows held in another order: row i moves to place[i]."""
        moved = copy.copy(self)
        order = place if self.order is None else place[self.order]
        moved.order = None if np.array_equal(order, np.arange(len(order))) else order
        return moved

    def evaluate(
        self, weights: np.ndarray, rows: np.ndarray, want_auc: bool, want_ap: bool
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """ROC AUC and average precision (each when wanted) under weights (r, n) with row totals rows (r,).

        The resamples go through in groups small enough that a group's intermediate arrays stay in cache.
        """
        r, n = weights.shape
        auc = np.empty(r) if want_auc else None
        ap = np.empty(r) if want_ap else None
        step = max(1, _RANKING_ELEMENTS // max(n, 1))
        for first in range(0, r, step):
            group = slice(first, min(r, first + step))
            group_auc, group_ap = self._evaluate_group(weights[group], rows[group], want_auc, want_ap)
            if auc is not None and group_auc is not None:
                auc[group] = group_auc
            if ap is not None and group_ap is not None:
                ap[group] = group_ap
        return auc, ap

    def _evaluate_group(
        self, weights: np.ndarray, rows: np.ndarray, want_auc: bool, want_ap: bool
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        r = weights.shape[0]
        ordered = weights if self.order is None else permuted_counts(weights, self.order)
        negative_weights = ordered[:, : self.n_negative]
        positive_weights = ordered[:, self.n_negative :]
        # Cumulative weights never exceed the total weight, which fits the weights' own integer type.
        negative_cumulative = np.zeros((r, self.n_negative + 1), dtype=weights.dtype)
        np.cumsum(negative_weights, axis=1, out=negative_cumulative[:, 1:])
        n_negative = negative_cumulative[:, -1].astype(np.int64)
        n_positive = rows.astype(np.int64) - n_negative
        below = negative_cumulative.take(self.negatives_below, axis=1)
        auc = ap = None
        if want_auc:
            if self.negatives_not_above is None:
                twice_numerator = 2 * np.einsum("ij,ij->i", positive_weights, below, dtype=np.int64)
            else:
                not_above = negative_cumulative.take(self.negatives_not_above, axis=1)
                twice_numerator = np.einsum("ij,ij->i", positive_weights, below, dtype=np.int64)
                twice_numerator += np.einsum("ij,ij->i", positive_weights, not_above, dtype=np.int64)
            auc = _auc_ratio(twice_numerator, n_positive, n_negative)
        if want_ap:
            # First the weight of positives scored lower than each positive row (an exclusive cumulative
            # sum, or by tie group), then in place the weight of positives scored at least as high.
            true_positives = np.cumsum(positive_weights, axis=1, dtype=weights.dtype)
            if self.positives_below is None:
                np.subtract(true_positives, positive_weights, out=true_positives)
            else:
                padded = np.zeros((r, true_positives.shape[1] + 1), dtype=weights.dtype)
                padded[:, 1:] = true_positives
                true_positives = padded.take(self.positives_below, axis=1)
            np.subtract(n_positive.astype(weights.dtype)[:, None], true_positives, out=true_positives)
            # All weight scored at least as high, in place of `below`. It is at least the row's own weight,
            # so it is 0 only where the row has no weight and contributes nothing: make it 1 there.
            predicted_positives = below
            np.subtract(n_negative.astype(weights.dtype)[:, None], below, out=predicted_positives)
            np.add(predicted_positives, true_positives, out=predicted_positives)
            np.maximum(predicted_positives, 1, out=predicted_positives)
            precision = np.divide(true_positives, predicted_positives)
            ap = _defined_ratio(np.einsum("ij,ij->i", precision, positive_weights), n_positive)
        return auc, ap

    def arrays(self) -> RankingArrays:
        """The arrays that define this ranking's weighted statistics (ties or not)."""
        n_positive = len(self.negatives_below)
        return RankingArrays(
            order=self.order,
            n_negative=self.n_negative,
            negatives_below=self.negatives_below,
            negatives_not_above=(
                self.negatives_below if self.negatives_not_above is None else self.negatives_not_above
            ),
            positives_below=np.arange(n_positive) if self.positives_below is None else self.positives_below,
        )


@dataclass(frozen=True)
class RankingArrays:
    """One ranking's rows and its positives' placements, in the terms of ``_Ranking``.

    ``order`` (None: the identity) lists the rows negatives first, each class by ascending score. For the
    i-th positive, ``negatives_below[i]`` / ``negatives_not_above[i]`` count the negatives scored lower / not
    higher, and ``positives_below[i]`` the positives scored lower. Under weights w, with C the cumulative
    weight of the negatives (C[0] = 0) and D that of the positives (D[0] = 0), N and P their totals:
    twice the ROC AUC numerator is sum(w_i * (C[negatives_below[i]] + C[negatives_not_above[i]])), and the
    average precision numerator sum(w_i * tp_i / max(1, N - C[negatives_below[i]] + tp_i)) with
    tp_i = P - D[positives_below[i]].
    """

    order: np.ndarray | None
    n_negative: int
    negatives_below: np.ndarray
    negatives_not_above: np.ndarray
    positives_below: np.ndarray


def _ranking_ratios(
    twice_auc: np.ndarray, ap_numerator: np.ndarray, n_positive: np.ndarray, n_negative: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """ROC AUC and average precision from a ranking's weighted statistics (nan where undefined)."""
    return _auc_ratio(twice_auc, n_positive, n_negative), _defined_ratio(ap_numerator, n_positive)


def _auc_ratio(twice_auc: np.ndarray, n_positive: np.ndarray, n_negative: np.ndarray) -> np.ndarray:
    return _defined_ratio(twice_auc, 2 * n_positive * n_negative)


def permuted_counts(weights: np.ndarray, order: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``weights.take(order, axis=-1)`` (into ``out`` when given) for non-negative integer weights."""
    if weights.shape[-1] >= _NARROW_GATHER_ROWS and weights.max(initial=0) <= np.iinfo(np.uint8).max:
        narrow = weights.astype(np.uint8).take(order, axis=-1)
        if out is None:
            return narrow.astype(weights.dtype)
        np.copyto(out, narrow)
        return out
    return weights.take(order, axis=-1, out=out)


def _defined_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, nan (undefined) where the denominator is 0."""
    out = np.full(np.shape(numerator), np.nan)
    return np.divide(numerator, denominator, out=out, where=denominator > 0)


# -- validation helpers ---------------------------------------------------------------------------------


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (scikit-learn's zero_division=0)."""
    out = np.zeros(np.broadcast(numerator, denominator).shape)
    return np.divide(numerator, denominator, out=out, where=denominator > 0)


def _needed(array: np.ndarray | None, kind: str, names: list[str]) -> np.ndarray:
    if array is None:
        needing = [name for name in names if METRICS[name].needs == kind]
        what = {
            "labels": "predicted labels",
            "scores": "predicted probabilities",
            "values": "predicted values",
        }
        raise DataError(f"metric '{needing[0]}' needs {what[kind]} (predictions.{kind}), which are missing")
    return array


def _check_length(array: np.ndarray, n_rows: int, what: str) -> None:
    if len(array) != n_rows:
        raise DataError(f"{what} have {len(array)} rows but y_true has {n_rows}")


def _float_array(array: np.ndarray, what: str) -> np.ndarray:
    try:
        values = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} must be numbers ({exc})") from None
    if values.size and not np.all(np.isfinite(values)):
        raise DataError(f"{what} contain NaN or infinite values")
    return values


def _float_vector(array: np.ndarray, what: str) -> np.ndarray:
    values = _float_array(array, what)
    if values.ndim != 1:
        raise DataError(f"{what} must be one-dimensional, got shape {values.shape}")
    if len(values) == 0:
        raise DataError(f"{what} is empty: no evaluation rows")
    return values


def _class_vector(array: np.ndarray, what: str) -> np.ndarray:
    values = _float_vector(array, what)
    as_int = values.astype(np.int64)
    if np.any(as_int != values) or np.any(as_int < 0):
        raise DataError(f"{what} must hold class indices 0..K-1 (non-negative integers)")
    return as_int


def _resolve_classes(
    task: str,
    n_classes: int | None,
    y: np.ndarray,
    labels: np.ndarray | None,
    scores: np.ndarray | None,
) -> int:
    seen = int(y.max()) + 1
    if labels is not None:
        seen = max(seen, int(labels.max()) + 1)
    if task == BINARY:
        if n_classes not in (None, 2):
            raise DataError(f"a binary task has 2 classes, not n_classes={n_classes}")
        if seen > 2:
            raise DataError("y_true and predicted labels of a binary task must be 0 or 1")
        return 2
    assert task == MULTICLASS
    if scores is not None and scores.ndim == 2:
        seen = max(seen, scores.shape[1])
    if n_classes is None:
        return max(seen, 2)
    if seen > n_classes:
        raise DataError(f"class index {seen - 1} is out of range for n_classes={n_classes}")
    return n_classes


def _check_scores(scores: np.ndarray, task: str, n_classes: int, n_rows: int) -> np.ndarray:
    if task == BINARY and scores.ndim == 2 and scores.shape[1] == 2:
        scores = scores[:, 1]  # predict_proba output: keep P(class 1)
    if task == BINARY and scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    expected = (n_rows,) if task == BINARY else (n_rows, n_classes)
    if scores.shape != expected:
        raise DataError(f"predicted probabilities must have shape {expected}, got {scores.shape}")
    if scores.size and (scores.min() < 0.0 or scores.max() > 1.0):
        raise DataError("predicted probabilities must lie in [0, 1]")
    return scores
