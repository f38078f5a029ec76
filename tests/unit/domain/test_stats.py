"""Paired bootstrap against a naive loop, interval coverage, McNemar against statsmodels, DeLong against
a pairwise reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sklearn.metrics as skm

from mlops_actions.domain import metrics, stats
from mlops_actions.domain.metric_names import metrics_for_task
from mlops_actions.domain.metrics import Predictions, compute_metrics
from mlops_actions.domain.stats import bootstrap_interval, delong_test, mcnemar_test, paired_bootstrap
from mlops_actions.errors import ConfigError, DataError

# -- naive references -------------------------------------------------------------------------------------


def naive_resamples(n_rows: int, resamples: int, seed: int):
    """The documented draw: resample r takes rows floor(n * u) for u the r-th row of one draw of doubles."""
    uniform = np.random.default_rng(seed).random((resamples, n_rows))
    for row in uniform:
        yield np.floor(row * n_rows).astype(int)


def rows_of(predictions: Predictions, rows: np.ndarray) -> Predictions:
    def take(array):
        return None if array is None else np.asarray(array)[rows]

    return Predictions(take(predictions.labels), take(predictions.scores), take(predictions.values))


def percentile_interval(values: list[float], confidence: float) -> tuple[float, float, int]:
    finite = np.array([v for v in values if math.isfinite(v)])
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high), len(finite)


def naive_paired_bootstrap(names, task, y, candidate, baseline, n_classes, resamples, confidence, seed):
    deltas: dict[str, list[float]] = {name: [] for name in names}
    for rows in naive_resamples(len(y), resamples, seed):
        ours = compute_metrics(names, task, y[rows], rows_of(candidate, rows), n_classes)
        theirs = compute_metrics(names, task, y[rows], rows_of(baseline, rows), n_classes)
        for name in names:
            deltas[name].append(ours[name] - theirs[name])
    return {name: percentile_interval(values, confidence) for name, values in deltas.items()}


def pairwise_delong(y, candidate, baseline):
    """DeLong et al. (1988) from explicit pairwise comparisons: O(m * n)."""
    positive = y == 1
    components = []
    aucs = []
    for scores in (candidate, baseline):
        x = scores[positive][:, None]
        z = scores[~positive][None, :]
        psi = (x > z) + 0.5 * (x == z)
        aucs.append(psi.mean())
        components.append((psi.mean(axis=1), psi.mean(axis=0)))
    m, n = int(positive.sum()), int((~positive).sum())
    s10 = np.cov(np.vstack([components[0][0], components[1][0]]))
    s01 = np.cov(np.vstack([components[0][1], components[1][1]]))
    s = s10 / m + s01 / n
    se = math.sqrt(s[0, 0] + s[1, 1] - 2 * s[0, 1])
    return aucs[0], aucs[1], se


# -- data ---------------------------------------------------------------------------------------------------


def binary_models(seed: int, n: int, positive_rate: float = 0.4, decimals: int = 2):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < positive_rate).astype(int)

    def model(strength):
        scores = np.round(1 / (1 + np.exp(-(strength * (2 * y - 1) + rng.normal(size=n)))), decimals)
        return Predictions(labels=(scores > 0.5).astype(int), scores=scores)

    return y, model(1.0), model(0.7)


def multiclass_models(seed: int, n: int, n_classes: int):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)

    def model(boost):
        scores = rng.dirichlet(np.ones(n_classes), n)
        scores[np.arange(n), y] += boost
        scores = np.round(scores / scores.sum(axis=1, keepdims=True), 2)
        scores /= scores.sum(axis=1, keepdims=True)
        return Predictions(labels=scores.argmax(axis=1), scores=scores)

    return y, model(0.5), model(0.3)


def regression_models(seed: int, n: int):
    rng = np.random.default_rng(seed)
    y = np.round(rng.normal(2.0, 1.0, n), 1)
    y[:3] = 0.0  # mape leaves these out
    return y, Predictions(values=y + rng.normal(0, 0.5, n)), Predictions(values=y + rng.normal(0, 0.6, n))


# -- paired bootstrap ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "n_classes", "make"),
    [
        ("binary", None, lambda: binary_models(1, 70)),
        ("multiclass", 3, lambda: multiclass_models(2, 70, 3)),
        ("multiclass", 5, lambda: multiclass_models(3, 90, 5)),
        ("regression", None, lambda: regression_models(4, 60)),
    ],
)
def test_paired_bootstrap_equals_a_naive_loop(task, n_classes, make):
    y, candidate, baseline = make()
    names = metrics_for_task(task)
    ours = paired_bootstrap(
        names, task, y, candidate, baseline, n_classes=n_classes, resamples=40, confidence=0.9, seed=7
    )
    expected = naive_paired_bootstrap(names, task, y, candidate, baseline, n_classes, 40, 0.9, 7)
    point_c = compute_metrics(names, task, y, candidate, n_classes)
    point_b = compute_metrics(names, task, y, baseline, n_classes)
    for name in names:
        low, high, used = expected[name]
        estimate = ours[name]
        assert estimate.metric == name
        assert estimate.candidate == point_c[name]
        assert estimate.baseline == point_b[name]
        assert estimate.delta == point_c[name] - point_b[name]
        assert estimate.resamples_used == used, name
        assert estimate.ci_low == pytest.approx(low, rel=1e-9, abs=1e-12), name
        assert estimate.ci_high == pytest.approx(high, rel=1e-9, abs=1e-12), name


def test_chunks_on_several_threads_give_the_same_result(monkeypatch):
    y, candidate, baseline = binary_models(12, 90)
    names = metrics_for_task("binary")
    whole = paired_bootstrap(names, "binary", y, candidate, baseline, resamples=45, seed=4)
    monkeypatch.setattr(stats, "_CHUNK_ELEMENTS", 4 * 90)  # chunks of 4 resamples
    monkeypatch.setattr(stats.os, "cpu_count", lambda: 3)
    chunked = paired_bootstrap(names, "binary", y, candidate, baseline, resamples=45, seed=4)
    expected = naive_paired_bootstrap(names, "binary", y, candidate, baseline, None, 45, 0.95, 4)
    for name in names:
        assert chunked[name].resamples_used == whole[name].resamples_used == 45
        interval = (chunked[name].ci_low, chunked[name].ci_high)
        assert interval == pytest.approx((whole[name].ci_low, whole[name].ci_high), abs=1e-12)
        assert interval == pytest.approx(expected[name][:2], abs=1e-12)


def test_resample_rows_from_any_start_are_the_documented_draws():
    expected = np.array(list(naive_resamples(37, 9, 5)))
    assert np.array_equal(stats.resample_rows(5, 37, 0, 9), expected)
    assert np.array_equal(stats.resample_rows(5, 37, 4, 3), expected[4:7])


def test_resample_weights_count_each_row_in_its_place():
    rows = np.array([[0, 0, 2, 3], [1, 1, 1, 1]])
    place = np.array([3, 2, 1, 0])
    assert stats.resample_weights(rows, 4).tolist() == [[2, 0, 1, 1], [0, 4, 0, 0]]
    assert stats.resample_weights(rows, 4, place=place).tolist() == [[1, 1, 0, 2], [0, 0, 4, 0]]


def test_large_resample_counts_match_the_documented_draws(monkeypatch):
    # Several chunks, several ranking groups per chunk and a shorter last one of each.
    monkeypatch.setattr(stats, "_CHUNK_ELEMENTS", 6 * 2000)  # chunks of 6 resamples
    monkeypatch.setattr(metrics, "_RANKING_ELEMENTS", 4 * 2000)  # ranking groups of 4
    monkeypatch.setattr(metrics, "_NARROW_GATHER_ROWS", 1000)  # counts permuted through one-byte copies
    y, candidate, baseline = binary_models(13, 2000, decimals=3)
    names = ["roc_auc", "pr_auc", "log_loss", "f1"]
    ours = paired_bootstrap(names, "binary", y, candidate, baseline, resamples=20, seed=9)
    expected = naive_paired_bootstrap(names, "binary", y, candidate, baseline, None, 20, 0.95, 9)
    for name in names:
        assert (ours[name].ci_low, ours[name].ci_high) == pytest.approx(expected[name][:2], abs=1e-12), name


def test_resamples_where_a_metric_is_undefined_are_left_out_and_counted():
    # Two positives in 30 rows: about one resample in eight draws neither, leaving the AUCs undefined.
    rng = np.random.default_rng(5)
    y = np.zeros(30, dtype=int)
    y[[3, 17]] = 1
    candidate = Predictions(labels=rng.integers(0, 2, 30), scores=np.round(rng.random(30), 1))
    baseline = Predictions(labels=rng.integers(0, 2, 30), scores=np.round(rng.random(30), 1))
    names = ["roc_auc", "pr_auc", "accuracy"]
    ours = paired_bootstrap(names, "binary", y, candidate, baseline, resamples=60, seed=3)
    expected = naive_paired_bootstrap(names, "binary", y, candidate, baseline, None, 60, 0.95, 3)
    assert ours["accuracy"].resamples_used == 60
    assert ours["roc_auc"].resamples_used < 60
    for name in names:
        assert ours[name].resamples_used == expected[name][2]
        assert ours[name].ci_low == pytest.approx(expected[name][0], abs=1e-12)
        assert ours[name].ci_high == pytest.approx(expected[name][1], abs=1e-12)


def test_bootstrap_interval_equals_a_naive_loop():
    y, candidate, _ = binary_models(6, 60)
    names = metrics_for_task("binary")
    ours = bootstrap_interval(names, "binary", y, candidate, resamples=50, seed=11)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for rows in naive_resamples(len(y), 50, 11):
        for name, value in compute_metrics(names, "binary", y[rows], rows_of(candidate, rows)).items():
            samples[name].append(value)
    point = compute_metrics(names, "binary", y, candidate)
    for name in names:
        low, high, _ = percentile_interval(samples[name], 0.95)
        assert ours[name] == pytest.approx((point[name], low, high), rel=1e-9, abs=1e-12), name


def test_identical_predictions_have_zero_delta_and_zero_width_interval():
    y, candidate, _ = binary_models(7, 300)
    same = Predictions(labels=candidate.labels.copy(), scores=candidate.scores.copy())
    result = paired_bootstrap(metrics_for_task("binary"), "binary", y, candidate, same, resamples=100)
    for estimate in result.values():
        assert (estimate.delta, estimate.ci_low, estimate.ci_high) == (0.0, 0.0, 0.0), estimate.metric
        assert estimate.resamples_used == 100


def test_same_seed_gives_the_same_interval_and_another_seed_differs():
    y, candidate, baseline = binary_models(8, 200)
    first = paired_bootstrap(["roc_auc"], "binary", y, candidate, baseline, resamples=80, seed=1)
    again = paired_bootstrap(["roc_auc"], "binary", y, candidate, baseline, resamples=80, seed=1)
    other = paired_bootstrap(["roc_auc"], "binary", y, candidate, baseline, resamples=80, seed=2)
    assert first == again
    assert (first["roc_auc"].ci_low, first["roc_auc"].ci_high) != (
        other["roc_auc"].ci_low,
        other["roc_auc"].ci_high,
    )


def test_interval_covers_a_known_accuracy_delta_in_most_seeds():
    # Each row is right with probability 0.80 (candidate) or 0.72 (baseline), independently: delta 0.08.
    covered = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        y = rng.integers(0, 2, 250)
        candidate = np.where(rng.random(250) < 0.80, y, 1 - y)
        baseline = np.where(rng.random(250) < 0.72, y, 1 - y)
        estimate = paired_bootstrap(
            ["accuracy"],
            "binary",
            y,
            Predictions(labels=candidate),
            Predictions(labels=baseline),
            resamples=200,
            seed=seed,
        )["accuracy"]
        covered += estimate.ci_low <= 0.08 <= estimate.ci_high
    assert covered >= 85


def test_interval_covers_a_known_roc_auc_delta_in_most_seeds():
    # Binormal scores: a positive's score is shifted by mu, so ROC AUC = Phi(mu / sqrt(2)).
    true_delta = 0.5 * math.erfc(-1.2 / 2) - 0.5 * math.erfc(-0.8 / 2)
    covered = 0
    for seed in range(100):
        rng = np.random.default_rng(1000 + seed)
        y = rng.integers(0, 2, 250)
        candidate = 1 / (1 + np.exp(-(1.2 * y + rng.normal(size=250))))
        baseline = 1 / (1 + np.exp(-(0.8 * y + rng.normal(size=250))))
        estimate = paired_bootstrap(
            ["roc_auc"],
            "binary",
            y,
            Predictions(scores=candidate),
            Predictions(scores=baseline),
            resamples=200,
            seed=seed,
        )["roc_auc"]
        covered += estimate.ci_low <= true_delta <= estimate.ci_high
    assert covered >= 85


def test_bootstrap_settings_are_checked():
    y, candidate, baseline = binary_models(9, 20)
    with pytest.raises(ConfigError, match="resamples must be a positive integer"):
        paired_bootstrap(["accuracy"], "binary", y, candidate, baseline, resamples=0)
    with pytest.raises(ConfigError, match="confidence must lie strictly between 0 and 1"):
        bootstrap_interval(["accuracy"], "binary", y, candidate, confidence=95)
    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        bootstrap_interval(["accuracy"], "binary", y, candidate, seed=-1)


def test_models_of_different_length_are_rejected():
    y, candidate, baseline = binary_models(10, 20)
    short = Predictions(labels=baseline.labels[:-1])
    with pytest.raises(DataError, match="have 19 rows but y_true has 20"):
        paired_bootstrap(["accuracy"], "binary", y, candidate, short)


# -- McNemar ------------------------------------------------------------------------------------------------


def labels_with_disagreements(b: int, c: int, both_right: int = 30, both_wrong: int = 5):
    """y_true and two label vectors with b rows only the baseline gets right and c only the candidate."""
    y = np.zeros(b + c + both_right + both_wrong, dtype=int)
    candidate = np.concatenate([np.ones(b), np.zeros(c), np.zeros(both_right), np.ones(both_wrong)]).astype(
        int
    )
    baseline = np.concatenate([np.zeros(b), np.ones(c), np.zeros(both_right), np.ones(both_wrong)]).astype(
        int
    )
    return y, candidate, baseline


def test_mcnemar_matches_a_hand_computed_exact_table():
    # b = 10, c = 3: p = 2 * P(Binomial(13, 1/2) <= 3) = 2 * (1 + 13 + 78 + 286) / 2**13.
    result = mcnemar_test(*labels_with_disagreements(10, 3))
    assert result.name == "mcnemar"
    assert result.details == {"b": 10, "c": 3, "method": "exact"}
    assert result.statistic == 3
    assert result.p_value == pytest.approx(2 * 378 / 8192, rel=1e-12)


def test_mcnemar_matches_a_hand_computed_chi_squared_table():
    # b = 30, c = 15: (|30 - 15| - 1)**2 / 45, and a chi-squared(1) tail is erfc(sqrt(x / 2)).
    result = mcnemar_test(*labels_with_disagreements(30, 15))
    assert result.details["method"] == "chi2"
    assert result.statistic == pytest.approx(196 / 45)
    assert result.p_value == pytest.approx(math.erfc(math.sqrt(196 / 45 / 2)), rel=1e-9)


@pytest.mark.parametrize(("b", "c"), [(0, 0), (1, 0), (7, 9), (12, 12), (20, 4), (4, 21), (40, 25), (13, 60)])
def test_mcnemar_matches_statsmodels(b, c):
    contingency_tables = pytest.importorskip(
        "statsmodels.stats.contingency_tables",
        reason="statsmodels is not installed (pip install 'mlops-actions[dev]')",
    )
    statsmodels_mcnemar = contingency_tables.mcnemar
    result = mcnemar_test(*labels_with_disagreements(b, c))
    exact = b + c < 25
    table = [[30, c], [b, 5]]  # rows: candidate right/wrong; columns: baseline right/wrong
    expected = statsmodels_mcnemar(table, exact=exact, correction=True)
    assert result.details["method"] == ("exact" if exact else "chi2")
    if b + c > 0:
        assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(min(1.0, expected.pvalue), rel=1e-9)


def test_mcnemar_rejects_labels_of_another_length():
    with pytest.raises(DataError, match="one length"):
        mcnemar_test(np.array([0, 1]), np.array([0, 1]), np.array([0]))


# -- DeLong ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("decimals", [1, 3, 8])
def test_delong_matches_the_pairwise_reference(decimals):
    y, candidate, baseline = binary_models(20 + decimals, 150, decimals=decimals)
    result = delong_test(y, candidate.scores, baseline.scores)
    auc_c, auc_b, se = pairwise_delong(y, candidate.scores, baseline.scores)
    assert result.name == "delong"
    assert result.details["auc_candidate"] == pytest.approx(skm.roc_auc_score(y, candidate.scores), rel=1e-12)
    assert result.details["auc_baseline"] == pytest.approx(skm.roc_auc_score(y, baseline.scores), rel=1e-12)
    assert result.details["auc_candidate"] == pytest.approx(auc_c, rel=1e-12)
    assert result.details["se"] == pytest.approx(se, rel=1e-9)
    z = (auc_c - auc_b) / se
    assert result.statistic == pytest.approx(z, rel=1e-9)
    assert result.details["z"] == result.statistic
    assert result.p_value == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), rel=1e-9)


def test_delong_of_identical_scores_is_not_significant():
    y, candidate, _ = binary_models(30, 100)
    result = delong_test(y, candidate.scores, candidate.scores)
    assert (result.statistic, result.p_value, result.details["delta"]) == (0.0, 1.0, 0.0)


def test_delong_finds_a_clearly_better_model():
    y, candidate, baseline = binary_models(31, 2000)
    result = delong_test(y, candidate.scores, baseline.scores)
    assert result.statistic > 0
    assert result.p_value < 1e-6


def test_delong_is_nan_without_two_rows_of_each_class():
    result = delong_test(
        np.array([0, 0, 0, 1]), np.array([0.1, 0.2, 0.3, 0.9]), np.array([0.2, 0.1, 0.4, 0.5])
    )
    assert math.isnan(result.statistic) and math.isnan(result.p_value)
    assert "two rows of each class" in str(result.details["note"])


def test_delong_rejects_non_binary_targets_and_missing_scores():
    with pytest.raises(DataError, match="binary y_true"):
        delong_test(np.array([0, 1, 2, 1]), np.full(4, 0.5), np.full(4, 0.5))
    with pytest.raises(DataError, match="finite scores"):
        delong_test(np.array([0, 1, 0, 1]), np.array([0.1, np.nan, 0.3, 0.4]), np.full(4, 0.5))
    with pytest.raises(DataError, match="one length"):
        delong_test(np.array([0, 1, 0, 1]), np.full(3, 0.5), np.full(4, 0.5))
