"""Benchmark of the data checks on a 1M rows x 20 columns frame, side by side with Evidently.

Run on demand, not in CI:

    .venv/bin/python benchmarks/bench_data.py
    .venv/bin/python benchmarks/bench_data.py --evidently-python /work/evidently-venv/bin/python

The frame: 15 normal numeric columns and 5 categorical columns of ten levels; the current frame shifts
4 numeric columns by half a standard deviation and tilts 2 categorical columns (6 shifted in all).
Both frames are written once per run to a temporary folder as Parquet and CSV. Each command runs as a
fresh process (`python -m mlops_actions data ...`), so times include start-up and reading the files;
peak RSS is the child's maximum resident set. Medians over --repeats runs are printed.

Evidently (DataDriftPreset, 0.7) needs pandas<3, so it runs in another virtualenv given by
--evidently-python; it reads the same Parquet files with pandas, and its time also includes reading.
Goals on a 2-core machine: `data drift` <= 3 s and <= 700 MB peak RSS, `data validate` <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drift_truth import CATEGORICAL, NUMERIC, write_truth

EVIDENTLY_SCRIPT = r"""
import json, sys, time
import pandas as pd
start = time.perf_counter()
reference = pd.read_parquet(sys.argv[1])
current = pd.read_parquet(sys.argv[2])
for frame in (reference, current):
    for name in frame.columns:
        if str(frame[name].dtype) == "category":
            frame[name] = frame[name].astype(object)
loaded = time.perf_counter()
from evidently import Report
from evidently.presets import DataDriftPreset
snapshot = Report([DataDriftPreset()]).run(current, reference)
done = time.perf_counter()
drifted = 0
for metric in snapshot.dict()["metrics"]:
    if metric["metric_name"].startswith("DriftedColumnsCount"):
        drifted = metric["value"]["count"]
print(json.dumps({"read_s": loaded - start, "drift_s": done - loaded, "drifted_columns": drifted}))
"""


def generate(folder: Path, rows: int, seed: int = 0) -> dict[str, tuple[Path, Path]]:
    """Write reference and current frames as Parquet and CSV; returns {format: (reference, current)}."""
    return write_truth(folder, rows, seed)


def run_with_rusage(command: list[str]) -> tuple[float, float, float, int, str]:
    """(wall s, CPU s, peak RSS MB, exit code, output) of one child, its rusage taken with os.wait4."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as output:
        child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode(errors="replace")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, child.returncode, text


def median_runs(command: list[str], repeats: int, expect: set[int]) -> dict[str, float]:
    """Medians of wall time, CPU time and peak RSS over repeated runs (and the load average before)."""
    walls, cpus, peaks = [], [], []
    load = os.getloadavg()[0]
    for _ in range(repeats):
        wall, cpu, peak, code, output = run_with_rusage(command)
        if code not in expect:
            raise SystemExit(f"{' '.join(command)} exited {code}:\n{output[-2000:]}")
        walls.append(wall)
        cpus.append(cpu)
        peaks.append(peak)
    return {
        "wall_s": statistics.median(walls),
        "cpu_s": statistics.median(cpus),
        "peak_rss_mb": statistics.median(peaks),
        "runs": repeats,
        "load_average": load,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--formats", default="parquet,csv", help="comma-separated: parquet, csv")
    parser.add_argument("--evidently-python", type=Path, help="python of a virtualenv with evidently==0.7.*")
    parser.add_argument("--evidently-repeats", type=int, default=1)
    parser.add_argument("--json-out", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)

    ours = [sys.executable, "-m", "mlops_actions", "data"]
    results: dict[str, object] = {"rows": args.rows, "columns": NUMERIC + CATEGORICAL, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        files = generate(folder, args.rows)
        print(
            f"generated {args.rows} x {NUMERIC + CATEGORICAL} frames in {time.perf_counter() - started:.1f} s"
        )
        for fmt in [f.strip() for f in args.formats.split(",") if f.strip()]:
            reference, current = files[fmt]
            size = reference.stat().st_size / 1e6
            schema = folder / f"schema-{fmt}.yaml"
            infer = median_runs([*ours, "schema", "infer", str(reference), "-o", str(schema)], 1, {0})
            drift = median_runs(
                [*ours, "drift", str(reference), str(current), "--json"], args.repeats, {0, 1}
            )
            validate = median_runs(
                [*ours, "validate", str(current), "--schema", str(schema)], args.repeats, {0}
            )
            report = json.loads(run_with_rusage([*ours, "drift", str(reference), str(current), "--json"])[4])
            results[fmt] = {
                "file_mb": size,
                "schema_infer": infer,
                "drift": drift,
                "validate": validate,
                "drifted_columns": report["drifted_columns"],
            }
            print(
                f"{fmt:8} ({size:.0f} MB/file): data drift {drift['wall_s']:.2f} s wall "
                f"({drift['cpu_s']:.2f} s CPU), {drift['peak_rss_mb']:.0f} MB peak, "
                f"{report['drifted_columns']} columns drifted; data validate {validate['wall_s']:.2f} s wall "
                f"({validate['cpu_s']:.2f} s CPU), {validate['peak_rss_mb']:.0f} MB; "
                f"schema infer {infer['wall_s']:.2f} s; load average {drift['load_average']:.1f}"
            )
        if args.evidently_python:
            script = folder / "evidently_drift.py"
            script.write_text(EVIDENTLY_SCRIPT)
            reference, current = files["parquet"]
            walls, cpus, peaks, inner = [], [], [], []
            load = os.getloadavg()[0]
            for _ in range(max(1, args.evidently_repeats)):
                wall, cpu, peak, code, output = run_with_rusage(
                    [str(args.evidently_python), str(script), str(reference), str(current)]
                )
                if code != 0:
                    raise SystemExit(f"evidently run failed ({code}):\n{output[-3000:]}")
                walls.append(wall)
                cpus.append(cpu)
                peaks.append(peak)
                inner.append(json.loads(output.strip().splitlines()[-1]))
            evidently = {
                "wall_s": statistics.median(walls),
                "cpu_s": statistics.median(cpus),
                "peak_rss_mb": statistics.median(peaks),
                "load_average": load,
                "drift_s": statistics.median(r["drift_s"] for r in inner),
                "read_s": statistics.median(r["read_s"] for r in inner),
                "drifted_columns": inner[-1]["drifted_columns"],
                "runs": len(walls),
            }
            results["evidently"] = evidently
            print(
                f"evidently DataDriftPreset (parquet): {evidently['wall_s']:.1f} s wall "
                f"({evidently['cpu_s']:.1f} s CPU, {evidently['drift_s']:.1f} s in Report.run), "
                f"{evidently['peak_rss_mb']:.0f} MB peak, "
                f"{evidently['drifted_columns']:.0f} columns drifted"
            )
            if "parquet" in results:
                ours_drift = results["parquet"]["drift"]  # type: ignore[index]
                results["ratio_wall"] = evidently["wall_s"] / ours_drift["wall_s"]
                results["ratio_cpu"] = evidently["cpu_s"] / ours_drift["cpu_s"]
                results["ratio_rss"] = evidently["peak_rss_mb"] / ours_drift["peak_rss_mb"]
                print(
                    f"ratio evidently / mlops-actions data drift: {results['ratio_wall']:.0f}x wall, "
                    f"{results['ratio_cpu']:.0f}x CPU, {results['ratio_rss']:.1f}x peak RSS"
                )
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
