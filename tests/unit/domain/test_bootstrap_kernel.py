"""The paired bootstrap's compiled kernel gives the numpy path's draws and results, and steps aside when it must."""

from __future__ import annotations

import numpy as np
import pytest

from mlops_actions.domain import bootstrap_kernel, stats
from mlops_actions.domain.metric_names import metrics_for_task
from mlops_actions.domain.metrics import Predictions, compute_metrics
from mlops_actions.domain.stats import paired_bootstrap
from tests.unit.domain.test_stats import (
    binary_models,
    multiclass_models,
    naive_paired_bootstrap,
    regression_models,
)


@pytest.fixture
def kernel_used(monkeypatch):
    """Run every bootstrap through the kernel, whatever its size; record whether it was built."""
    built: list[bool] = []
    build = bootstrap_kernel.compiled_bootstrap

    def recording(*args, **kwargs):
        compiled = build(*args, **kwargs)
        built.append(compiled is not None)
        return compiled

    monkeypatch.setattr(stats, "_KERNEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(bootstrap_kernel, "compiled_bootstrap", recording)
    return built


def numpy_path(monkeypatch, *args, **kwargs):
    with monkeypatch.context() as patch:
        patch.setattr(stats, "_KERNEL_MIN_ELEMENTS", 1 << 62)
        return paired_bootstrap(*args, **kwargs)


@pytest.mark.parametrize(
    ("task", "n_classes", "make"),
    [
        ("binary", None, lambda: binary_models(1, 70)),
        ("binary", None, lambda: binary_models(5, 300, positive_rate=0.1, decimals=1)),  # many ties
        ("multiclass", 3, lambda: multiclass_models(2, 70, 3)),
        ("multiclass", 4, lambda: multiclass_models(6, 80, 4)),
        ("regression", None, lambda: regression_models(4, 60)),
    ],
)
def test_the_kernel_equals_a_naive_loop(kernel_used, task, n_classes, make):
    y, candidate, baseline = make()
    names = metrics_for_task(task)
    ours = paired_bootstrap(
        names, task, y, candidate, baseline, n_classes=n_classes, resamples=40, confidence=0.9, seed=7
    )
    assert kernel_used == [True]
    expected = naive_paired_bootstrap(names, task, y, candidate, baseline, n_classes, 40, 0.9, 7)
    for name in names:
        low, high, used = expected[name]
        assert ours[name].resamples_used == used, name
        assert ours[name].ci_low == pytest.approx(low, rel=1e-9, abs=1e-12), name
        assert ours[name].ci_high == pytest.approx(high, rel=1e-9, abs=1e-12), name


def test_the_kernel_gives_the_numpy_paths_samples_on_many_rows(monkeypatch, kernel_used):
    y, candidate, baseline = binary_models(8, 5000, decimals=3)
    names = metrics_for_task("binary")
    compiled = paired_bootstrap(names, "binary", y, candidate, baseline, resamples=64, seed=11)
    plain = numpy_path(monkeypatch, names, "binary", y, candidate, baseline, resamples=64, seed=11)
    assert kernel_used == [True]
    for name in names:
        np.testing.assert_allclose(compiled[name].samples, plain[name].samples, rtol=1e-12, atol=1e-14)


def test_identical_models_through_the_kernel_change_nothing_in_any_resample(kernel_used):
    y, candidate, _ = binary_models(9, 400)
    names = metrics_for_task("binary")
    same = Predictions(labels=candidate.labels.copy(), scores=candidate.scores.copy())
    estimates = paired_bootstrap(names, "binary", y, candidate, same, resamples=50, seed=2)
    assert kernel_used == [True]
    for name in names:
        assert np.all(estimates[name].samples == 0.0), name


def test_the_kernels_chunks_on_several_threads_give_the_same_result(monkeypatch, kernel_used):
    y, candidate, baseline = binary_models(12, 90)
    names = metrics_for_task("binary")
    whole = paired_bootstrap(names, "binary", y, candidate, baseline, resamples=45, seed=4)
    monkeypatch.setattr(stats.os, "cpu_count", lambda: 3)  # 12 chunks of at most 4 resamples
    chunked = paired_bootstrap(names, "binary", y, candidate, baseline, resamples=45, seed=4)
    assert kernel_used == [True, True]
    for name in names:
        assert np.array_equal(chunked[name].samples, whole[name].samples), name


def test_a_count_past_the_kernels_byte_is_computed_by_the_numpy_path(monkeypatch, kernel_used):
    monkeypatch.setattr(bootstrap_kernel, "COUNT_LIMIT", 1)  # any row drawn twice
    y, candidate, baseline = binary_models(3, 120)
    names = metrics_for_task("binary")
    ours = paired_bootstrap(names, "binary", y, candidate, baseline, resamples=30, seed=5)
    assert kernel_used == [True]
    expected = naive_paired_bootstrap(names, "binary", y, candidate, baseline, None, 30, 0.95, 5)
    for name in names:
        assert (ours[name].ci_low, ours[name].ci_high) == pytest.approx(expected[name][:2], abs=1e-12)


def test_many_classes_are_left_to_the_numpy_path(kernel_used):
    y, candidate, baseline = multiclass_models(3, 90, 5)  # confusion counts by segmented sums
    names = metrics_for_task("multiclass")
    ours = paired_bootstrap(names, "multiclass", y, candidate, baseline, n_classes=5, resamples=20, seed=1)
    assert kernel_used == [False]
    expected = naive_paired_bootstrap(names, "multiclass", y, candidate, baseline, 5, 20, 0.95, 1)
    for name in names:
        assert (ours[name].ci_low, ours[name].ci_high) == pytest.approx(expected[name][:2], abs=1e-12)


def test_one_hot_columns_share_a_joint_code_and_others_stay_dense():
    columns = np.array(
        [
            # rows, one-hot a / b / c, a value, an all-zero 0/1 column
            [1.0, 1.0, 0.0, 0.0, 0.5, 0.0],
            [1.0, 0.0, 1.0, 0.0, 2.0, 0.0],
            [1.0, 0.0, 0.0, 1.0, -1.0, 0.0],
            [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        ]
    )
    groups, codes, dense = bootstrap_kernel._split_columns(columns)
    assert groups == [[0, 5], [1, 2, 3]]  # a column never 1 joins the first group
    assert [code.tolist() for code in codes] == [[0, 0, 0, 0], [0, 1, 2, 3]]  # 3: none of the group
    assert dense == [4]


def test_the_kernel_is_not_built_for_a_bootstrap_too_small_to_repay_it(monkeypatch):
    built: list[object] = []
    monkeypatch.setattr(bootstrap_kernel, "compiled_bootstrap", lambda *a: built.append(a))
    y, candidate, baseline = binary_models(1, 70)
    estimates = paired_bootstrap(["roc_auc"], "binary", y, candidate, baseline, resamples=100, seed=0)
    assert built == []
    assert estimates["roc_auc"].delta == pytest.approx(
        compute_metrics(["roc_auc"], "binary", y, candidate)["roc_auc"]
        - compute_metrics(["roc_auc"], "binary", y, baseline)["roc_auc"]
    )
