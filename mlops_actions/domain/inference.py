"""Inference for a family of change rules: bootstrap p-values, Holm's step-down correction, and power.

A change rule compares the improvement ``sign * delta`` (sign +1 when higher is better) with its bound ``b``
(the allowance, or minus the negligible margin when that is more lenient). Its bootstrap deltas give:

- the one-sided p-value of "no regression beyond b" (H0: improvement >= b): the share of bootstrap
  improvements at or above b. It inverts the percentile interval: the upper end of a two-sided interval at
  ``confidence`` lies below b exactly when p < (1 - confidence) / 2, up to the percentile's interpolation.
- the one-sided p-value of "inferior" (H0: improvement < b) for a non-inferiority (strict) rule: the share
  of bootstrap improvements below b.
- the minimum detectable effect: under a normal approximation with the bootstrap standard error ``se``, a
  rule at one-sided level alpha catches a true regression of ``-b + (z(1 - alpha) + z(power)) * se`` with
  probability ``power``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

POWER = 0.8  # the power at which every rule's minimum detectable effect is stated


def regression_p_value(improvements: np.ndarray, bound: float) -> float:
    """One-sided bootstrap p-value of H0 "the improvement is at least ``bound``" (small: a confident regression)."""
    defined = improvements[np.isfinite(improvements)]
    if len(defined) == 0:
        return math.nan
    return float(np.count_nonzero(defined >= bound)) / len(defined)


def inferiority_p_value(improvements: np.ndarray, bound: float) -> float:
    """One-sided bootstrap p-value of H0 "the improvement is below ``bound``" (small: confidently non-inferior)."""
    defined = improvements[np.isfinite(improvements)]
    if len(defined) == 0:
        return math.nan
    return float(np.count_nonzero(defined < bound)) / len(defined)


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input's order (NaN stays NaN and is not counted).

    Rule i is rejected at family-wise level alpha exactly when its adjusted p-value is <= alpha.
    """
    indexed = [(p, i) for i, p in enumerate(p_values) if not math.isnan(p)]
    indexed.sort()
    m = len(indexed)
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def z_quantile(probability: float) -> float:
    """The standard normal quantile."""
    return NormalDist().inv_cdf(probability)


def detectable_beyond_bound(se: float, alpha: float, power: float = POWER) -> float:
    """How far beyond its bound a true change must be for a rule at one-sided level ``alpha`` to see it with ``power``."""
    return (z_quantile(1.0 - alpha) + z_quantile(power)) * se


def rows_for(se: float, rows: int, alpha: float, target: float, power: float = POWER) -> int | None:
    """Eval rows at which ``detectable_beyond_bound`` shrinks to ``target`` (the standard error falls as 1/sqrt(rows))."""
    if not (target > 0 and math.isfinite(se) and se > 0):
        return None
    needed = detectable_beyond_bound(se, alpha, power) / target
    return max(rows, math.ceil(rows * needed * needed))


def cross_fit_inflation(folds: int, repeats: int = 1) -> float:
    """Nadeau and Bengio's correction of a k-fold comparison (Bouckaert and Frank's for r repetitions of it),
    as a factor on the spread of the paired bootstrap of the stacked out-of-fold rows.

    Each of the k r fold estimates scores n / k rows; call sigma**2 the variance of one. The bootstrap of the
    r n stacked rows treats them as independent, so it sees about sigma**2 / (k r). The corrected variance is
    (1 / (k r) + n_test / n_train) * sigma**2 with n_test / n_train = 1 / (k - 1); the factor is the square
    root of the ratio, sqrt(1 + k r / (k - 1)). In units of the bootstrap standard error of one repetition's
    n rows, the corrected standard error is sqrt(1 / r + k / (k - 1)): repetitions shrink only the first term,
    and never below sqrt(k / (k - 1)), above the test-row sampling of the n distinct rows.
    """
    if folds < 2:
        raise ValueError(f"cross-fitting needs at least 2 folds, got {folds}")
    if repeats < 1:
        raise ValueError(f"cross-fitting needs at least 1 repetition, got {repeats}")
    return math.sqrt(1.0 + folds * repeats / (folds - 1.0))
