"""The model's performance in production: measured where labels came back, estimated where they did not.

At release, the eval set's outputs are stored as ``eval-outputs.json`` (:func:`build_eval_outputs`): their
profile on the bins the monitor bins outputs on (so a window's outputs compare with it), per-class score
histograms, the release-time metrics with bootstrap intervals, and, for a binary classifier, a calibration
summary (reliability bins and the expected calibration error).

Per window, :class:`PerformanceCollector` keeps only what the check needs: the labelled rows (label,
prediction, scores), and for the estimate a fixed histogram of the positive class's score (rows and score
sum per bin) and two sums. With labels, the configured metrics get bootstrap intervals and their change
against release; a judged metric fails when its whole interval lies worse than release by more than
``monitor.performance.allowed_drop``. Without labels, a binary classifier's accuracy and ROC AUC are estimated
as NannyML's CBPE does: with calibrated scores p, a row predicted positive is right with probability p and
a negative one with 1 - p, so the expected accuracy is their mean; the expected true- and false-positive
counts above each threshold (sums of p and 1 - p) trace the expected ROC curve. The estimate holds only if
the scores are calibrated and P(label | score) did not change (no concept shift); it is trusted only when the
eval set's calibration error is at most ``monitor.performance.max_calibration_error``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.domain.data.chunks.columns import CategoricalColumn, NumericColumn, as_text
from mlops_actions.domain.metric_names import BINARY, METRICS, REGRESSION
from mlops_actions.errors import DataError
from mlops_actions.monitoring.columns import PROBA_PREFIX, PROBABILITY, Columns
from mlops_actions.monitoring.result import FAIL, INSUFFICIENT, OK, WARN, Finding
from mlops_actions.monitoring.windows import window_starts

if TYPE_CHECKING:
    import numpy as np

    from mlops_actions.domain.config import PerformanceSettings
    from mlops_actions.domain.data.profile import Profile
    from mlops_actions.domain.metrics import Predictions
    from mlops_actions.monitoring.labels import Labels

EVAL_OUTPUTS_FILE = "eval-outputs.json"
EVAL_OUTPUTS_FORMAT = "mlops-actions/eval-outputs"
EVAL_OUTPUTS_VERSION = 1
SCORE_BINS = 20  # per-class score histograms
RELIABILITY_BINS = 10  # calibration summary
ESTIMATE_BINS = 1000  # the estimate's score histogram per window
CONFIDENCE = 0.95
Z_95 = 1.959963984540054
ESTIMATED = ("accuracy", "roc_auc")
ASSUMPTIONS = (
    "no concept shift: P(label | score) is as on the eval set",
    "calibrated scores: among rows scored p, a share p is positive",
)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def probability_column(value: Any) -> str:
    """The log column of a class's probability (as the server's log flattens it)."""
    return PROBA_PREFIX + as_text(value)


@dataclass(frozen=True)
class Calibration:
    """Reliability bins of a binary classifier's positive score: equal-width bins on [0, 1], each with its
    rows, mean score and observed positive rate; and the expected calibration error (their weighted gap)."""

    bins: list[dict[str, Any]]
    ece: float
    rows: int


def calibration(y_true: np.ndarray, scores: np.ndarray, bins: int = RELIABILITY_BINS) -> Calibration:
    """The calibration summary of positive scores ``scores`` against 0/1 labels ``y_true``."""
    import numpy as np

    y = np.asarray(y_true, dtype=np.float64)
    p = np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
    index = np.minimum((p * bins).astype(np.intp), bins - 1)
    rows = np.bincount(index, minlength=bins)
    score_sums = np.bincount(index, weights=p, minlength=bins)
    positives = np.bincount(index, weights=y, minlength=bins)
    summary, gap = [], 0.0
    for b in range(bins):
        if rows[b] == 0:
            summary.append({"low": b / bins, "high": (b + 1) / bins, "rows": 0})
            continue
        mean, rate = score_sums[b] / rows[b], positives[b] / rows[b]
        gap += rows[b] * abs(rate - mean)
        summary.append(
            {
                "low": b / bins,
                "high": (b + 1) / bins,
                "rows": int(rows[b]),
                "mean_score": mean,
                "positive_rate": rate,
            }
        )
    total = int(rows.sum())
    return Calibration(summary, gap / total if total else math.nan, total)


@dataclass(frozen=True)
class EvalOutputs:
    """A version's eval-set outputs (``eval-outputs.json``), see the module docstring."""

    task: str
    classes: list[str] | None
    rows: int
    profile: Profile
    metrics: dict[str, dict[str, float | None]]  # name -> value, low, high
    score_histograms: dict[str, Any] = field(default_factory=dict)
    calibration: Calibration | None = None

    @property
    def dtypes(self) -> dict[str, str]:
        """The output columns and their dtypes, as the monitor's output bins name them."""
        return {name: column.dtype for name, column in self.profile.columns.items()}

    def to_dict(self) -> dict[str, Any]:
        from mlops_actions.domain.data.profile import profile_to_dict

        return {
            "format": EVAL_OUTPUTS_FORMAT,
            "version": EVAL_OUTPUTS_VERSION,
            "task": self.task,
            "classes": self.classes,
            "rows": self.rows,
            "profile": profile_to_dict(self.profile),
            "metrics": self.metrics,
            "score_histograms": self.score_histograms,
            "calibration": None
            if self.calibration is None
            else {
                "bins": self.calibration.bins,
                "ece": _finite(self.calibration.ece),
                "rows": self.calibration.rows,
            },
        }


def eval_outputs_from_dict(data: Any, origin: str = EVAL_OUTPUTS_FILE) -> EvalOutputs:
    """Rebuild EvalOutputs from its JSON form; a DataError names what is malformed."""
    from mlops_actions.domain.data.profile import profile_from_dict

    if not isinstance(data, dict) or data.get("format") != EVAL_OUTPUTS_FORMAT:
        raise DataError(f"{origin}: not an mlops-actions eval-outputs file (format '{EVAL_OUTPUTS_FORMAT}')")
    if data.get("version") != EVAL_OUTPUTS_VERSION:
        raise DataError(f"{origin}: unsupported eval-outputs version {data.get('version')!r}, expected 1")
    try:
        found = data.get("calibration")
        ece = None if found is None else found["ece"]
        return EvalOutputs(
            task=str(data["task"]),
            classes=None if data["classes"] is None else [str(c) for c in data["classes"]],
            rows=int(data["rows"]),
            profile=profile_from_dict(data["profile"], origin),
            metrics={str(k): dict(v) for k, v in data["metrics"].items()},
            score_histograms=dict(data.get("score_histograms") or {}),
            calibration=None
            if found is None
            else Calibration(
                list(found["bins"]), math.nan if ece is None else float(ece), int(found["rows"])
            ),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise DataError(f"{origin}: malformed eval-outputs file ({error})") from None


def load_eval_outputs(path: str | Path) -> EvalOutputs:
    """Read ``eval-outputs.json``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: cannot read eval outputs ({error})") from None
    return eval_outputs_from_dict(data, str(path))


def _output_columns(task: str, classes: list[str] | None, predictions: Predictions, rows: int) -> Columns:
    """The eval predictions as the log columns the monitor reads (prediction, proba_<class>)."""
    import numpy as np

    prediction: NumericColumn | CategoricalColumn
    probabilities: dict[str, np.ndarray] = {}
    if task == REGRESSION:
        assert predictions.values is not None
        prediction = NumericColumn(np.asarray(predictions.values, dtype=np.float64), "float")
    else:
        assert classes is not None and predictions.labels is not None
        prediction = CategoricalColumn(
            np.asarray(predictions.labels, dtype=np.int64), list(classes), "string"
        )
        scores = predictions.scores
        if scores is not None:
            scores = np.asarray(scores, dtype=np.float64)
            if scores.ndim == 1:
                probabilities = {
                    probability_column(classes[0]): 1.0 - scores,
                    probability_column(classes[1]): scores,
                }
            else:
                probabilities = {probability_column(c): scores[:, i] for i, c in enumerate(classes)}
    return Columns(
        rows=rows,
        times=np.zeros(rows, dtype=np.int64),
        features={},
        wrong_type={},
        prediction=prediction,
        probabilities=probabilities,
    )


def _score_histograms(classes: list[str], y_true: np.ndarray, columns: Columns) -> dict[str, Any]:
    """Per class: the histogram of its probability among rows of that class and among the others."""
    import numpy as np

    edges = np.linspace(0.0, 1.0, SCORE_BINS + 1)
    per_class = {}
    for index, name in enumerate(classes):
        scores = columns.probabilities.get(probability_column(name))
        if scores is None:
            continue
        own = np.asarray(y_true) == index
        per_class[name] = {
            "true": np.histogram(np.clip(scores[own], 0, 1), bins=edges)[0].tolist(),
            "other": np.histogram(np.clip(scores[~own], 0, 1), bins=edges)[0].tolist(),
        }
    return {"edges": edges.tolist(), "classes": per_class} if per_class else {}


def _without_values(profile: Profile) -> Profile:
    """The profile without the exact values it kept of small samples (bins and moments stay), so the file
    stays small: drift against it is measured on the bins."""
    import dataclasses

    from mlops_actions.domain.data.profile import NumericProfile

    columns = {
        name: dataclasses.replace(column, values=None) if isinstance(column, NumericProfile) else column
        for name, column in profile.columns.items()
    }
    return dataclasses.replace(profile, columns=columns)


def build_eval_outputs(
    task: str,
    classes: list[Any] | None,
    y_true: np.ndarray,
    predictions: Predictions,
    metric_names: list[str] | tuple[str, ...],
    *,
    resamples: int = 200,
    seed: int = 0,
) -> EvalOutputs:
    """The eval set's outputs of a model (class indices ``y_true`` in ``classes`` order; see the module
    docstring)."""
    from mlops_actions.domain.stats import bootstrap_interval
    from mlops_actions.monitoring.accumulate import output_bins

    rows = len(y_true)
    names = [as_text(c) for c in classes] if classes is not None else None
    columns = _output_columns(task, names, predictions, rows)
    profile = _without_values(output_bins(columns).binning)
    intervals = bootstrap_interval(
        list(metric_names),
        task,
        y_true,
        predictions,
        n_classes=None if names is None else len(names),
        resamples=resamples,
        confidence=CONFIDENCE,
        seed=seed,
    )
    metrics = {
        name: {"value": _finite(value), "low": _finite(low), "high": _finite(high)}
        for name, (value, low, high) in intervals.items()
    }
    histograms = _score_histograms(names, y_true, columns) if names is not None else {}
    summary = None
    if task == BINARY and predictions.scores is not None:
        summary = calibration(y_true, predictions.scores)
    return EvalOutputs(task, names, rows, profile, metrics, histograms, summary)


# -- the estimate ----------------------------------------------------------------------------------------


@dataclass
class ScoreSums:
    """One window's positive scores, summed: rows and score sum per fixed bin, and the expected correct
    predictions (with the sum of their variances, for the accuracy's interval)."""

    counts: np.ndarray
    score_sums: np.ndarray
    correct: float = 0.0
    correct_variance: float = 0.0

    @classmethod
    def empty(cls) -> ScoreSums:
        import numpy as np

        return cls(np.zeros(ESTIMATE_BINS, dtype=np.int64), np.zeros(ESTIMATE_BINS))

    @property
    def rows(self) -> int:
        return int(self.counts.sum())

    def add(self, scores: np.ndarray, predicted_positive: np.ndarray) -> None:
        """Add rows' positive scores (finite ones) and whether each was predicted positive."""
        import numpy as np

        keep = np.isfinite(scores)
        p = np.clip(scores[keep], 0.0, 1.0)
        index = np.minimum((p * ESTIMATE_BINS).astype(np.intp), ESTIMATE_BINS - 1)
        self.counts += np.bincount(index, minlength=ESTIMATE_BINS)
        self.score_sums += np.bincount(index, weights=p, minlength=ESTIMATE_BINS)
        right = np.where(predicted_positive[keep], p, 1.0 - p)
        self.correct += float(right.sum())
        self.correct_variance += float((right * (1.0 - right)).sum())

    def merge(self, other: ScoreSums) -> ScoreSums:
        """The sums of both windows' rows (every sum added)."""
        return ScoreSums(
            self.counts + other.counts,
            self.score_sums + other.score_sums,
            self.correct + other.correct,
            self.correct_variance + other.correct_variance,
        )

    def estimate(self) -> dict[str, dict[str, float | None]]:
        """Expected accuracy (with a normal interval of its sampling error) and expected ROC AUC."""
        import numpy as np

        rows = self.rows
        if rows == 0:
            return {}
        accuracy = self.correct / rows
        half = Z_95 * math.sqrt(self.correct_variance) / rows
        positives = self.score_sums[::-1]
        negatives = (self.counts - self.score_sums)[::-1]
        tp = np.concatenate([[0.0], np.cumsum(positives)])
        fp = np.concatenate([[0.0], np.cumsum(negatives)])
        auc = math.nan
        if tp[-1] > 0 and fp[-1] > 0:
            tpr, fpr = tp / tp[-1], fp / fp[-1]
            auc = float(np.sum((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1]) / 2.0))
        return {
            "accuracy": {
                "value": accuracy,
                "low": max(0.0, accuracy - half),
                "high": min(1.0, accuracy + half),
            },
            "roc_auc": {"value": _finite(auc), "low": None, "high": None},
        }


# -- per window ------------------------------------------------------------------------------------------


@dataclass
class LabelledRows:
    """The labelled rows of one window: labels, predictions and the probability columns (parts)."""

    labels: list[np.ndarray] = field(default_factory=list)
    predictions: list[np.ndarray] = field(default_factory=list)
    scores: list[dict[str, np.ndarray]] = field(default_factory=list)
    # where each part was read: (origin, first line of its chunk, time of its first row, its first row)
    positions: list[tuple[str, int, int, int]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(len(part) for part in self.labels)

    def merge(self, other: LabelledRows) -> LabelledRows:
        """Both windows' labelled rows, the parts in read order (by their positions: the bootstrap resamples
        rows by their index, so the order is the one a read in order gives, whatever the merge order)."""
        parts = sorted(
            zip(
                self.positions + other.positions,
                self.labels + other.labels,
                self.predictions + other.predictions,
                self.scores + other.scores,
                strict=True,
            ),
            key=lambda part: part[0],
        )
        return LabelledRows(
            labels=[part[1] for part in parts],
            predictions=[part[2] for part in parts],
            scores=[part[3] for part in parts],
            positions=[part[0] for part in parts],
        )


def _prediction_values(column: Any) -> np.ndarray:
    """A log prediction column as numbers (regression) or texts (None where missing)."""
    import numpy as np

    if isinstance(column, NumericColumn):
        return column.values
    names = np.array([*column.names(), None], dtype=object)
    return names[np.where(column.codes >= 0, column.codes, len(names) - 1)]


def _predicted_as(column: Any, name: str) -> np.ndarray:
    """Which rows a log prediction column predicts as class ``name`` (compared on the codes)."""
    import numpy as np

    if isinstance(column, CategoricalColumn):
        names = column.names()
        return column.codes == names.index(name) if name in names else np.zeros(len(column.codes), dtype=bool)
    return np.asarray(_prediction_values(column) == name, dtype=bool)


@dataclass
class PerformancePartial:
    """What the performance check collected from some rows: per window the labelled rows and the score
    sums, the labelled rows counted, the probability columns seen. Partials merge in any order (sums and
    counts added, labelled rows put in read order); the labelled rows themselves travel with the partial,
    so an engine brings every labelled row to the driver (labels are few beside the logs)."""

    labelled: dict[int, LabelledRows] = field(default_factory=dict)
    sums: dict[int, ScoreSums] = field(default_factory=dict)
    matched: int = 0
    probability_names: frozenset[str] = frozenset()

    def merge(self, other: PerformancePartial) -> PerformancePartial:
        """The partial of both partials' rows."""
        labelled = dict(self.labelled)
        for start, rows in other.labelled.items():
            labelled[start] = labelled[start].merge(rows) if start in labelled else rows
        sums = dict(self.sums)
        for start, found in other.sums.items():
            sums[start] = sums[start].merge(found) if start in sums else found
        return PerformancePartial(
            labelled=labelled,
            sums=sums,
            matched=self.matched + other.matched,
            probability_names=self.probability_names | other.probability_names,
        )


@dataclass
class PerformanceCollector:
    """Collects, chunk by chunk, what the performance check of each window needs (module docstring)."""

    task: str
    length: int
    settings: PerformanceSettings
    metric_names: tuple[str, ...]
    judged: tuple[str, ...]
    labels: Labels | None = None
    outputs: EvalOutputs | None = None
    labelled: dict[int, LabelledRows] = field(default_factory=dict)
    sums: dict[int, ScoreSums] = field(default_factory=dict)
    matched: int = 0
    probability_names: set[str] = field(default_factory=set)

    @property
    def estimable(self) -> bool:
        """Whether the estimate applies: a binary classifier whose eval outputs have a calibration summary
        from at least ``min_eval_rows`` rows, with the estimate on."""
        o = self.outputs
        return (
            self.settings.estimate
            and self.task == BINARY
            and o is not None
            and o.calibration is not None
            and o.classes is not None
            and len(o.classes) == 2
            and o.calibration.rows >= self.settings.min_eval_rows
        )

    @property
    def applies(self) -> bool:
        """Whether windows get a performance finding (labels given, or the estimate applies)."""
        return self.labels is not None or self.estimable

    def basis(self) -> str:
        """One line: what the performance check rests on."""
        if self.labels is not None:
            basis = (
                f"{self.matched} logged rows labelled from {len(self.labels.files)} label file(s) "
                f"({self.labels.rows} labels, joined by {self.labels.column})"
            )
            return basis + ("; estimated (CBPE) where a window has too few" if self.estimable else "")
        if self.estimable:
            assert self.outputs is not None
            return f"estimated from the scores (CBPE), checked against the eval outputs ({self.outputs.rows} rows)"
        if not self.settings.estimate:
            return "none (no labels; the estimate is off: monitor.performance.estimate)"
        if self.task != BINARY:
            return f"none (no labels; the estimate is for binary classifiers, this is {self.task})"
        if self.outputs is None or self.outputs.calibration is None:
            return f"none (no labels, and the version has no {EVAL_OUTPUTS_FILE} to check calibration)"
        return (
            f"none (no labels; calibration checked on {self.outputs.calibration.rows} eval rows, fewer than "
            f"monitor.performance.min_eval_rows {self.settings.min_eval_rows})"
        )

    def _positive_scores(self, columns: Columns) -> np.ndarray | None:
        assert self.outputs is not None and self.outputs.classes is not None
        negative, positive = self.outputs.classes
        found = columns.probabilities.get(probability_column(positive))
        if found is None:
            found = columns.probabilities.get(PROBABILITY)
        if found is None and probability_column(negative) in columns.probabilities:
            found = 1.0 - columns.probabilities[probability_column(negative)]
        return found

    def partial(self) -> PerformancePartial:
        """What the collector holds, as a mergeable partial."""
        return PerformancePartial(
            dict(self.labelled), dict(self.sums), self.matched, frozenset(self.probability_names)
        )

    def absorb(self, partial: PerformancePartial) -> None:
        """Take a (merged) partial as the collector's state, to judge the windows from it."""
        self.labelled = dict(partial.labelled)
        self.sums = dict(partial.sums)
        self.matched = partial.matched
        self.probability_names = set(partial.probability_names)

    def add(
        self,
        table: Any,
        columns: Columns,
        kept: np.ndarray | None,
        position: tuple[str, int] | None = None,
    ) -> None:
        """Add a chunk: ``columns`` are its normalised rows, ``kept`` the table rows they are (None: all);
        ``position`` (origin, first line) says where the chunk was read, to merge partials in read order."""
        import numpy as np

        if not self.applies or columns.rows == 0:
            return
        self.probability_names.update(columns.probabilities)
        starts = window_starts(columns.times, self.length)
        if self.estimable:
            scores = self._positive_scores(columns)
            if scores is not None:
                assert self.outputs is not None and self.outputs.classes is not None
                predicted = _predicted_as(columns.prediction, self.outputs.classes[1])
                for start in np.unique(starts).tolist():
                    rows = starts == start
                    self.sums.setdefault(start, ScoreSums.empty()).add(scores[rows], predicted[rows])
        if self.labels is None:
            return
        keys = self.labels.keys_of(table)
        if keys is None:
            return
        if kept is not None:
            keys = keys[kept]
        values = self.labels.values
        found = np.array([values.get(k) if k is not None else None for k in keys], dtype=object)
        hit = np.flatnonzero([value is not None for value in found])
        if len(hit) == 0:
            return
        self.matched += len(hit)
        predictions = _prediction_values(columns.prediction)
        for start in np.unique(starts[hit]).tolist():
            rows = hit[starts[hit] == start]
            part = self.labelled.setdefault(start, LabelledRows())
            part.labels.append(found[rows])
            part.predictions.append(predictions[rows])
            part.scores.append({name: values_[rows] for name, values_ in columns.probabilities.items()})
            if position is not None:
                part.positions.append((position[0], position[1], int(columns.times[rows[0]]), int(rows[0])))

    # -- judging --

    def finding(self, start: int) -> Finding | None:
        """The performance finding of the window starting at ``start`` (None when the check does not apply)."""
        if not self.applies:
            return None
        rows = self.labelled.get(start)
        labelled = rows.rows if rows is not None else 0
        if self.labels is not None and labelled >= self.settings.min_labelled_rows:
            assert rows is not None
            return self._measured(rows)
        note = (
            f"{labelled} labelled rows, fewer than monitor.performance.min_labelled_rows "
            f"({self.settings.min_labelled_rows})"
            if self.labels is not None
            else None
        )
        if self.estimable:
            return self._estimated(self.sums.get(start), note)
        return Finding(
            "performance",
            INSUFFICIENT,
            (note or "no labelled rows",),
            {"mode": "measured", "labelled_rows": labelled},
            self._thresholds(),
        )

    def _thresholds(self) -> dict[str, float]:
        return {
            "allowed_drop": self.settings.allowed_drop,
            "min_labelled_rows": self.settings.min_labelled_rows,
            "max_calibration_error": self.settings.max_calibration_error,
        }

    def _release(self, name: str) -> float | None:
        if self.outputs is None:
            return None
        value = (self.outputs.metrics.get(name) or {}).get("value")
        return None if value is None else float(value)

    def _judge(self, metrics: dict[str, dict[str, Any]], names: tuple[str, ...]) -> tuple[str, list[str]]:
        """Each judged metric's change against release: fail when confidently worse than the allowed drop,
        warn when only its value is."""
        status, problems = OK, []
        allowed = self.settings.allowed_drop
        for name in names:
            entry = metrics.get(name)
            if entry is None or entry.get("release") is None or entry.get("value") is None:
                continue
            higher = METRICS[name].higher_is_better
            release = entry["release"]
            value = entry["value"]
            best = entry["high"] if higher else entry["low"]
            best = value if best is None else best
            worse_by = (release - value) if higher else (value - release)
            best_worse_by = (release - best) if higher else (best - release)
            if best_worse_by > allowed:
                status = FAIL
                problems.append(
                    f"{name} {value:.3f} (95% interval to {best:.3f}), {worse_by:.3f} worse than at release "
                    f"({release:.3f}), more than {allowed:g}"
                )
            elif worse_by > allowed:
                status = WARN if status != FAIL else status
                problems.append(
                    f"{name} {value:.3f} is {worse_by:.3f} worse than at release ({release:.3f}), "
                    f"not confidently beyond {allowed:g}"
                )
        return status, problems

    def _with_release(self, metrics: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, entry in metrics.items():
            release = self._release(name)
            entry["release"] = release
            value = entry.get("value")
            entry["change"] = None if release is None or value is None else value - release
            for bound in ("low", "high"):
                found = entry.get(bound)
                entry[f"change_{bound}"] = None if release is None or found is None else found - release
        return metrics

    def _classes(self) -> list[str]:
        if self.outputs is not None and self.outputs.classes is not None:
            return list(self.outputs.classes)
        seen = {name[len(PROBA_PREFIX) :] for name in self.probability_names if name.startswith(PROBA_PREFIX)}
        for rows in self.labelled.values():
            for part in (*rows.labels, *rows.predictions):
                seen.update(str(v) for v in part if v is not None)
        return sorted(seen)

    def _measured(self, rows: LabelledRows) -> Finding:
        import numpy as np

        from mlops_actions.domain.metrics import Predictions
        from mlops_actions.domain.stats import bootstrap_interval

        labels = np.concatenate(rows.labels)
        predicted = np.concatenate(rows.predictions)
        figures: dict[str, Any] = {"mode": "measured", "labelled_rows": len(labels)}
        problems: list[str] = []
        names = list(self.metric_names)
        if self.task == REGRESSION:
            y = labels.astype(np.float64)
            values = predicted.astype(np.float64)
            keep = np.isfinite(values)
            predictions = Predictions(values=values[keep])
            y = y[keep]
        else:
            classes = self._classes()
            index = {c: i for i, c in enumerate(classes)}
            y = np.array([index.get(v, -1) for v in labels], dtype=np.int64)
            guessed = np.array([index.get(v, -1) if v is not None else -1 for v in predicted], dtype=np.int64)
            columns = [probability_column(c) for c in classes]
            have = all(any(c in part for part in rows.scores) for c in columns)
            scores = None
            keep = (y >= 0) & (guessed >= 0)
            if have:
                stacked = np.column_stack(
                    [
                        np.concatenate(
                            [
                                part.get(c, np.full(len(lab), np.nan))
                                for part, lab in zip(rows.scores, rows.labels, strict=True)
                            ]
                        )
                        for c in columns
                    ]
                )
                keep &= np.isfinite(stacked).all(axis=1)
                scores = stacked[keep][:, 1] if self.task == BINARY else stacked[keep]
            else:
                names = [n for n in names if METRICS[n].needs != "scores"]
            unknown = int(np.count_nonzero(y < 0))
            if unknown:
                figures["unknown_labels"] = unknown
            predictions = Predictions(labels=guessed[keep], scores=scores)
            y = y[keep]
        figures["scored_rows"] = len(y)
        metrics: dict[str, dict[str, Any]] = {}
        if len(y) and names:
            try:
                intervals = bootstrap_interval(
                    names,
                    self.task,
                    y,
                    predictions,
                    n_classes=None if self.task == REGRESSION else len(self._classes()),
                    resamples=self.settings.resamples,
                    confidence=CONFIDENCE,
                )
            except DataError as error:
                return Finding(
                    "performance", WARN, (f"metrics not computed: {error}",), figures, self._thresholds()
                )
            metrics = {
                n: {"value": _finite(v), "low": _finite(lo), "high": _finite(hi)}
                for n, (v, lo, hi) in intervals.items()
            }
        figures["metrics"] = self._with_release(metrics)
        figures["judged"] = list(self.judged)
        status, found = self._judge(metrics, self.judged)
        problems += found
        return Finding("performance", status, tuple(problems), figures, self._thresholds())

    def _estimated(self, sums: ScoreSums | None, note: str | None) -> Finding:
        assert self.outputs is not None and self.outputs.calibration is not None
        ece = self.outputs.calibration.ece
        bound = self.settings.max_calibration_error
        trusted = math.isfinite(ece) and ece <= bound
        metrics = self._with_release(sums.estimate() if sums is not None else {})
        judged = tuple(n for n in self.judged if n in ESTIMATED) or ESTIMATED
        figures: dict[str, Any] = {
            "mode": "estimated",
            "method": "CBPE (confidence-based performance estimation)",
            "scored_rows": 0 if sums is None else sums.rows,
            "metrics": metrics,
            "judged": list(judged),
            "assumptions": list(ASSUMPTIONS),
            "calibration": {
                "ece": _finite(ece),
                "eval_rows": self.outputs.calibration.rows,
                "trusted": trusted,
            },
        }
        if note:
            figures["note"] = note
        if not metrics:
            return Finding(
                "performance",
                INSUFFICIENT,
                (note or "no finite scores to estimate from",),
                figures,
                self._thresholds(),
            )
        if not trusted:
            reason = (
                f"estimate not trusted: the eval set's calibration error {ece:.3f} exceeds "
                f"monitor.performance.max_calibration_error {bound:g}"
            )
            return Finding("performance", WARN, (reason,), figures, self._thresholds())
        status, problems = self._judge(metrics, judged)
        return Finding(
            "performance", status, tuple(f"estimated {p}" for p in problems), figures, self._thresholds()
        )
