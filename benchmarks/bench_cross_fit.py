"""What ``gate.evaluation: cross_fit`` buys on example_project, and what it costs.

Three measurements, printed as tables:

1. **Power.** The example's code (credit_model.train:train_model) is the baseline, scored on the eval rows
   (holdout: trained on data/train.csv) or out of fold over all 12,000 train + eval rows (cross_fit, the
   check's own fold assignment and training), in each of ``--repeats`` repetitions stacked (r x 12,000
   rows; repetition 0 is the single cross-fit, so r repetitions are the first r x 12,000 rows of the most).
   The candidate is the baseline with its log-odds degraded by Gaussian noise whose size is calibrated, per
   mode, to a mean ROC AUC change of -0.005; a row's noise is the same in every repetition (the candidate is
   worse on that row wherever it is scored: the conservative choice, repetitions then only help through the
   baseline's fold models). Each of ``--trials`` trials draws a fresh eval set of the same size (the distinct
   rows with replacement, each with its r stacked copies), a fresh noise and a bootstrap seed. Printed: the
   mean and spread of the delta across trials, the gate's standard error of the ROC AUC delta (raw, and
   cross_fit times ``cross_fit_inflation(k, r)``), the minimum detectable effect at 80%
   power ``-bound + (z(0.975) + z(0.8)) * se`` for the default rule (``allowed_change: 0`` with ROC AUC's
   margin as bound), and the share of trials whose interval rule fails (the power for a 0.5-point
   regression). The noise candidate is the baseline's own model, so training variability cancels in this
   scenario; the calibration below has two codes.
2. **Calibration of the variance correction.** On ``--datasets`` fresh data sets drawn by
   example_project/data/generate.py (other seeds), two different codes (C = 1 and C = 0.01) are compared in
   both modes (cross_fit: each of ``--repeats``). The spread of the estimated delta across data sets is the
   true standard error; it is set against the median bootstrap standard error (cross_fit: before and after
   the inflation).
3. **Cost.** Wall time of ``mlops-actions check`` on a copy of example_project in a git repository with the
   add-debt-to-income change, baseline retrained from the merge-base, holdout vs cross_fit (``--folds``, each
   of ``--repeats``).

    .venv/bin/python benchmarks/bench_cross_fit.py                  # 50 trials, 20 data sets, timing
    .venv/bin/python benchmarks/bench_cross_fit.py --trials 200 --datasets 0 --no-timing   # power only
    .venv/bin/python benchmarks/bench_cross_fit.py --folds 10 --repeats 1,2,3 --datasets 0 --no-timing
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "example_project"
TARGET_EFFECT = -0.005  # the ROC AUC regression the power is stated for
NOT_COPIED = shutil.ignore_patterns(".github", ".mlops", "mlops-out", "__pycache__", ".pytest_cache")


def example_config(root: Path, folds: int, repeats: int) -> Any:
    """The example's config (read from ``root``), ROC AUC only, cross-fitting with ``folds`` folds in
    ``repeats`` repetitions."""
    from mlops_actions.domain.config import load_config

    config = load_config(root / "mlops.yaml")
    return replace(
        config, metrics=("roc_auc",), slices=(), folds=folds, repeats=repeats, evaluation="cross_fit"
    )


def holdout_and_cross_fit(config: Any, workdir: Path) -> tuple[Any, Any]:
    """The example code's predictions: on the eval rows (trained on the train rows) and out of fold
    (``config.repeats`` repetitions stacked)."""
    from mlops_actions.domain.cross_fit import candidate_out_of_fold, plan_folds
    from mlops_actions.domain.evaluation import evaluate
    from mlops_actions.domain.training import train

    trained = train(config, workdir / "model")
    holdout = evaluate(trained.directory, trained.datasets.eval, config).scored
    plan = plan_folds(trained.datasets, config, workdir / "folds")
    assert not isinstance(plan, str), plan
    return holdout, candidate_out_of_fold(config, plan, holdout.classes, workdir / "oof")


def degraded(scores: np.ndarray, sigma: float, seed: int, repeats: int = 1) -> np.ndarray:
    """Probabilities whose log-odds carry Gaussian noise of standard deviation ``sigma``; ``scores`` are
    ``repeats`` stacked copies of the same rows, and a row's noise is the same in each."""
    clipped = np.clip(scores, 1e-9, 1 - 1e-9)
    noise = np.random.default_rng(seed).normal(0.0, sigma, len(scores) // repeats)
    logit = np.log(clipped / (1 - clipped)) + np.tile(noise, repeats)
    return 1.0 / (1.0 + np.exp(-logit))


def first_repeats(scored: Any, repeats: int, rows: int) -> Any:
    """The first ``repeats`` repetitions (``repeats`` x ``rows`` stacked rows) of stacked out-of-fold predictions."""
    return scored.rows_at(slice(0, repeats * rows))


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, scores))


def calibrate_noise(
    y: np.ndarray, scores: np.ndarray, effect: float, repeats: int = 1, draws: int = 24
) -> float:
    """The log-odds noise whose mean ROC AUC change over ``draws`` draws is ``effect`` (bisection)."""
    base = roc_auc(y, scores)

    def mean_change(sigma: float) -> float:
        return statistics.fmean(
            roc_auc(y, degraded(scores, sigma, 10_000 + d, repeats)) - base for d in range(draws)
        )

    low, high = 0.0, 4.0
    for _ in range(30):
        middle = (low + high) / 2
        if mean_change(middle) > effect:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def delta_estimate(
    candidate: np.ndarray,
    baseline: Any,
    seed: int,
    resamples: int,
    inflation: float,
    rows: np.ndarray | None = None,
) -> Any:
    """The gate's paired-bootstrap estimate of the ROC AUC delta, on ``rows`` (default: all) of ``baseline``."""
    from mlops_actions.domain.metrics import Predictions
    from mlops_actions.domain.stats import paired_bootstrap

    rows = np.arange(baseline.rows) if rows is None else rows
    scores = baseline.predictions.scores[rows]
    return paired_bootstrap(
        ["roc_auc"],
        "binary",
        baseline.y_true[rows],
        Predictions(labels=(candidate[rows] >= 0.5).astype(np.int64), scores=candidate[rows]),
        Predictions(labels=(scores >= 0.5).astype(np.int64), scores=scores),
        resamples=resamples,
        seed=seed,
        inflation=inflation,
    )["roc_auc"]


def power_rows(
    config: Any, repeats: list[int], trials: int, resamples: int, workdir: Path
) -> list[dict[str, Any]]:
    from mlops_actions.domain.inference import cross_fit_inflation, detectable_beyond_bound
    from mlops_actions.domain.metric_names import METRICS

    bound = -METRICS["roc_auc"].margin  # the default rule: allowed_change 0 with the metric's margin
    alpha = (1 - config.confidence) / 2
    holdout, oof = holdout_and_cross_fit(replace(config, repeats=max(repeats)), workdir)
    distinct = oof.rows // max(repeats)
    rows = []
    for mode, baseline, inflation, r in (
        ("holdout", holdout, 1.0, 1),
        *(
            (
                f"cross_fit k={config.folds} r={r}",
                first_repeats(oof, r, distinct),
                cross_fit_inflation(config.folds, r),
                r,
            )
            for r in repeats
        ),
    ):
        scores = baseline.predictions.scores
        n = baseline.rows // r
        sigma = calibrate_noise(baseline.y_true, scores, TARGET_EFFECT, r)
        deltas, ses, mdes, failures = [], [], [], 0
        for trial in range(trials):
            # A fresh eval set of the same size (the distinct rows drawn with replacement, each with its r
            # stacked copies), a fresh noise draw.
            picked = np.random.default_rng(50_000 + trial).integers(0, n, n)
            drawn = np.concatenate([j * n + picked for j in range(r)])
            candidate = degraded(scores, sigma, trial, r)
            estimate = delta_estimate(candidate, baseline, trial, resamples, inflation, drawn)
            deltas.append(estimate.delta)
            ses.append(estimate.se)
            mdes.append(-bound + detectable_beyond_bound(estimate.se, alpha))
            failures += estimate.ci_high < bound
        rows.append(
            {
                "mode": mode,
                "rows": baseline.rows,
                "sigma": sigma,
                "delta": statistics.fmean(deltas),
                "true_se": statistics.stdev(deltas),
                "se": statistics.median(ses),
                "raw_se": statistics.median(ses) / inflation,
                "inflation": inflation,
                "mde": statistics.median(mdes),
                "power": failures / trials,
            }
        )
    return rows


def fresh_tables(seed: int, directory: Path) -> tuple[Path, Path]:
    """train.csv and eval.csv of a fresh example data set (generate.py's stream with another seed)."""
    sys.path.insert(0, str(EXAMPLE / "data"))
    try:
        import generate
    finally:
        sys.path.remove(str(EXAMPLE / "data"))
    directory.mkdir(parents=True, exist_ok=True)
    columns = generate.generate_loans(generate.TRAIN_ROWS + generate.EVAL_ROWS, seed=seed)
    train_file, eval_file = directory / "train.csv", directory / "eval.csv"
    train_file.write_text(generate.to_csv_text(columns, slice(0, generate.TRAIN_ROWS)))
    eval_file.write_text(generate.to_csv_text(columns, slice(generate.TRAIN_ROWS, None)))
    return train_file, eval_file


def calibration_rows(
    config: Any, repeats: list[int], datasets: int, resamples: int, workdir: Path
) -> list[dict[str, Any]]:
    from mlops_actions.domain.inference import cross_fit_inflation

    modes = {"holdout": (1, 1.0)} | {
        f"cross_fit r={r}": (r, cross_fit_inflation(config.folds, r)) for r in repeats
    }
    found: dict[str, dict[str, list[float]]] = {mode: {"delta": [], "se": []} for mode in modes}
    most = replace(config, repeats=max(repeats))
    for number in range(datasets):
        train_file, eval_file = fresh_tables(1_000 + number, workdir / f"data-{number}")
        base = replace(most, train_data=train_file, eval_data=eval_file)
        other = replace(base, train_params={**dict(config.train_params), "C": 0.01})
        base_holdout, base_oof = holdout_and_cross_fit(base, workdir / f"base-{number}")
        other_holdout, other_oof = holdout_and_cross_fit(other, workdir / f"other-{number}")
        distinct = base_oof.rows // max(repeats)
        for mode, (r, _) in modes.items():
            candidate, baseline = (
                (other_holdout, base_holdout)
                if mode == "holdout"
                else (first_repeats(other_oof, r, distinct), first_repeats(base_oof, r, distinct))
            )
            estimate = delta_estimate(candidate.predictions.scores, baseline, number, resamples, 1.0)
            found[mode]["delta"].append(estimate.delta)
            found[mode]["se"].append(estimate.se)
    rows = []
    for mode, values in found.items():
        spread = statistics.stdev(values["delta"])
        se = statistics.median(values["se"])
        factor = modes[mode][1]
        rows.append(
            {
                "mode": mode,
                "datasets": datasets,
                "mean_delta": statistics.fmean(values["delta"]),
                "true_se": spread,
                "bootstrap_se": se,
                "reported_se": se * factor,
                "needed_inflation": spread / se,
                "inflation": factor,
            }
        )
    return rows


def git(args: list[str], cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.email=bench@example.com", "-c", "user.name=bench", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def check_seconds(
    workdir: Path, evaluation: str, folds: int, repeats: int
) -> tuple[float, dict[str, float], str]:
    """Wall time of ``mlops-actions check`` with a retrained merge-base baseline, its step timings, verdict."""
    import yaml

    project = workdir / f"project-{evaluation}-{repeats}"
    shutil.copytree(EXAMPLE, project, ignore=NOT_COPIED)
    git(["init", "-q", "-b", "main"], project)
    git(["add", "-A"], project)
    git(["commit", "-qm", "base"], project)
    git(["checkout", "-qb", "change"], project)
    git(["apply", "changes/add-debt-to-income.patch"], project)
    document = yaml.safe_load((project / "mlops.yaml").read_text())
    document["gate"].update(evaluation=evaluation, folds=folds, repeats=repeats)
    document["baseline"]["source"] = "retrain"
    (project / "mlops.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    git(["commit", "-qam", "change"], project)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GITLAB_", "CI"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_actions", "check", "--config", "mlops.yaml", "--output-dir", "out"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"check ({evaluation}) exited {proc.returncode}: {proc.stderr[-2000:]}")
    import json

    result = json.loads((project / "out" / "mlops-result.json").read_text())
    return seconds, result["timings"], result["verdict"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--trials", type=int, default=50, help="noise draws and bootstrap seeds (default: 50)"
    )
    parser.add_argument("--folds", type=int, default=5, help="cross_fit folds (default: 5)")
    parser.add_argument(
        "--repeats",
        type=lambda text: sorted({int(part) for part in text.split(",")}),
        default=[1, 2],
        help="cross_fit repetitions to measure, comma-separated (default: 1,2)",
    )
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default: 1000)")
    parser.add_argument(
        "--datasets", type=int, default=20, help="fresh data sets for the calibration (default: 20)"
    )
    parser.add_argument("--no-timing", action="store_true", help="skip the wall time of the two checks")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))

    with tempfile.TemporaryDirectory(prefix="bench-cross-fit-") as tmp:
        workdir = Path(tmp)
        config = example_config(EXAMPLE, args.folds, 1)
        if args.trials > 0:
            z = "(z(0.975) + z(0.8))"
            print(f"Power for a {TARGET_EFFECT:+.3f} ROC AUC regression, default rule, {args.trials} trials")
            print(
                f"mean and sd of Δ across trials; se, mde: medians; mde = -bound + {z} * se, bound = -margin"
            )
            print(
                f"{'mode':<18} {'rows':>6} {'noise':>6} {'mean Δ':>8} {'sd Δ':>8} {'raw se':>8} {'infl':>5} {'se':>8} "
                f"{'mde':>7} {'power':>6}"
            )
            for row in power_rows(config, args.repeats, args.trials, args.resamples, workdir / "power"):
                print(
                    f"{row['mode']:<18} {row['rows']:>6} {row['sigma']:>6.3f} {row['delta']:>+8.4f} {row['true_se']:>8.5f} "
                    f"{row['raw_se']:>8.5f} "
                    f"{row['inflation']:>5.2f} {row['se']:>8.5f} {row['mde']:>7.4f} {row['power']:>6.0%}"
                )
            sys.stdout.flush()

        if args.datasets >= 3:
            print()
            print(
                f"Calibration: C=0.01 vs C=1 on {args.datasets} fresh data sets (true se = spread of the delta)"
            )
            print(
                f"{'mode':<14} {'mean delta':>10} {'true se':>8} {'boot se':>8} {'reported':>8} {'needed':>7} {'used':>5}"
            )
            for row in calibration_rows(
                config, args.repeats, args.datasets, min(args.resamples, 500), workdir / "calibration"
            ):
                print(
                    f"{row['mode']:<14} {row['mean_delta']:>+10.4f} {row['true_se']:>8.5f} {row['bootstrap_se']:>8.5f} "
                    f"{row['reported_se']:>8.5f} {row['needed_inflation']:>7.2f} {row['inflation']:>5.2f}"
                )
            sys.stdout.flush()

        if not args.no_timing:
            print()
            print("Cost: wall time of mlops-actions check (add-debt-to-income, merge-base retrained)")
            for evaluation, repeats in (("holdout", 1), *(("cross_fit", r) for r in args.repeats)):
                seconds, timings, verdict = check_seconds(workdir / "timing", evaluation, args.folds, repeats)
                steps = ", ".join(f"{name} {value:.1f}" for name, value in timings.items() if value >= 0.5)
                label = evaluation if evaluation == "holdout" else f"cross_fit k={args.folds} r={repeats}"
                print(f"{label:<18} {seconds:>6.1f} s  verdict {verdict}  ({steps})")
                sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
