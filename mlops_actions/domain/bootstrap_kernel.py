"""The paired bootstrap's compiled kernel (numba): each resample's statistics in a few fused passes over the rows.

It computes what ``mlops_actions.domain.stats`` computes with numpy, from the same draws: resample r's rows are
``floor(n * u)`` for the doubles u that numpy's generator draws for it, each row's count is the number of times
it was drawn, and for each resample it returns

- the weighted column sums ``counts @ columns`` (the rows held in ``row_order``), and
- for each ranking (a binary score, or one class of a multiclass one): twice the ROC AUC numerator, the
  weight of its negatives and positives, and the average precision numerator, as
  ``mlops_actions.domain.metrics`` defines them.

Per resample that is one pass to count the draws, one to permute the counts into row order and sum the
columns, and one per ranking, with nothing larger than a few arrays of n values in memory: numpy needs about
fifteen passes, several through arrays of a chunk of resamples. Both numpy's draw and the kernel release the
GIL, so chunks of resamples run on several threads. It is compiled on first use and cached next to this file
(or in numba's user cache).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

from mlops_actions.domain.metrics import MetricEvaluator

# A row's count is held in one byte; a draw that would take it past this is reported (never in practice:
# the chance that a row is drawn 256 times is below 1e-500), and the caller computes that chunk otherwise.
COUNT_LIMIT = 255
# Joint codes of the 0/1 column groups are two bytes.
MAX_JOINT_CODES = 1 << 16


@numba.njit(nogil=True, cache=True)
def resample_statistics(
    uniform: np.ndarray,
    count_limit: int,
    row_order: np.ndarray,
    joint: np.ndarray,
    dense: np.ndarray,
    ranking_orders: np.ndarray,
    order_index: np.ndarray,
    n_negatives: np.ndarray,
    below: np.ndarray,
    not_above: np.ndarray,
    positives_below: np.ndarray,
    offsets: np.ndarray,
    joint_sums: np.ndarray,
    dense_sums: np.ndarray,
    twice_auc: np.ndarray,
    negative_weight: np.ndarray,
    ap_numerator: np.ndarray,
    counts: np.ndarray,
    ordered: np.ndarray,
    joint_lanes: np.ndarray,
    negative_cumulative: np.ndarray,
) -> bool:
    """One resample's statistics from its doubles ``uniform`` (rows floor(n * u)); False if a count passed
    ``count_limit`` (the outputs are then incomplete).

    Rows: ``row_order`` (empty: the identity) lists the rows as ``joint`` (n,) and ``dense`` (d, n; d a multiple of 4) hold
    them. ``joint_sums[c]`` becomes the weight of the rows whose joint code is c, and ``dense_sums`` the
    weighted sums of the dense columns. Ranking q's rows in its score order, negatives first, are the
    positions ``ranking_orders[order_index[q]]`` in row order (``order_index[q]`` < 0: the row order itself);
    its positives' ``below`` / ``not_above`` / ``positives_below`` entries (those of ``RankingArrays``, each
    non-decreasing) start at ``offsets[q]``. ``twice_auc``, ``negative_weight`` and ``ap_numerator`` get one
    value per ranking. Scratch: ``counts`` and ``ordered`` (n bytes each), ``joint_lanes`` (a power of two
    of rows, as many columns as joint codes) and ``negative_cumulative`` (n + 1 values).
    """
    n_rows = uniform.shape[0]
    counts[:] = 0
    for i in range(n_rows):
        row = np.intp(uniform[i] * n_rows)
        if counts[row] == count_limit:
            return False
        counts[row] += 1
    # The counts into row order, and the weighted sums of every column: the joint codes' in four lanes used
    # in turn (consecutive rows then do not wait on one another's sums), the dense columns four at a time,
    # the first four in the same pass.
    has_order = row_order.shape[0] > 0
    lanes = joint_lanes.shape[0]
    joint_lanes[:] = 0
    first, second, third, fourth = dense[0], dense[1], dense[2], dense[3]
    total0 = total1 = total2 = total3 = 0.0
    for j in range(n_rows):
        weight = counts[row_order[j]] if has_order else counts[j]
        ordered[j] = weight
        joint_lanes[j & (lanes - 1), joint[j]] += weight
        real = np.float64(weight)
        total0 += real * first[j]
        total1 += real * second[j]
        total2 += real * third[j]
        total3 += real * fourth[j]
    dense_sums[0], dense_sums[1], dense_sums[2], dense_sums[3] = total0, total1, total2, total3
    for c in range(joint_sums.shape[0]):
        total_codes = 0
        for lane in range(lanes):
            total_codes += joint_lanes[lane, c]
        joint_sums[c] = total_codes
    for k in range(4, dense.shape[0], 4):
        first, second, third, fourth = dense[k], dense[k + 1], dense[k + 2], dense[k + 3]
        total0 = total1 = total2 = total3 = 0.0
        for j in range(n_rows):
            real = np.float64(ordered[j])
            total0 += real * first[j]
            total1 += real * second[j]
            total2 += real * third[j]
            total3 += real * fourth[j]
        dense_sums[k], dense_sums[k + 1], dense_sums[k + 2], dense_sums[k + 3] = (
            total0,
            total1,
            total2,
            total3,
        )
    # Each ranking: the negatives' cumulative weight, then one pass over the positives, whose placements
    # among the negatives are non-decreasing.
    for q in range(n_negatives.shape[0]):
        identity = order_index[q] < 0
        order = ranking_orders[max(order_index[q], 0)]
        n_negative = n_negatives[q]
        running = 0
        negative_cumulative[0] = 0
        if identity:
            for j in range(n_negative):
                running += ordered[j]
                negative_cumulative[j + 1] = running
        else:
            for j in range(n_negative):
                running += ordered[order[j]]
                negative_cumulative[j + 1] = running
        negatives = np.int64(running)
        positives = n_rows - negatives  # every resample draws n rows
        start = offsets[q]
        positives_lower = np.int64(0)
        group_lower = np.int64(0)
        twice = np.int64(0)
        precision_sum = 0.0
        for i in range(n_rows - n_negative):
            if positives_below[start + i] == i:  # the first positive of its tie group
                group_lower = positives_lower
            weight = np.int64(ordered[n_negative + i] if identity else ordered[order[n_negative + i]])
            lower = np.int64(negative_cumulative[below[start + i]])
            twice += weight * (lower + negative_cumulative[not_above[start + i]])
            true_positives = positives - group_lower
            precision_sum += true_positives / max(negatives - lower + true_positives, 1) * weight
            positives_lower += weight
        twice_auc[q] = twice
        negative_weight[q] = negatives
        ap_numerator[q] = precision_sum
    return True


@dataclass
class ChunkStatistics:
    """What the kernel returns for a chunk of r resamples: column sums (r, k) and ranking statistics (r, q)."""

    sums: np.ndarray
    twice_auc: np.ndarray
    negative_weight: np.ndarray
    positive_weight: np.ndarray
    ap_numerator: np.ndarray

    def metrics(self, evaluator: MetricEvaluator, columns: slice, rankings: slice) -> dict[str, np.ndarray]:
        """The evaluator's metrics from its block of columns and of rankings."""
        return evaluator.evaluate_statistics(
            self.sums[:, columns],
            self.twice_auc[:, rankings],
            self.negative_weight[:, rankings],
            self.positive_weight[:, rankings],
            self.ap_numerator[:, rankings],
        )


class CompiledBootstrap:
    """The kernel's inputs for evaluators whose rows are held in ``row_order``; runs chunks of resamples.

    The columns are split for the kernel: 0/1 columns that are never 1 on the same row (one-hot codes, the
    row count) form groups, and each row's codes in all groups one joint code (two bytes), whose weights are
    summed in integers; the other columns stay float64.
    """

    def __init__(
        self, evaluators: Sequence[MetricEvaluator], columns: np.ndarray, row_order: np.ndarray | None
    ):
        n_rows = columns.shape[0]
        index = np.int32 if n_rows < 2**31 else np.int64
        self.n_rows = n_rows
        self.n_columns = columns.shape[1]
        self.row_order = np.empty(0, index) if row_order is None else row_order.astype(index)
        self.groups, codes, self.dense_columns = _split_columns(columns)
        self.radices = [len(group) + 1 for group in self.groups]
        self.n_joint = math.prod(self.radices)
        if self.n_joint > MAX_JOINT_CODES:
            raise ValueError(f"{self.n_joint} joint codes do not fit two bytes")
        joint = np.zeros(n_rows, np.int64)
        # Mixed radix, the first group most significant.
        for radix, code in zip(self.radices, codes, strict=True):
            joint = joint * radix + code
        self.joint = joint.astype(np.uint16)
        # The kernel takes the dense columns four at a time: zero columns fill the last four.
        dense = -(-max(len(self.dense_columns), 1) // 4) * 4
        self.dense = np.zeros((dense, n_rows))
        self.dense[: len(self.dense_columns)] = columns[:, self.dense_columns].T
        arrays = [ranking for evaluator in evaluators for ranking in evaluator.ranking_arrays]
        self.ranking_blocks: list[slice] = []
        for evaluator in evaluators:
            first = self.ranking_blocks[-1].stop if self.ranking_blocks else 0
            self.ranking_blocks.append(slice(first, first + len(evaluator.ranking_arrays)))
        ordered = [ranking.order for ranking in arrays if ranking.order is not None]
        self.ranking_orders = np.array(ordered, dtype=index) if ordered else np.zeros((1, 1), index)
        positions = iter(range(len(ordered)))
        self.order_index = np.array(
            [-1 if ranking.order is None else next(positions) for ranking in arrays], dtype=np.int64
        )
        self.n_negatives = np.array([ranking.n_negative for ranking in arrays], dtype=np.int64)
        self.offsets = np.cumsum([0] + [len(ranking.negatives_below) for ranking in arrays])[:-1].astype(
            np.int64
        )

        def joined(name: str) -> np.ndarray:
            parts = [getattr(ranking, name) for ranking in arrays]
            return np.concatenate(parts).astype(index) if parts else np.zeros(1, index)

        self.below = joined("negatives_below")
        self.not_above = joined("negatives_not_above")
        self.positives_below = joined("positives_below")

    def scratch(self) -> tuple[np.ndarray, ...]:
        """One thread's scratch arrays, reused from chunk to chunk."""
        n = self.n_rows
        cumulative = np.int32 if n < 2**31 else np.int64
        return (
            np.empty(n),
            np.empty(n, np.uint8),
            np.empty(n, np.uint8),
            np.empty((4, self.n_joint), np.int64),
            np.empty(n + 1, cumulative),
        )

    def run(
        self, generator: np.random.Generator, count: int, scratch: tuple[np.ndarray, ...]
    ) -> ChunkStatistics | None:
        """The statistics of the next ``count`` resamples drawn from ``generator``; None if a row's count would
        not fit its byte (then nothing is returned for the chunk)."""
        uniform, *kernel_scratch = scratch
        rankings = len(self.n_negatives)
        joint_sums = np.empty((count, self.n_joint), np.int64)
        dense_sums = np.empty((count, len(self.dense)))
        twice_auc = np.empty((count, rankings), np.int64)
        negative_weight = np.empty((count, rankings), np.int64)
        ap_numerator = np.empty((count, rankings))
        for r in range(count):
            generator.random(out=uniform)  # numpy's fill releases the GIL, as the kernel does
            complete = resample_statistics(
                uniform,
                COUNT_LIMIT,
                self.row_order,
                self.joint,
                self.dense,
                self.ranking_orders,
                self.order_index,
                self.n_negatives,
                self.below,
                self.not_above,
                self.positives_below,
                self.offsets,
                joint_sums[r],
                dense_sums[r],
                twice_auc[r],
                negative_weight[r],
                ap_numerator[r],
                *kernel_scratch,
            )
            if not complete:
                return None
        sums = np.empty((count, self.n_columns))
        sums[:, self.dense_columns] = dense_sums[:, : len(self.dense_columns)]
        if self.groups:
            by_code = joint_sums.reshape(count, *self.radices)
            for g, group in enumerate(self.groups):
                others = tuple(axis + 1 for axis in range(len(self.groups)) if axis != g)
                sums[:, group] = by_code.sum(axis=others)[:, : len(group)]
        return ChunkStatistics(sums, twice_auc, negative_weight, self.n_rows - negative_weight, ap_numerator)


def compiled_bootstrap(
    evaluators: Sequence[MetricEvaluator], columns: np.ndarray, row_order: np.ndarray | None
) -> CompiledBootstrap | None:
    """The kernel's inputs for these evaluators, or None when its joint codes cannot hold their columns."""
    if not all(evaluator.kernel_ready for evaluator in evaluators):
        return None
    try:
        return CompiledBootstrap(evaluators, columns, row_order)
    except ValueError:
        return None


def _split_columns(columns: np.ndarray) -> tuple[list[list[int]], list[np.ndarray], list[int]]:
    """Groups of 0/1 columns never 1 on the same row, each row's code per group (its column's place in the
    group, or the group's size for none), and the other columns."""
    groups: list[list[int]] = []
    occupied: list[np.ndarray] = []
    dense: list[int] = []
    for k in range(columns.shape[1]):
        column = columns[:, k]
        ones = column == 1.0
        if not np.all(ones | (column == 0.0)):
            dense.append(k)
            continue
        place = next((g for g, taken in enumerate(occupied) if not np.any(taken & ones)), None)
        if place is None:
            groups.append([])
            occupied.append(np.zeros(len(column), dtype=bool))
            place = len(groups) - 1
        groups[place].append(k)
        occupied[place] |= ones
    codes = []
    for group in groups:
        code = np.full(columns.shape[0], len(group), dtype=np.int64)
        for position, k in enumerate(group):
            code[columns[:, k] == 1.0] = position
        codes.append(code)
    return groups, codes, dense
