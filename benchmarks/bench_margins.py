"""How much each metric moves between "equal" models: the noise the default negligible margins must absorb.

Two models trained by the same code on the same kind of data are not identical: a learner with a random
state gives another model with another seed, and any learner gives another model when the training rows
are another draw of the same population. This benchmark retrains such models and measures every metric on
the full evaluation set, so the spread it prints is retraining noise alone (the eval rows never change):

  binary      example_project's credit-default pipeline (data/train.csv, data/eval.csv):
              - the project's LogisticRegression on bootstrap resamples of the training rows;
              - the same features with a random forest of 100 trees, one model per seed;
              - the same features with an SGD logistic regression, one model per seed.
  regression  a synthetic table (8,000 train and 4,000 eval rows, 6 features, a linear signal plus noise):
              - Ridge on bootstrap resamples of the training rows;
              - SGDRegressor, one model per seed.

For every metric it prints, over all pairs of retrained models, the 95th percentile of |Δ| on the eval
set the gate would use (4,000 rows: retraining noise plus the eval rows' own sampling of the paired
difference), and the median and 95th percentile of |Δ| on a population sample of 100,000 rows from the
same generator (nearly pure retraining noise: the true difference between two "equal" models, which no eval
set can make disappear), all relative to the metric's value for rmse, mae and mape (their margins are
fractions of the baseline), next to the metric's default ``margin`` and ``notable`` size.

    .venv/bin/python benchmarks/bench_margins.py             # about a minute
    .venv/bin/python benchmarks/bench_margins.py --models 10 # a smoke run
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"


POPULATION_ROWS = 100_000


def _binary_models(models: int, seed: int) -> tuple[Any, Any, dict[str, list[tuple[Any, Any]]]]:
    """Eval labels, population labels and, per retraining kind, each retrained credit-default model's
    predictions on both."""
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import Pipeline

    sys.path.insert(0, str(EXAMPLE))
    sys.path.insert(0, str(EXAMPLE / "data"))
    from credit_model.features import RATIO_FEATURES, LoanFeatures, build_preprocessor
    from credit_model.train import train_model
    from generate import generate_loans

    from mlops_actions.domain.metrics import Predictions

    train = pd.read_csv(EXAMPLE / "data" / "train.csv")
    evaluation = pd.read_csv(EXAMPLE / "data" / "eval.csv")
    population = pd.DataFrame(generate_loans(POPULATION_ROWS, seed=seed + 1))
    target, drop = "defaulted", ["defaulted", "loan_id"]
    x_train, y_train = train.drop(columns=drop), train[target]
    tables = [(t.drop(columns=drop), t[target].to_numpy().astype(np.int64)) for t in (evaluation, population)]
    params = {"C": 1.0, "max_iter": 1000}

    def predictions(model: Any) -> tuple[Any, Any]:
        out = []
        for x, _ in tables:
            scores = model.predict_proba(x)[:, 1]
            out.append(Predictions(labels=(scores >= 0.5).astype(np.int64), scores=scores))
        return out[0], out[1]

    rng = np.random.default_rng(seed)
    bootstrap = []
    for _ in range(models):
        rows = rng.integers(0, len(train), len(train))
        bootstrap.append(predictions(train_model(x_train.iloc[rows], y_train.iloc[rows], params)))

    def seeded(estimator: Any) -> tuple[Any, Any]:
        pipeline = Pipeline(
            [
                ("features", LoanFeatures(ratios=RATIO_FEATURES)),
                ("preprocess", build_preprocessor()),
                ("model", estimator),
            ]
        )
        return predictions(pipeline.fit(x_train, y_train))

    forests = [
        seeded(RandomForestClassifier(n_estimators=100, min_samples_leaf=20, random_state=s))
        for s in range(models)
    ]
    sgd = [seeded(SGDClassifier(loss="log_loss", alpha=1e-4, random_state=s)) for s in range(models)]
    return (
        tables[0][1],
        tables[1][1],
        {
            "LogisticRegression, bootstrap of the training rows": bootstrap,
            "random forest (100 trees), another seed": forests,
            "SGD logistic regression, another seed": sgd,
        },
    )


def _regression_models(models: int, seed: int) -> tuple[Any, Any, dict[str, list[tuple[Any, Any]]]]:
    """Eval targets, population targets and, per retraining kind, each retrained model's predictions on both."""
    import numpy as np
    from sklearn.linear_model import Ridge, SGDRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mlops_actions.domain.metrics import Predictions

    rng = np.random.default_rng([seed, 1])
    weights = np.array([3.0, -2.0, 1.5, 1.0, 0.5, 0.25])
    x = rng.normal(size=(12_000 + POPULATION_ROWS, len(weights)))
    y = 50.0 + x @ weights + rng.normal(scale=3.0, size=len(x))
    x_train, y_train = x[:8000], y[:8000]
    parts = [(x[8000:12_000], y[8000:12_000]), (x[12_000:], y[12_000:])]

    def predictions(model: Any) -> tuple[Any, Any]:
        return Predictions(values=model.predict(parts[0][0])), Predictions(values=model.predict(parts[1][0]))

    bootstrap = []
    for _ in range(models):
        rows = rng.integers(0, len(x_train), len(x_train))
        bootstrap.append(predictions(Ridge(alpha=1.0).fit(x_train[rows], y_train[rows])))
    by_seed = []
    for model_seed in range(models):
        model = make_pipeline(StandardScaler(), SGDRegressor(random_state=model_seed)).fit(x_train, y_train)
        by_seed.append(predictions(model))
    return (
        parts[0][1],
        parts[1][1],
        {"Ridge, bootstrap of the training rows": bootstrap, "SGDRegressor, another seed": by_seed},
    )


def pairwise_moves(task: str, y: Any, predictions: list[Any]) -> dict[str, tuple[float, float, float]]:
    """Per metric: (median |Δ|, 95th percentile |Δ|, mean value) over all pairs of retrained models.

    |Δ| is relative to the pair's mean value for metrics whose sizes are fractions of the baseline.
    """
    import numpy as np

    from mlops_actions.domain.metric_names import METRICS, metrics_for_task
    from mlops_actions.domain.metrics import compute_metrics

    names = metrics_for_task(task)
    values = [compute_metrics(names, task, y, p, 2 if task == "binary" else None) for p in predictions]
    moves = {}
    for name in names:
        column = np.array([v[name] for v in values], dtype=float)
        deltas = []
        for a, b in itertools.combinations(range(len(column)), 2):
            delta = abs(column[a] - column[b])
            if METRICS[name].relative_sizes:
                delta /= abs((column[a] + column[b]) / 2)
            deltas.append(delta)
        moves[name] = (
            float(np.median(deltas)),
            float(np.percentile(deltas, 95)),
            float(column.mean()),
        )
    return moves


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=30, help="retrained models per kind (default: 30)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resampling (default: 0)")
    args = parser.parse_args(argv)

    from mlops_actions.domain.metric_names import METRICS

    started = time.perf_counter()
    print(f"{args.models} retrained models per kind, all {args.models * (args.models - 1) // 2} pairs")
    print(
        f"{'metric':<19}{'retraining':<53}{'value':>8}{'eval p95':>10}{'pop. median':>12}{'pop. p95':>10}"
        f"{'margin':>9}{'notable':>9}"
    )
    for task, build in (("binary", _binary_models), ("regression", _regression_models)):
        y_eval, y_population, kinds = build(args.models, args.seed)
        on_eval = {k: pairwise_moves(task, y_eval, [m[0] for m in models]) for k, models in kinds.items()}
        on_population = {
            k: pairwise_moves(task, y_population, [m[1] for m in models]) for k, models in kinds.items()
        }
        for name in next(iter(on_eval.values())):
            info = METRICS[name]
            unit = "%" if info.relative_sizes else " "
            scale = 100.0 if info.relative_sizes else 1.0
            for kind in kinds:
                _, eval_p95, value = on_eval[kind][name]
                median, p95, _ = on_population[kind][name]
                print(
                    f"{name:<19}{kind:<53}{value:>8.4f}{eval_p95 * scale:>9.4f}{unit}{median * scale:>11.4f}{unit}"
                    f"{p95 * scale:>9.4f}{unit}{info.margin * scale:>8.4f}{unit}{info.notable * scale:>8.4f}{unit}"
                )
    print(f"took {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
