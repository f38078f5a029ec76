"""Values are placed in a profile's fixed bins exactly as a binary search over the edges places them."""

from __future__ import annotations

import numpy as np
import pytest

from mlops_actions.domain.data.profile.accumulate import bin_indices


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(0).normal(size=50_000),
        np.random.default_rng(1).lognormal(3, 2, size=50_000),
        np.random.default_rng(2).integers(0, 7, size=50_000).astype(float),
        np.concatenate([np.zeros(40_000), np.random.default_rng(3).exponential(size=10_000)]),
    ],
    ids=["normal", "skewed", "few-values", "mostly-zero"],
)
def test_every_value_lands_in_the_bin_a_binary_search_gives(values):
    edges = np.unique(np.quantile(values, np.arange(1, 100) / 100))
    probes = np.concatenate([values, edges, np.nextafter(edges, -np.inf), [edges[0] - 1e9, edges[-1] + 1e9]])
    assert np.array_equal(bin_indices(edges, probes), np.searchsorted(edges, probes, side="right"))


def test_no_edges_or_one_put_every_value_in_the_bins_around_it():
    assert bin_indices(np.empty(0), np.array([1.0, 2.0])).tolist() == [0, 0]
    assert bin_indices(np.array([1.5]), np.array([1.0, 1.5, 2.0])).tolist() == [0, 1, 1]
