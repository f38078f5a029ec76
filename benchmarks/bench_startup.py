"""Start-up time of `mlops-actions --help` (goal: under 0.3 s), and which heavy modules it imports.

Run: .venv/bin/python benchmarks/bench_startup.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

HEAVY = ("numpy", "pandas", "sklearn", "scipy", "skops", "jinja2", "requests", "jsonschema", "yaml")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    command = [sys.executable, "-m", "mlops_actions", "--help"]
    subprocess.run(command, capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    baseline_times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True)
        baseline_times.append(time.perf_counter() - started)
    probe = (
        "import sys; from mlops_actions.cli import build_parser; build_parser(); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    imported = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    print(
        f"mlops-actions --help: median {statistics.median(times) * 1000:.0f} ms "
        f"(min {min(times) * 1000:.0f} ms, {args.repeats} runs; goal < 300 ms)"
    )
    print(f"bare python start-up: median {statistics.median(baseline_times) * 1000:.0f} ms")
    print(f"heavy modules imported by the parser: {imported or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
