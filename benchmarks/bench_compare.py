"""Wall time and peak memory of the paired bootstrap on synthetic evaluation sets.

Runs ``paired_bootstrap`` of every metric of a task (1,000 resamples by default) and prints the median,
minimum and maximum wall time over the repeats, the median CPU time (all threads) and the peak resident
memory of a fresh process per case. Wall times depend on what else runs on the machine: the load average
is printed before and after.

    .venv/bin/python benchmarks/bench_compare.py --repeats 5
    .venv/bin/python benchmarks/bench_compare.py --cases binary-100k,multiclass-100k
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

CASES = {
    "binary-10k": ("binary", 10_000),
    "binary-100k": ("binary", 100_000),
    "binary-1m": ("binary", 1_000_000),
    "regression-100k": ("regression", 100_000),
    "multiclass-100k": ("multiclass", 100_000),
}
DEFAULT_CASES = "binary-10k,binary-100k,binary-1m,regression-100k"
N_CLASSES = 4


def synthetic_models(task: str, n_rows: int, seed: int = 0):
    """y_true and two models of slightly different quality, as the gate would compare them."""
    import numpy as np

    from mlops_actions.domain.metrics import Predictions

    rng = np.random.default_rng(seed)
    if task == "regression":
        target = rng.normal(10.0, 3.0, n_rows)
        return (
            target,
            Predictions(values=target + rng.normal(0.0, 1.0, n_rows)),
            Predictions(values=target + rng.normal(0.0, 1.1, n_rows)),
        )
    if task == "binary":
        y = (rng.random(n_rows) < 0.3).astype(np.int64)

        def binary_model(signal: float):
            scores = 1.0 / (1.0 + np.exp(-(signal * (2 * y - 1) + rng.normal(size=n_rows))))
            return Predictions(labels=(scores > 0.5).astype(np.int64), scores=scores)

        return y, binary_model(1.0), binary_model(0.9)
    y = rng.integers(0, N_CLASSES, n_rows)

    def multiclass_model(signal: float):
        logits = rng.normal(size=(n_rows, N_CLASSES))
        logits[np.arange(n_rows), y] += signal
        scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return Predictions(labels=scores.argmax(axis=1), scores=scores)

    return y, multiclass_model(1.5), multiclass_model(1.4)


def run_case(case: str, repeats: int, resamples: int) -> dict[str, object]:
    """Time paired_bootstrap of every metric of the case's task, in this process."""
    from mlops_actions.domain.metric_names import metrics_for_task
    from mlops_actions.domain.stats import paired_bootstrap

    task, n_rows = CASES[case]
    y, candidate, baseline = synthetic_models(task, n_rows)
    names = metrics_for_task(task)
    n_classes = N_CLASSES if task == "multiclass" else None
    times = []
    cpu_times = []
    for _ in range(repeats):
        start = time.perf_counter()
        cpu_start = time.process_time()
        paired_bootstrap(
            names, task, y, candidate, baseline, n_classes=n_classes, resamples=resamples, seed=0
        )
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "case": case,
        "metrics": len(names),
        "times": times,
        "cpu_times": cpu_times,
        "peak_rss_mib": peak_kib / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case (default: 5)")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default: 1000)")
    parser.add_argument("--cases", default=DEFAULT_CASES, help=f"comma-separated, of: {', '.join(CASES)}")
    parser.add_argument("--in-process", metavar="CASE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.in_process:
        print(json.dumps(run_case(args.in_process, args.repeats, args.resamples)))
        return 0

    cases = [case.strip() for case in args.cases.split(",") if case.strip()]
    unknown = [case for case in cases if case not in CASES]
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    print(f"paired_bootstrap, {args.resamples} resamples, {args.repeats} repeats, {os.cpu_count()} CPUs")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"{'case':<18}{'metrics':>8}{'median s':>10}{'min s':>8}{'max s':>8}{'median CPU s':>14}"
        f"{'peak RSS MiB':>14}"
    )
    for case in cases:
        # A fresh process per case, so that its peak memory is its own.
        command = [sys.executable, __file__, "--in-process", case]
        command += ["--repeats", str(args.repeats), "--resamples", str(args.resamples)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        result = json.loads(output.strip().splitlines()[-1])
        times = result["times"]
        print(
            f"{case:<18}{result['metrics']:>8}{statistics.median(times):>10.2f}{min(times):>8.2f}"
            f"{max(times):>8.2f}{statistics.median(result['cpu_times']):>14.2f}{result['peak_rss_mib']:>14.0f}"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
