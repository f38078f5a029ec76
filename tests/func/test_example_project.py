"""The example project keeps its promises: reproducible data, clean ready-made changes, passing project
tests, and the documented effect of each change on ROC AUC (paired bootstrap on the evaluation rows)."""

from __future__ import annotations

import contextlib
import importlib
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from mlops_actions.domain.config import Config, load_config
from mlops_actions.domain.datasets import feature_columns

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"
CHANGES = ("add-debt-to-income", "broken-feature", "retrain-same")
BASELINE = "baseline"
STACKED_BUG = "add-debt-to-income+broken-feature"  # the demo merges the first change, then meets the bug
VARIANTS: dict[str, tuple[str, ...]] = {
    BASELINE: (),
    **{change: (change,) for change in CHANGES},
    STACKED_BUG: ("add-debt-to-income", "broken-feature"),
}
RESAMPLES = 300
SEED = 0
NOT_COPIED = shutil.ignore_patterns(".github", ".mlops", "mlops-out", "__pycache__", ".pytest_cache")


def copy_project(dest: Path, changes: tuple[str, ...] = ()) -> Path:
    """A copy of the example project in a fresh git repository, with the changes applied in order."""
    shutil.copytree(EXAMPLE, dest, ignore=NOT_COPIED)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True, capture_output=True)
    for change in changes:
        subprocess.run(["git", "apply", f"changes/{change}.patch"], cwd=dest, check=True, capture_output=True)
    return dest


@contextlib.contextmanager
def project_modules(root: Path) -> Iterator[ModuleType]:
    """Import credit_model.train from ``root``; restore sys.path and sys.modules afterwards."""

    def is_project_module(name: str) -> bool:
        return name == "credit_model" or name.startswith("credit_model.")

    saved_path = list(sys.path)
    saved_modules = {name: sys.modules.pop(name) for name in list(sys.modules) if is_project_module(name)}
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield importlib.import_module("credit_model.train")
    finally:
        for name in [name for name in sys.modules if is_project_module(name)]:
            del sys.modules[name]
        sys.modules.update(saved_modules)
        sys.path[:] = saved_path


def bootstrap_weights(n_rows: int, resamples: int, seed: int) -> np.ndarray:
    """How often each row is drawn in each resample (resamples x rows), for paired resampling."""
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, n_rows, size=(resamples, n_rows))
    flat = (drawn + np.arange(resamples)[:, None] * n_rows).ravel()
    return np.bincount(flat, minlength=resamples * n_rows).reshape(resamples, n_rows)


def weighted_auc(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC for each row of ``weights`` (row multiplicities); ties count one half."""
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    w = np.atleast_2d(weights)[:, order].astype(float)
    positive = labels[order] == 1
    pos = np.add.reduceat(np.where(positive, w, 0.0), starts, axis=1)
    neg = np.add.reduceat(np.where(positive, 0.0, w), starts, axis=1)
    negatives_below = np.cumsum(neg, axis=1) - neg
    return (pos * (negatives_below + 0.5 * neg)).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    return float(weighted_auc(scores, labels, np.ones(len(scores)))[0])


def paired_interval(candidate: np.ndarray, baseline: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """95% paired bootstrap interval of candidate minus baseline ROC AUC."""
    weights = bootstrap_weights(len(labels), RESAMPLES, SEED)
    deltas = weighted_auc(candidate, labels, weights) - weighted_auc(baseline, labels, weights)
    low, high = np.percentile(deltas, [2.5, 97.5])
    return float(low), float(high)


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(EXAMPLE / "mlops.yaml")


@pytest.fixture(scope="module")
def eval_rows(config: Config) -> pd.DataFrame:
    assert config.eval_data is not None
    return pd.read_csv(config.eval_data)


@pytest.fixture(scope="module")
def labels(eval_rows: pd.DataFrame, config: Config) -> np.ndarray:
    return eval_rows[config.target].to_numpy()


@pytest.fixture(scope="module")
def predictions(
    tmp_path_factory: pytest.TempPathFactory, config: Config, eval_rows: pd.DataFrame
) -> dict[str, np.ndarray]:
    """Eval-row default probabilities of every variant of the project, trained via the entrypoint."""
    train_rows = pd.read_csv(config.train_data)
    features = feature_columns(train_rows, config, config.train_data)
    module_name, function_name = str(config.train_entrypoint).split(":")
    assert module_name == "credit_model.train"
    probabilities = {}
    for variant, changes in VARIANTS.items():
        root = copy_project(tmp_path_factory.mktemp("variant") / "project", changes)
        with project_modules(root) as module:
            model = getattr(module, function_name)(
                train_rows[features], train_rows[config.target], dict(config.train_params)
            )
            probabilities[variant] = model.predict_proba(eval_rows[features])[:, 1]
    return probabilities


def allowed_auc_change(config: Config, *, slices: bool) -> float:
    """The allowed ROC AUC change of the gate rule judged overall (slices=False) or also per slice."""
    changes = [r.allowed_change for r in config.rules if r.metric == "roc_auc" and r.slices == slices]
    return next(change for change in changes if change is not None)


def test_config_validates_and_names_the_project_parts(config):
    assert config.model_name == "credit-default"
    assert config.task == "binary"
    assert config.train_entrypoint == "credit_model.train:train_model"
    assert config.trusted_types == ("credit_model.features.LoanFeatures",)
    assert (config.target, config.id_column, config.slices) == ("defaulted", "loan_id", ("region",))
    assert config.primary_metric == "roc_auc"
    assert (config.registry_backend, config.registry_options) == ("local", {"path": ".mlops/registry"})
    assert config.baseline_source == "auto"


def test_generator_reproduces_the_shipped_csvs_byte_for_byte(tmp_path):
    subprocess.run(
        [sys.executable, str(EXAMPLE / "data" / "generate.py"), "--out-dir", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in ("train.csv", "eval.csv"):
        assert (tmp_path / name).read_bytes() == (EXAMPLE / "data" / name).read_bytes(), name


def test_shipped_data_is_small_with_a_plausible_default_rate(config, eval_rows):
    train_rows = pd.read_csv(config.train_data)
    assert (len(train_rows), len(eval_rows)) == (8_000, 4_000)
    assert config.train_data.stat().st_size + config.eval_data.stat().st_size < 2_000_000
    for rows in (train_rows, eval_rows):
        assert 0.15 <= rows["defaulted"].mean() <= 0.25
        assert sorted(rows["region"].unique()) == ["central", "east", "north", "south", "west"]
    ids = pd.concat([train_rows["loan_id"], eval_rows["loan_id"]])
    assert ids.is_unique


def test_changes_folder_holds_the_documented_changes():
    assert sorted(p.stem for p in (EXAMPLE / "changes").glob("*.patch")) == sorted(CHANGES)


@pytest.mark.parametrize("variant", [*CHANGES, STACKED_BUG])
def test_change_applies_cleanly_to_the_project(tmp_path, variant):
    *applied, change = VARIANTS[variant]
    root = copy_project(tmp_path / "project", tuple(applied))
    result = subprocess.run(
        ["git", "apply", "--check", f"changes/{change}.patch"], cwd=root, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("variant", [BASELINE, "broken-feature"])
def test_project_tests_pass_with_the_configured_command(tmp_path, config, variant):
    root = copy_project(tmp_path / "project", VARIANTS[variant])
    junit = tmp_path / "junit.xml"
    command = shlex.split(str(config.tests_command).format(junit=shlex.quote(str(junit))))
    assert command[0] == "python"
    result = subprocess.run(
        [sys.executable, *command[1:], "-p", "no:cacheprovider"], cwd=root, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-2000:]
    report = ET.parse(junit).getroot()
    suite = report if report.tag == "testsuite" else report.find("testsuite")
    assert suite is not None
    assert int(suite.get("tests", "0")) >= 10
    assert suite.get("failures") == "0"
    assert suite.get("errors") == "0"


def test_weighted_auc_matches_the_pair_counting_definition():
    rng = np.random.default_rng(3)
    scores = np.round(rng.random(60), 1)  # many ties
    labels = (rng.random(60) < 0.4).astype(int)
    pos, neg = scores[labels == 1], scores[labels == 0]
    pairs = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    assert auc(scores, labels) == pytest.approx(pairs.mean())
    drawn = rng.integers(0, 60, 60)
    weights = np.bincount(drawn, minlength=60)
    assert weighted_auc(scores, labels, weights)[0] == pytest.approx(auc(scores[drawn], labels[drawn]))


def test_baseline_clears_the_configured_auc_minimum(config, predictions, labels):
    minimum = next(r.min for r in config.rules if r.metric == "roc_auc" and r.min is not None)
    assert auc(predictions[BASELINE], labels) >= minimum + 0.1


def test_debt_to_income_change_improves_auc_beyond_noise(predictions, labels):
    low, high = paired_interval(predictions["add-debt-to-income"], predictions[BASELINE], labels)
    assert low > 0.005, (low, high)


BUG_COMPARISONS = [("broken-feature", BASELINE), (STACKED_BUG, "add-debt-to-income")]


@pytest.mark.parametrize(("candidate", "baseline"), BUG_COMPARISONS)
def test_broken_feature_change_degrades_auc_beyond_the_allowed_change(
    config, predictions, labels, candidate, baseline
):
    low, high = paired_interval(predictions[candidate], predictions[baseline], labels)
    assert high < allowed_auc_change(config, slices=False), (low, high)


@pytest.mark.parametrize(("candidate", "baseline"), BUG_COMPARISONS)
def test_broken_feature_change_hurts_the_east_region_most(
    config, predictions, labels, eval_rows, candidate, baseline
):
    region = eval_rows["region"].to_numpy()
    deltas = {
        name: auc(predictions[candidate][region == name], labels[region == name])
        - auc(predictions[baseline][region == name], labels[region == name])
        for name in np.unique(region)
    }
    assert min(deltas, key=deltas.__getitem__) == "east", deltas
    assert deltas["east"] < 2 * allowed_auc_change(config, slices=True), deltas
    assert all(delta > -0.03 for name, delta in deltas.items() if name != "east"), deltas


def test_retrain_same_change_predicts_exactly_like_the_baseline(predictions):
    np.testing.assert_array_equal(predictions["retrain-same"], predictions[BASELINE])


def test_trained_model_loads_trusting_only_the_configured_types(tmp_path, config):
    from mlops_actions.domain.model_io import load_model, save_model
    from mlops_actions.domain.trust import Trust

    root = copy_project(tmp_path / "project")
    rows = pd.read_csv(config.train_data, nrows=1_000)
    features = feature_columns(rows, config, config.train_data)
    with project_modules(root) as module:
        X = rows[features]
        model = module.train_model(X, rows[config.target], dict(config.train_params))
        path = tmp_path / "model.skops"
        digest = save_model(model, path)
        loaded = load_model(path, expected_digest=digest, trust=Trust.from_config(config), import_root=root)
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
