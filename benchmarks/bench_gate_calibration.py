"""How often the gate's change rule fails equally good models (A/A) and catches truly worse ones (power).

Each trial draws a fresh evaluation set and two models' scores from a binormal model: a row's score is
``mu * y + sqrt(rho) * shared + sqrt(1 - rho) * own`` (through a sigmoid), where ``shared`` is noise both
models make (they learn from the same data) and ``own`` is each model's independent noise (another seed).
Each model's ROC AUC is then Phi(mu / sqrt(2)). In A/A trials both models have the same mu; in the other
scenarios the candidate's mu gives a ROC AUC lower by the margin.

The rule "allowed change 0 on roc_auc" is judged two ways:
  point:    fail iff the point estimate of the delta is below 0
  interval: fail iff the whole paired bootstrap interval of the delta is below 0 (ci_high < 0)
The fail rate is the false-alarm rate in A/A trials and the power in the others.

    .venv/bin/python benchmarks/bench_gate_calibration.py            # < 1 minute
    .venv/bin/python benchmarks/bench_gate_calibration.py --trials 500 --rows 5000
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from statistics import NormalDist


def scenario_fail_rates(
    *,
    margin: float,
    auc: float,
    rows: int,
    correlation: float,
    trials: int,
    resamples: int,
    confidence: float,
    seed: int,
) -> dict[str, float]:
    """Fail rates of both decision rules over the trials, with the median interval width."""
    import numpy as np

    from mlops_actions.domain.metrics import Predictions
    from mlops_actions.domain.stats import paired_bootstrap

    normal = NormalDist()
    mu_baseline = math.sqrt(2) * normal.inv_cdf(auc)
    mu_candidate = math.sqrt(2) * normal.inv_cdf(auc - margin)
    point_failures = interval_failures = 0
    widths = []
    for trial in range(trials):
        rng = np.random.default_rng([seed, trial])
        y = (rng.random(rows) < 0.3).astype(np.int64)
        shared = rng.normal(size=rows)

        def model(mu: float, rng=rng, y=y, shared=shared):
            noise = math.sqrt(correlation) * shared + math.sqrt(1 - correlation) * rng.normal(size=rows)
            return Predictions(scores=1.0 / (1.0 + np.exp(-(mu * y + noise))))

        baseline = model(mu_baseline)
        candidate = model(mu_candidate)
        estimate = paired_bootstrap(
            ["roc_auc"],
            "binary",
            y,
            candidate,
            baseline,
            resamples=resamples,
            confidence=confidence,
            seed=trial,
        )["roc_auc"]
        point_failures += estimate.delta < 0
        interval_failures += estimate.ci_high < 0
        widths.append(estimate.ci_high - estimate.ci_low)
    return {
        "point": point_failures / trials,
        "interval": interval_failures / trials,
        "width": statistics.median(widths),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=100, help="trials per scenario (default: 100)")
    parser.add_argument("--rows", type=int, default=2000, help="evaluation rows per trial (default: 2000)")
    parser.add_argument("--auc", type=float, default=0.85, help="the baseline's true ROC AUC (default: 0.85)")
    parser.add_argument(
        "--margins",
        default="0.01,0.02,0.03",
        help="true ROC AUC deficits of a worse candidate, comma-separated (default: 0.01,0.02,0.03)",
    )
    parser.add_argument(
        "--correlation",
        type=float,
        default=0.7,
        help="share of the noise variance both models have in common (default: 0.7)",
    )
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default: 1000)")
    parser.add_argument("--confidence", type=float, default=0.95, help="interval confidence (default: 0.95)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulation (default: 0)")
    args = parser.parse_args(argv)
    margins = [float(m) for m in args.margins.split(",") if m.strip()]

    print(
        f"roc_auc, allowed change 0; {args.trials} trials per scenario, {args.rows} rows, baseline AUC "
        f"{args.auc}, shared noise {args.correlation}, {args.resamples} resamples, {args.confidence:.0%} interval"
    )
    print(
        f"{'scenario':<22}{'true delta':>11}{'point fails':>13}{'interval fails':>16}{'median CI width':>17}"
    )
    started = time.perf_counter()
    for margin in [0.0, *margins]:
        rates = scenario_fail_rates(
            margin=margin,
            auc=args.auc,
            rows=args.rows,
            correlation=args.correlation,
            trials=args.trials,
            resamples=args.resamples,
            confidence=args.confidence,
            seed=args.seed,
        )
        name = "A/A (false alarm)" if margin == 0 else "worse (power)"
        print(
            f"{name:<22}{-margin if margin else 0.0:>11.3f}{rates['point']:>13.2f}{rates['interval']:>16.2f}{rates['width']:>17.4f}"
        )
    print(f"took {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
