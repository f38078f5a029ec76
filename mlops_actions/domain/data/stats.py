"""Drift statistics on counts and binned sums: PSI, Jensen-Shannon, chi-squared, KS, Wasserstein, Chan merges."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

PSI_FLOOR = 1e-4


def psi(reference_counts: Any, current_counts: Any, floor: float = PSI_FLOOR) -> float:
    """Population stability index of two histograms over the same bins.

    Shares below ``floor`` are raised to it so empty bins give a finite value; identical shares give 0.
    """
    import numpy as np

    ref = np.asarray(reference_counts, dtype=float)
    cur = np.asarray(current_counts, dtype=float)
    if ref.sum() <= 0 or cur.sum() <= 0:
        return 0.0
    p = np.maximum(ref / ref.sum(), floor)
    q = np.maximum(cur / cur.sum(), floor)
    return float(np.sum((q - p) * np.log(q / p)))


def jensen_shannon_distance(reference_counts: Any, current_counts: Any) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) between two histograms over the same categories."""
    import numpy as np

    ref = np.asarray(reference_counts, dtype=float)
    cur = np.asarray(current_counts, dtype=float)
    if ref.sum() <= 0 or cur.sum() <= 0:
        return 0.0
    p = ref / ref.sum()
    q = cur / cur.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    divergence = max(0.0, (kl(p) + kl(q)) / 2)
    return float(min(1.0, math.sqrt(divergence)))


def chi_squared(reference_counts: Any, current_counts: Any) -> tuple[float, float, int]:
    """Chi-squared test of homogeneity on the 2 x k table (statistic, p-value, degrees of freedom).

    Categories empty in both samples are dropped; no continuity correction.
    """
    import numpy as np

    table = np.vstack([np.asarray(reference_counts, dtype=float), np.asarray(current_counts, dtype=float)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) <= 0).any():
        return 0.0, 1.0, max(0, table.shape[1] - 1)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    return statistic, chi2_sf(statistic, dof), dof


def ks_two_sample(reference: Any, current: Any) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and p-value on raw values (scipy, exact for small samples)."""
    import warnings

    from scipy.stats import ks_2samp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # exact method falling back to asymptotic
        result = ks_2samp(reference, current)
    return float(result.statistic), float(result.pvalue)


def ks_asymptotic_pvalue(statistic: float, n_reference: int, n_current: int) -> float:
    """Asymptotic two-sample KS p-value (Stephens' small-sample correction)."""
    if n_reference <= 0 or n_current <= 0:
        return 1.0
    effective = math.sqrt(n_reference * n_current / (n_reference + n_current))
    return kolmogorov_sf((effective + 0.12 + 0.11 / effective) * statistic)


def wasserstein_from_bins(
    edges: Any, reference_counts: Any, reference_sums: Any, current_counts: Any, current_sums: Any
) -> float:
    """Wasserstein-1 distance from per-bin counts and sums over the same bins.

    Bins are (-inf, e0), [e0, e1), ..., [e_last, inf). Within each bin the integral of each CDF is exact
    (integration by parts with the bin's sum), so the result is exact whenever the two CDFs do not cross
    inside a bin, and a lower bound otherwise.
    """
    import numpy as np

    e = np.asarray(edges, dtype=float)
    cr = np.asarray(reference_counts, dtype=float)
    cc = np.asarray(current_counts, dtype=float)
    sr = np.asarray(reference_sums, dtype=float)
    sc = np.asarray(current_sums, dtype=float)
    nr, nc = cr.sum(), cc.sum()
    if nr <= 0 or nc <= 0:
        return 0.0
    if len(e) == 0:
        return float(abs(sr.sum() / nr - sc.sum() / nc))

    def bin_integrals(counts: np.ndarray, sums: np.ndarray, n: float) -> np.ndarray:
        below = np.concatenate([[0.0], np.cumsum(counts)[:-1]]) / n  # G at each bin's lower edge
        upto = np.cumsum(counts) / n  # G at each bin's upper edge
        out = np.empty(len(counts))
        # left open bin: integral of G over (-inf, e0)
        out[0] = e[0] * upto[0] - sums[0] / n
        # interior bins [e_{i-1}, e_i)
        lower, upper = e[:-1], e[1:]
        out[1:-1] = upper * upto[1:-1] - lower * below[1:-1] - sums[1:-1] / n
        # right open bin: minus the integral of (1 - G) over [e_last, inf)
        out[-1] = -(sums[-1] / n - e[-1] * (1.0 - below[-1]))
        return out

    difference = bin_integrals(cr, sr, nr) - bin_integrals(cc, sc, nc)
    return float(np.sum(np.abs(difference)))


def chan_merge(n_a: Any, mean_a: Any, m2_a: Any, n_b: Any, mean_b: Any, m2_b: Any) -> tuple[Any, Any, Any]:
    """Chan et al.'s parallel update: count, mean and sum of squared deviations of the union.

    Works element-wise on numpy arrays; an empty side leaves the other unchanged.
    """
    import numpy as np

    n_a = np.asarray(n_a, dtype=float)
    n_b = np.asarray(n_b, dtype=float)
    n = n_a + n_b
    safe = np.where(n > 0, n, 1.0)
    delta = np.asarray(mean_b, dtype=float) - np.asarray(mean_a, dtype=float)
    mean = np.where(n > 0, mean_a + delta * n_b / safe, 0.0)
    m2 = np.asarray(m2_a, dtype=float) + np.asarray(m2_b, dtype=float) + delta**2 * n_a * n_b / safe
    mean = np.where(n_a > 0, mean, mean_b)
    mean = np.where(n_b > 0, mean, mean_a)
    return n, mean, m2


def fisher_z_pvalue(r_a: float, n_a: float, r_b: float, n_b: float) -> float:
    """Two-sided p-value that two independent Pearson correlations are equal (Fisher's z)."""
    if n_a <= 3 or n_b <= 3 or not (math.isfinite(r_a) and math.isfinite(r_b)):
        return 1.0
    clip = 1 - 1e-12
    z_a = math.atanh(max(-clip, min(clip, r_a)))
    z_b = math.atanh(max(-clip, min(clip, r_b)))
    z = abs(z_a - z_b) / math.sqrt(1 / (n_a - 3) + 1 / (n_b - 3))
    return math.erfc(z / math.sqrt(2))


def kolmogorov_sf(x: float) -> float:
    """Survival function of the Kolmogorov distribution: 2 * sum (-1)^(k-1) exp(-2 k^2 x^2)."""
    if x <= 0:
        return 1.0
    if x < 0.2:
        return 1.0
    total = 0.0
    for k in range(1, 101):
        term = math.exp(-2.0 * k * k * x * x)
        total += term if k % 2 else -term
        if term < 1e-17:
            break
    return float(min(1.0, max(0.0, 2.0 * total)))


def chi2_sf(statistic: float, dof: int) -> float:
    """Upper tail probability of the chi-squared distribution (regularised upper incomplete gamma)."""
    if dof <= 0:
        return 1.0
    if statistic <= 0:
        return 1.0
    return _gamma_q(dof / 2.0, statistic / 2.0)


def _gamma_q(a: float, x: float) -> float:
    """Q(a, x) = Gamma(a, x) / Gamma(a): series below a + 1, continued fraction above (Numerical Recipes)."""
    log_prefix = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1.0:
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1.0
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return float(min(1.0, max(0.0, 1.0 - total * math.exp(log_prefix))))
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return float(min(1.0, max(0.0, math.exp(log_prefix) * h)))


def optional_extreme(choose: Any, first: float | None, second: float | None) -> float | None:
    """``choose`` (min or max) of two bounds either of which may be unknown (None)."""
    if first is None:
        return second
    if second is None:
        return first
    return float(choose(first, second))
