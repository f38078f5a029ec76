"""Statistics of a model comparison: paired bootstrap intervals, McNemar's test and DeLong's test.

The bootstrap's resample r takes rows ``floor(n * u)`` for u the r-th row of
``np.random.default_rng(seed).random((resamples, n))`` (uniform doubles: each row index has probability
1/n within a relative n / 2**53). The doubles of any chunk of resamples can be drawn on their own by
advancing the generator, so chunks run on several threads and the draws do not depend on the chunking.
The resampled rows are never materialised: each resample becomes a vector of multinomial row counts, and
every metric is computed from those counts (see ``mlops_actions.domain.metrics.MetricEvaluator``). The result
equals computing the metrics on the resampled rows one resample at a time.

From 2**24 resampled elements (resamples x rows) on, a compiled kernel (``bootstrap_kernel``, numba) computes
the same statistics from the same draws in a few fused passes per resample, with counts of one byte that stay
in cache; below that, loading it would cost more than it saves. The numpy path otherwise:

The cost is a few passes over n values per resample and model; what keeps it low for large n: a thread draws
one resample at a time into arrays it reuses (fresh large arrays are zeroed page by page by the operating
system), the counts are permuted once into the first model's ranking order, the per-row columns are summed
for a whole chunk of resamples at once in blocks that stay in cache, and the ranking metrics work on a few
resamples at a time, so that their intermediate arrays stay in cache too.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from mlops_actions.domain.metrics import MetricEvaluator, Predictions, permuted_counts
from mlops_actions.errors import ConfigError, DataError

if TYPE_CHECKING:
    from mlops_actions.domain.bootstrap_kernel import CompiledBootstrap

# Elements (resamples x rows) of one chunk of weights, the unit of work of a thread: large enough that the
# per-row quantities are read once for several resamples, small enough for memory (int32, 32 MiB).
_CHUNK_ELEMENTS = 1 << 23
_CHUNKS_PER_CORE = 4
# Weighted sums go through blocks of this many resamples x rows (a float64 copy of 1 MiB, in cache).
_SUM_RESAMPLES = 16
_SUM_ROWS = 8192
_EXACT_MCNEMAR_BELOW = 25
# From this many resampled elements (resamples x rows) on, the compiled kernel computes the resamples' metrics.
_KERNEL_MIN_ELEMENTS = 1 << 24


@dataclass
class DeltaEstimate:
    """The change in one metric from the baseline to the candidate, with its paired bootstrap interval."""

    metric: str
    baseline: float  # metric on the full eval rows
    candidate: float
    delta: float  # candidate - baseline (raw, not direction-adjusted)
    ci_low: float  # paired bootstrap percentile interval of the delta
    ci_high: float
    resamples_used: int  # resamples where the metric was defined for both models
    se: float = float("nan")  # standard error of the delta: the bootstrap deltas' standard deviation
    # The bootstrap deltas (defined resamples only, after any variance inflation): p-values come from them.
    samples: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)


@dataclass
class TestResult:
    """A paired significance test of candidate against baseline."""

    __test__ = False  # not a pytest test class

    name: str  # "mcnemar" | "delong"
    statistic: float
    p_value: float
    details: dict[str, float | int | str] = field(default_factory=dict)


def paired_bootstrap(
    names: Sequence[str],
    task: str,
    y_true: np.ndarray,
    candidate: Predictions,
    baseline: Predictions,
    *,
    n_classes: int | None = None,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    inflation: float = 1.0,
) -> dict[str, DeltaEstimate]:
    """Each metric's delta (candidate - baseline) with a paired bootstrap percentile interval.

    Both models are scored on the same resampled rows. A resample where the metric is undefined for either
    model (e.g. ROC AUC with one class drawn) is left out of that metric's interval. ``inflation`` (>= 1)
    widens every bootstrap delta's distance from the observed delta by that factor before the interval, the
    standard error and the samples are taken: the variance correction of a cross-fitted comparison.
    """
    _check_bootstrap_settings(resamples, confidence, seed)
    if not (math.isfinite(inflation) and inflation >= 1.0):
        raise ConfigError(f"bootstrap variance inflation must be a finite number >= 1, got {inflation!r}")
    evaluators, points, samples = _bootstrap_samples(
        names, task, y_true, [candidate, baseline], n_classes, resamples, seed
    )
    estimates = {}
    for name in evaluators[0].names:
        candidate_value = float(points[0][name][0])
        baseline_value = float(points[1][name][0])
        delta = candidate_value - baseline_value
        deltas = samples[0][name] - samples[1][name]
        deltas = deltas[np.isfinite(deltas)]
        if inflation != 1.0 and math.isfinite(delta):
            deltas = delta + inflation * (deltas - delta)
        low, high, used = _percentile_interval(deltas, confidence)
        estimates[name] = DeltaEstimate(
            metric=name,
            baseline=baseline_value,
            candidate=candidate_value,
            delta=delta,
            ci_low=low,
            ci_high=high,
            resamples_used=used,
            se=float(np.std(deltas, ddof=1)) if used > 1 else float("nan"),
            samples=deltas,
        )
    return estimates


def bootstrap_interval(
    names: Sequence[str],
    task: str,
    y_true: np.ndarray,
    predictions: Predictions,
    *,
    n_classes: int | None = None,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[float, float, float]]:
    """Each metric of one model as (value, low, high): the value on all rows and a bootstrap percentile interval."""
    _check_bootstrap_settings(resamples, confidence, seed)
    evaluators, points, samples = _bootstrap_samples(
        names, task, y_true, [predictions], n_classes, resamples, seed
    )
    intervals = {}
    for name in evaluators[0].names:
        low, high, _ = _percentile_interval(samples[0][name], confidence)
        intervals[name] = (float(points[0][name][0]), low, high)
    return intervals


def resample_rows(seed: int, n_rows: int, start: int, count: int) -> np.ndarray:
    """The row indices (count, n_rows) of resamples start .. start + count - 1 for this seed."""
    rows = np.empty((count, n_rows), dtype=np.intp)
    generator, uniform = _resample_generator(seed, n_rows, start), np.empty(n_rows)
    for drawn in rows:
        _draw_rows(generator, uniform, drawn)
    return rows


def resample_weights(rows: np.ndarray, n_rows: int, *, place: np.ndarray | None = None) -> np.ndarray:
    """How often each row occurs in each resample: counts (r, n_rows) from row indices (r, k).

    Row i's count lands in column place[i] when ``place`` is given (rows held in another order).
    """
    weights = np.empty((rows.shape[0], n_rows), dtype=_weight_type(n_rows))
    for counts, drawn in zip(weights, rows, strict=True):
        counts[:] = np.bincount(drawn if place is None else place.take(drawn), minlength=n_rows)
    return weights


def mcnemar_test(y_true: np.ndarray, candidate_labels: np.ndarray, baseline_labels: np.ndarray) -> TestResult:
    """McNemar's test of equal accuracy on the same rows.

    b counts rows the baseline got right and the candidate wrong, c the reverse. With b + c < 25 the
    p-value is the exact two-sided binomial one (statistic min(b, c)); otherwise the chi-squared statistic
    with continuity correction, (|b - c| - 1)**2 / (b + c), on one degree of freedom.
    """
    from scipy import stats

    y = np.asarray(y_true)
    candidate = np.asarray(candidate_labels)
    baseline = np.asarray(baseline_labels)
    if not (y.shape == candidate.shape == baseline.shape) or y.ndim != 1:
        raise DataError(
            f"y_true, candidate and baseline labels must be 1-D of one length, got shapes "
            f"{y.shape}, {candidate.shape}, {baseline.shape}"
        )
    candidate_right = candidate == y
    baseline_right = baseline == y
    b = int(np.count_nonzero(baseline_right & ~candidate_right))
    c = int(np.count_nonzero(candidate_right & ~baseline_right))
    if b + c < _EXACT_MCNEMAR_BELOW:
        statistic = float(min(b, c))
        p_value = min(1.0, 2.0 * float(stats.binom.cdf(min(b, c), b + c, 0.5)))
        method = "exact"
    else:
        statistic = (abs(b - c) - 1) ** 2 / (b + c)
        p_value = float(stats.chi2.sf(statistic, 1))
        method = "chi2"
    return TestResult("mcnemar", statistic, p_value, {"b": b, "c": c, "method": method})


def delong_test(y_true: np.ndarray, candidate_scores: np.ndarray, baseline_scores: np.ndarray) -> TestResult:
    """DeLong's test of equal ROC AUC for two scores of the same binary rows (fast midrank form, Sun & Xu 2014).

    The statistic is z = (AUC_candidate - AUC_baseline) / se with a two-sided normal p-value. It is nan when
    a class has fewer than two rows.
    """
    from scipy import stats

    y = np.asarray(y_true)
    candidate = np.asarray(candidate_scores, dtype=np.float64)
    baseline = np.asarray(baseline_scores, dtype=np.float64)
    if not (y.shape == candidate.shape == baseline.shape) or y.ndim != 1:
        raise DataError(
            f"y_true and both score vectors must be 1-D of one length, got shapes {y.shape}, "
            f"{candidate.shape}, {baseline.shape}"
        )
    scores = np.vstack([candidate, baseline])
    if not np.all((y == 0) | (y == 1)):
        raise DataError("DeLong's test needs binary y_true (0 or 1)")
    if not np.all(np.isfinite(scores)):
        raise DataError("DeLong's test needs finite scores, got NaN or infinite values")
    positive = y == 1
    m = int(positive.sum())
    n = len(y) - m
    if m < 2 or n < 2:
        nan = float("nan")
        details: dict[str, float | int | str] = {
            "auc_candidate": nan,
            "auc_baseline": nan,
            "delta": nan,
            "se": nan,
            "z": nan,
            "note": "needs at least two rows of each class",
        }
        return TestResult("delong", nan, nan, details)
    # Midranks of every row, and within each class; placements follow from their differences.
    all_ranks = stats.rankdata(scores, axis=1)
    positive_ranks = stats.rankdata(scores[:, positive], axis=1)
    negative_ranks = stats.rankdata(scores[:, ~positive], axis=1)
    aucs = (all_ranks[:, positive].sum(axis=1) - m * (m + 1) / 2.0) / (m * n)
    # Placements: per positive, the share of negatives scored below; per negative, of positives above.
    positive_placements = (all_ranks[:, positive] - positive_ranks) / n
    negative_placements = 1.0 - (all_ranks[:, ~positive] - negative_ranks) / m
    covariance = np.cov(positive_placements) / m + np.cov(negative_placements) / n
    variance = covariance[0, 0] + covariance[1, 1] - 2.0 * covariance[0, 1]
    se = math.sqrt(max(float(variance), 0.0))
    delta = float(aucs[0] - aucs[1])
    z = delta / se if se > 0 else (0.0 if delta == 0 else math.copysign(math.inf, delta))
    p_value = float(2.0 * stats.norm.sf(abs(z)))
    details = {
        "auc_candidate": float(aucs[0]),
        "auc_baseline": float(aucs[1]),
        "delta": delta,
        "se": se,
        "z": z,
    }
    return TestResult("delong", z, p_value, details)


# -- internals ------------------------------------------------------------------------------------------


def _is_integer(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_bootstrap_settings(resamples: int, confidence: float, seed: int) -> None:
    if not _is_integer(resamples) or resamples < 1:
        raise ConfigError(f"bootstrap resamples must be a positive integer, got {resamples!r}")
    if not _is_integer(seed) or seed < 0:
        raise ConfigError(f"bootstrap seed must be a non-negative integer, got {seed!r}")
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"bootstrap confidence must lie strictly between 0 and 1, got {confidence!r}")


def _evaluators(
    names: Sequence[str],
    task: str,
    y_true: np.ndarray,
    models: list[Predictions],
    n_classes: int | None,
) -> list[MetricEvaluator]:
    evaluators = [MetricEvaluator(names, task, y_true, model, n_classes) for model in models]
    classes = {evaluator.n_classes for evaluator in evaluators}
    if len(classes) > 1:  # inferred from each model's outputs: use the largest for both
        widest = max(k for k in classes if k is not None)
        evaluators = [MetricEvaluator(names, task, y_true, model, widest) for model in models]
    return evaluators


def _bootstrap_samples(
    names: Sequence[str],
    task: str,
    y_true: np.ndarray,
    models: list[Predictions],
    n_classes: int | None,
    resamples: int,
    seed: int,
) -> tuple[list[MetricEvaluator], list[dict[str, np.ndarray]], list[dict[str, np.ndarray]]]:
    """The evaluators, every model's metrics on all rows, and on each resample (the same rows for all models).

    The metrics do not depend on the order of the rows, so the rows are put in the order that makes the first
    model's ranking metrics cheapest, and each resample's counts are permuted into that order.
    """
    evaluators = _evaluators(names, task, y_true, models, n_classes)
    n_rows = evaluators[0].n_rows
    points = [evaluator.evaluate(np.ones((1, n_rows), dtype=np.int64)) for evaluator in evaluators]
    order = evaluators[0].row_order
    if order is not None:
        evaluators = [evaluator.reordered(order) for evaluator in evaluators]
    columns, blocks = _shared_columns(evaluators)
    compiled = _compiled_bootstrap(evaluators, columns, order, resamples)
    # Several chunks per core, so that the threads finish together. The numpy path's chunks hold no more than
    # _CHUNK_ELEMENTS weights; the compiled kernel holds a few resamples at a time, whatever the chunk.
    cores = os.cpu_count() or 1
    chunk = max(1, -(-resamples // (_CHUNKS_PER_CORE * cores)))
    numpy_chunk = max(1, min(_CHUNK_ELEMENTS // n_rows, chunk))
    if compiled is None:
        chunk = numpy_chunk
    samples = [{name: np.empty(resamples) for name in evaluator.names} for evaluator in evaluators]

    local = threading.local()

    def store(start: int, values: list[dict[str, np.ndarray]]) -> None:
        for evaluated, stored in zip(values, samples, strict=True):
            for name, metric in evaluated.items():
                stored[name][start : start + len(metric)] = metric

    def run_numpy(start: int, count: int) -> None:
        if not hasattr(local, "scratch"):
            local.scratch = _Scratch(n_rows, numpy_chunk)
        for first in range(start, start + count, numpy_chunk):
            weights = _chunk_weights(
                seed, first, min(numpy_chunk, start + count - first), order, local.scratch
            )
            sums = _weighted_sums(weights, columns)
            store(
                first,
                [e.evaluate(weights, sums[:, block]) for e, block in zip(evaluators, blocks, strict=True)],
            )

    def run_chunk(start: int) -> None:
        count = min(chunk, resamples - start)
        if compiled is None:
            run_numpy(start, count)
            return
        if not hasattr(local, "compiled_scratch"):
            local.compiled_scratch = compiled.scratch()
        statistics = compiled.run(_resample_generator(seed, n_rows, start), count, local.compiled_scratch)
        if statistics is None:  # a row's count passed the kernel's byte (never seen): the numpy path
            run_numpy(start, count)
            return
        parts = zip(evaluators, blocks, compiled.ranking_blocks, strict=True)
        store(start, [statistics.metrics(evaluator, block, rankings) for evaluator, block, rankings in parts])

    # Chunks run on worker threads (numpy releases the GIL in its loops); BLAS keeps to one thread, as its
    # own threads would compete with the workers for the same cores.
    starts = range(0, resamples, chunk)
    workers = min(len(starts), cores)
    with _single_threaded_blas():
        if workers == 1:
            for start in starts:
                run_chunk(start)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(run_chunk, starts))
    return evaluators, points, samples


def _compiled_bootstrap(
    evaluators: list[MetricEvaluator], columns: np.ndarray, order: np.ndarray | None, resamples: int
) -> CompiledBootstrap | None:
    """The compiled kernel for these evaluators, when the work is large enough to repay loading it and numba
    is installed; else None (the numpy path, with the same draws and results)."""
    if evaluators[0].n_rows * resamples < _KERNEL_MIN_ELEMENTS:
        return None
    try:
        from mlops_actions.domain.bootstrap_kernel import compiled_bootstrap
    except ImportError:  # pragma: no cover - numba is a dependency; without it the numpy path serves
        return None
    return compiled_bootstrap(evaluators, columns, order)


def _weight_type(n_rows: int) -> type[np.signedinteger]:
    return np.int32 if n_rows < 2**31 else np.int64


def _resample_generator(seed: int, n_rows: int, start: int) -> np.random.Generator:
    """A generator whose next doubles are those of resample ``start`` onwards (one 64-bit step per double)."""
    bit_generator = np.random.PCG64(seed)  # as in np.random.default_rng(seed)
    bit_generator.advance(start * n_rows)
    return np.random.Generator(bit_generator)


def _draw_rows(generator: np.random.Generator, uniform: np.ndarray, out: np.ndarray) -> None:
    """The next resample's row indices floor(n * u) into ``out``, with ``uniform`` as scratch space."""
    generator.random(out=uniform)
    # One pass: the product in float64, truncated (floor, as it is >= 0) on the way into the integers;
    # below n_rows, as u < 1 (exactly so for n_rows < 2**53).
    np.multiply(uniform, len(uniform), out=out, casting="unsafe")


class _Scratch:
    """One thread's arrays for drawing chunks of resamples, reused from chunk to chunk.

    Fresh arrays of this size would come from the operating system, zeroed page by page, for every chunk.
    """

    def __init__(self, n_rows: int, chunk: int):
        self.uniform = np.empty(n_rows)
        self.drawn = np.empty(n_rows, dtype=np.intp)
        self.counts = np.empty(n_rows, dtype=_weight_type(n_rows))
        self.weights = np.empty((chunk, n_rows), dtype=_weight_type(n_rows))


def _chunk_weights(
    seed: int, start: int, count: int, order: np.ndarray | None, scratch: _Scratch
) -> np.ndarray:
    """The row counts (count, n_rows) of resamples start .. start + count - 1, rows taken in ``order``.

    Equals ``resample_weights(resample_rows(seed, n_rows, start, count), n_rows, place=place)`` for place
    the inverse of order, with one resample's draws in memory at a time. The counts are permuted rather than
    the drawn indices: a gather from the int32 (or one-byte) counts touches a fraction of the memory of one
    from int64 places.
    The result is a view of ``scratch.weights``.
    """
    n_rows = len(scratch.uniform)
    generator = _resample_generator(seed, n_rows, start)
    weights = scratch.weights[:count]
    for row in weights:
        _draw_rows(generator, scratch.uniform, scratch.drawn)
        counts = row if order is None else scratch.counts
        np.copyto(counts, np.bincount(scratch.drawn, minlength=n_rows), casting="unsafe")
        if order is not None:
            permuted_counts(counts, order, out=row)
    return weights


def _weighted_sums(weights: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """weights @ columns in float64, in blocks of rows whose float copy of the weights stays in cache.

    The blocks do not depend on how many resamples a chunk holds, so neither do the sums' roundings.
    """
    count, n_rows = weights.shape
    sums = np.zeros((count, columns.shape[1]))
    for first in range(0, count, _SUM_RESAMPLES):
        group = slice(first, min(count, first + _SUM_RESAMPLES))
        scratch = np.empty((group.stop - group.start, min(n_rows, _SUM_ROWS)))
        for row in range(0, n_rows, _SUM_ROWS):
            rows = slice(row, min(n_rows, row + _SUM_ROWS))
            part = scratch[:, : rows.stop - rows.start]
            np.copyto(part, weights[group, rows])
            sums[group] += part @ columns[rows]
    return sums


def _single_threaded_blas() -> AbstractContextManager[object]:
    """Limit BLAS to one thread while in the context (threadpoolctl comes with scikit-learn)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - without it BLAS keeps its default
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _shared_columns(evaluators: list[MetricEvaluator]) -> tuple[np.ndarray, list[slice]]:
    """One matrix of every evaluator's columns and each one's block of it.

    A model whose columns equal an earlier one's reuses that block, so identical models get identical sums.
    """
    placed: list[tuple[np.ndarray, slice]] = []
    blocks: list[slice] = []
    width = 0
    for evaluator in evaluators:
        columns = evaluator.columns
        block = next((block for part, block in placed if np.array_equal(part, columns)), None)
        if block is None:
            block = slice(width, width + columns.shape[1])
            width += columns.shape[1]
            placed.append((columns, block))
        blocks.append(block)
    return np.hstack([part for part, _ in placed]), blocks


def _percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float, int]:
    """The percentile interval of the defined (finite) values, and how many there were."""
    defined = values[np.isfinite(values)]
    if len(defined) == 0:
        return float("nan"), float("nan"), 0
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(defined, [tail, 100.0 - tail])
    return float(low), float(high), len(defined)
