"""Known answers for the drift statistics, checked against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special
from scipy import stats as scipy_stats
from scipy.spatial import distance

from mlops_actions.domain.data import stats


def test_identical_histograms_have_zero_psi():
    counts = [100, 250, 0, 50]
    assert stats.psi(counts, counts) == 0.0


def test_psi_of_shifted_normal_matches_theory():
    rng = np.random.default_rng(0)
    reference = rng.normal(0, 1, 200_000)
    current = rng.normal(0.5, 1, 200_000)
    edges = np.quantile(reference, np.arange(1, 10) / 10)
    ref_counts = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=10)
    cur_counts = np.bincount(np.searchsorted(edges, current, side="right"), minlength=10)
    bounds = np.concatenate([[-np.inf], scipy_stats.norm.ppf(np.arange(1, 10) / 10), [np.inf]])
    expected_current = np.diff(scipy_stats.norm.cdf(bounds - 0.5))
    expected = float(np.sum((expected_current - 0.1) * np.log(expected_current / 0.1)))
    assert stats.psi(ref_counts, cur_counts) == pytest.approx(expected, abs=0.01)
    assert expected == pytest.approx(0.25, abs=0.03)


def test_psi_with_an_empty_bin_is_finite():
    assert math.isfinite(stats.psi([10, 10, 0], [0, 10, 10]))


def test_jensen_shannon_matches_scipy_base_2():
    p, q = [10, 20, 30, 0], [5, 5, 30, 20]
    expected = distance.jensenshannon(np.array(p) / 60, np.array(q) / 60, base=2)
    assert stats.jensen_shannon_distance(p, q) == pytest.approx(expected, rel=1e-12)
    assert stats.jensen_shannon_distance(p, p) == 0.0
    assert stats.jensen_shannon_distance([1, 0], [0, 1]) == pytest.approx(1.0)


def test_chi_squared_matches_scipy_contingency():
    ref, cur = [120, 80, 40, 0], [100, 90, 60, 5]
    statistic, pvalue, dof = stats.chi_squared(ref, cur)
    expected = scipy_stats.chi2_contingency(np.array([ref, cur])[:, :4], correction=False)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert pvalue == pytest.approx(expected.pvalue, rel=1e-9)
    assert dof == expected.dof


@pytest.mark.parametrize("dof", [1, 2, 5, 30, 200])
@pytest.mark.parametrize("x", [0.01, 0.5, 3.0, 12.0, 80.0, 400.0])
def test_chi2_survival_matches_scipy(dof, x):
    assert stats.chi2_sf(x, dof) == pytest.approx(special.chdtrc(dof, x), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("x", [0.1, 0.3, 0.5, 0.8, 1.0, 1.36, 2.0, 3.0])
def test_kolmogorov_survival_matches_scipy(x):
    assert stats.kolmogorov_sf(x) == pytest.approx(special.kolmogorov(x), abs=1e-12)


def test_ks_two_sample_matches_scipy():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 300), rng.normal(0.3, 1, 200)
    statistic, pvalue = stats.ks_two_sample(a, b)
    expected = scipy_stats.ks_2samp(a, b)
    assert statistic == pytest.approx(expected.statistic)
    assert pvalue == pytest.approx(expected.pvalue)


def test_asymptotic_ks_pvalue_is_close_to_scipy_for_large_samples():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 5000), rng.normal(0.04, 1, 5000)
    expected = scipy_stats.ks_2samp(a, b, method="asymp")
    assert stats.ks_asymptotic_pvalue(expected.statistic, 5000, 5000) == pytest.approx(
        expected.pvalue, abs=0.01
    )


def _bins(values, edges):
    ordered = np.sort(values)
    bounds = np.concatenate([[0], np.searchsorted(ordered, edges, side="left"), [len(ordered)]])
    counts = np.diff(bounds)
    sums = np.array([ordered[bounds[i] : bounds[i + 1]].sum() for i in range(len(counts))])
    return counts, sums


def test_binned_wasserstein_is_exact_for_a_shift():
    rng = np.random.default_rng(3)
    reference = rng.normal(0, 1, 20_000)
    current = reference + 0.7
    edges = np.quantile(reference, np.arange(1, 100) / 100)
    rc, rs = _bins(reference, edges)
    cc, cs = _bins(current, edges)
    result = stats.wasserstein_from_bins(edges, rc, rs, cc, cs)
    assert result == pytest.approx(scipy_stats.wasserstein_distance(reference, current), rel=1e-9)
    assert result == pytest.approx(0.7, rel=1e-9)


def test_binned_wasserstein_is_close_for_a_change_of_spread():
    rng = np.random.default_rng(4)
    reference = rng.normal(0, 1, 20_000)
    current = rng.normal(0, 1.5, 20_000)
    edges = np.quantile(reference, np.arange(1, 100) / 100)
    rc, rs = _bins(reference, edges)
    cc, cs = _bins(current, edges)
    expected = scipy_stats.wasserstein_distance(reference, current)
    result = stats.wasserstein_from_bins(edges, rc, rs, cc, cs)
    assert result <= expected + 1e-9
    assert result == pytest.approx(expected, rel=0.02)


def test_identical_data_has_zero_wasserstein():
    values = np.random.default_rng(5).normal(size=1000)
    edges = np.quantile(values, [0.25, 0.5, 0.75])
    counts, sums = _bins(values, edges)
    assert stats.wasserstein_from_bins(edges, counts, sums, counts, sums) == pytest.approx(0.0, abs=1e-12)


def test_chan_merge_equals_moments_of_the_union():
    rng = np.random.default_rng(6)
    a, b = rng.normal(5, 2, 1000), rng.normal(-3, 1, 250)
    n, mean, m2 = stats.chan_merge(
        len(a), a.mean(), ((a - a.mean()) ** 2).sum(), len(b), b.mean(), ((b - b.mean()) ** 2).sum()
    )
    union = np.concatenate([a, b])
    assert n == len(union)
    assert mean == pytest.approx(union.mean())
    assert m2 == pytest.approx(((union - union.mean()) ** 2).sum())


def test_chan_merge_with_an_empty_side_keeps_the_other():
    n, mean, m2 = stats.chan_merge(0, 0.0, 0.0, 4, 2.5, 5.0)
    assert (n, mean, m2) == (4, 2.5, 5.0)


def test_fisher_z_detects_a_real_change_and_not_an_equal_one():
    assert stats.fisher_z_pvalue(0.1, 1000, 0.5, 1000) < 1e-6
    assert stats.fisher_z_pvalue(0.3, 1000, 0.3, 1000) == pytest.approx(1.0)
