"""Wall time and peak memory of `monitor` on generated prediction logs: JSON Lines (the server's format) and
Parquet (flat columns), against a training-data profile of the same columns.

Each case runs in a fresh process (``run_monitor`` on the log, daily windows) and its wall time and peak
resident memory (``VmHWM`` of that process) are printed, the median of ``--repeats`` runs. The logs are
generated once into a temporary folder (kept with ``--keep``). Wall times depend on what else runs on the
machine: the load average is printed before and after.

Side by side, in the same run: Evidently's DataDriftPreset on the same rows as the JSON Lines case (the
features of the same generated rows, read from Parquet with pandas, against the same training rows), in a
virtualenv of its own (``benchmarks/install-evidently.sh`` makes ``benchmarks/.venv-evidently``; another with
``--evidently-python``; ``--no-evidently`` leaves it out), and the ratios of its wall time and peak memory
to the monitor's.

    .venv/bin/python benchmarks/bench_monitor.py                         # 1M JSONL rows, 10M Parquet rows
    .venv/bin/python benchmarks/bench_monitor.py --jsonl-rows 200000 --parquet-rows 1000000
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

NUMERIC, CATEGORICAL = 16, 4  # 20 feature columns
CATEGORIES = ["north", "south", "east", "west", "central"]
TRAIN_ROWS = 100_000
GENERATE_ROWS = 500_000
START_NS = 1_796_083_200 * 10**9  # 2026-12-01T00:00:00Z
SPAN_S = 7 * 86400  # the rows cover a week: seven daily windows
EVIDENTLY_PYTHON = Path(__file__).resolve().parent / ".venv-evidently" / "bin" / "python"
FEATURES = [f"num_{i}" for i in range(NUMERIC)] + [f"cat_{i}" for i in range(CATEGORICAL)]


def feature_frame(rows: int, seed: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    data = {f"num_{i}": rng.normal(i, 1 + i / 4, rows) for i in range(NUMERIC)}
    for i in range(CATEGORICAL):
        data[f"cat_{i}"] = pd.Categorical.from_codes(rng.integers(0, len(CATEGORIES), rows), CATEGORIES)
    return pd.DataFrame(data)


def log_part(rows: int, first: int, total: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    frame = feature_frame(rows, seed)
    p1 = rng.beta(2, 5, rows)
    frame["prediction"] = (p1 >= 0.5).astype(np.int64)
    frame["proba_0"], frame["proba_1"] = 1 - p1, p1
    offsets = (np.arange(first, first + rows) * (SPAN_S * 10**9 // total)).astype("int64")
    frame["time"] = (START_NS + offsets).astype("datetime64[ns]")
    return frame


def write_parquet(path: Path, rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    for first in range(0, rows, GENERATE_ROWS):
        part = log_part(min(GENERATE_ROWS, rows - first), first, rows, first)
        table = pa.Table.from_pandas(part, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=GENERATE_ROWS)
    assert writer is not None
    writer.close()


def write_jsonl(path: Path, rows: int) -> None:
    """The server's own line format (serving/prediction_log.py), one row per request."""
    import numpy as np

    features = [f"num_{i}" for i in range(NUMERIC)] + [f"cat_{i}" for i in range(CATEGORICAL)]
    with open(path, "w", encoding="utf-8") as handle:
        for first in range(0, rows, GENERATE_ROWS):
            part = log_part(min(GENERATE_ROWS, rows - first), first, rows, first)
            stamps = np.datetime_as_string(part["time"].to_numpy(), unit="ms")
            columns = {name: part[name].astype(object).tolist() for name in features}
            p0, p1, prediction = (
                part["proba_0"].tolist(),
                part["proba_1"].tolist(),
                part["prediction"].tolist(),
            )
            lines = []
            for row in range(len(part)):
                record = {
                    "format": 1,
                    "time": f"{stamps[row]}Z",
                    "request_id": f"r{first + row:09d}",
                    "row": 0,
                    "model": "bench",
                    "version": "1.0.0",
                    "inputs": {name: columns[name][row] for name in features},
                    "prediction": prediction[row],
                    "probabilities": {"0": p0[row], "1": p1[row]},
                    "latency_ms": 3.2,
                }
                lines.append(json.dumps(record, separators=(",", ":")))
            handle.write("\n".join(lines) + "\n")


def write_project(folder: Path) -> None:
    from mlops_actions.domain.data.profile import profile_frame, save_profile

    train = feature_frame(TRAIN_ROWS, 99)
    train["label"] = (train["num_0"] > 0.5).astype(int)
    train.to_csv(folder / "train.csv", index=False)
    save_profile(profile_frame(train), folder / "data-profile.json")
    (folder / "mlops.yaml").write_text(
        "version: 1\nmodel: {name: bench, task: binary}\ntrain: {command: 'true'}\n"
        "data: {train: train.csv, target: label}\n"
    )


RUN = """
import sys, time
from mlops_actions.domain.config import load_config
from mlops_actions.monitoring.reference import reference_from_file
from mlops_actions.monitoring.run import run_monitor
folder, log = sys.argv[1], sys.argv[2]
began = time.perf_counter()
result = run_monitor(load_config(folder + "/mlops.yaml"), log, reference_from_file(folder + "/data-profile.json"))
inside = time.perf_counter() - began
with open("/proc/self/status") as status:  # the peak of this process since exec (ru_maxrss is not: it keeps
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))  # the parent's peak)
print(inside, peak, result.rows_read, len(result.windows), result.status)
"""


EVIDENTLY_RUN = """
import sys, time
import pandas as pd
began = time.perf_counter()
features = sys.argv[3].split(",")
reference = pd.read_csv(sys.argv[1], usecols=features)
current = pd.read_parquet(sys.argv[2], columns=features)
from evidently import Report
from evidently.presets import DataDriftPreset
snapshot = Report([DataDriftPreset()]).run(current, reference)
inside = time.perf_counter() - began
drifted = 0
for metric in snapshot.dict()["metrics"]:
    if metric["metric_name"].startswith("DriftedColumnsCount"):
        drifted = metric["value"]["count"]
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(inside, peak, len(current), 1, f"{drifted:g}-drifted")
"""


def measure(folder: Path, log: Path, python: Path | None = None) -> dict[str, float]:
    """One run in a fresh process: wall time (process start to end), time inside run_monitor (or reading
    and Evidently's report, with ``python`` an Evidently virtualenv's), CPU time of the process (all
    threads), peak RSS."""
    began = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-c", RUN, str(folder), str(log)]
    if python is not None:
        command = [str(python), "-c", EVIDENTLY_RUN, str(folder / "train.csv"), str(log), ",".join(FEATURES)]
        env.pop("PYTHONPATH")
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - began
    assert proc.stdout is not None
    inside, peak_kb, rows, windows, verdict = proc.stdout.read().split()
    if status != 0:
        raise SystemExit(f"{'evidently' if python else 'monitor'} run failed with status {status}")
    return {
        "wall_s": wall,
        "monitor_s": float(inside),
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": int(peak_kb) / 1024,
        "rows": int(rows),
        "windows": int(windows),
        "status": verdict,
    }


def generate(folder: Path, jsonl_rows: int, parquet_rows: int, evidently: bool) -> dict[str, Path]:
    """Write the logs; case name -> log file (an Evidently case: the JSON Lines rows as Parquet)."""
    cases = {}
    if jsonl_rows and evidently:
        write_parquet(folder / "evidently.parquet", jsonl_rows)  # the same rows as the JSON Lines
        cases[f"evidently DataDriftPreset, the same {jsonl_rows:,} rows"] = folder / "evidently.parquet"
        cases[f"monitor on the same {jsonl_rows:,} rows as Parquet"] = folder / "evidently.parquet"
    if jsonl_rows:
        began = time.perf_counter()
        write_jsonl(folder / "predictions.jsonl", jsonl_rows)
        size = (folder / "predictions.jsonl").stat().st_size / 2**20
        print(f"generated {jsonl_rows:,} JSONL rows ({size:.0f} MiB) in {time.perf_counter() - began:.1f} s")
        cases[f"jsonl {jsonl_rows:,} rows x {NUMERIC + CATEGORICAL} features"] = folder / "predictions.jsonl"
    if parquet_rows:
        began = time.perf_counter()
        write_parquet(folder / "predictions.parquet", parquet_rows)
        size = (folder / "predictions.parquet").stat().st_size / 2**20
        print(
            f"generated {parquet_rows:,} Parquet rows ({size:.0f} MiB) in {time.perf_counter() - began:.1f} s"
        )
        cases[f"parquet {parquet_rows:,} rows x {NUMERIC + CATEGORICAL} features"] = (
            folder / "predictions.parquet"
        )
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jsonl-rows", type=int, default=1_000_000)
    parser.add_argument("--parquet-rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the generated logs and print where")
    parser.add_argument("--logs-from", type=Path, help="reuse the logs a --keep run left in this folder")
    parser.add_argument("--evidently-python", type=Path, default=EVIDENTLY_PYTHON)
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument("--evidently-repeats", type=int, default=1, help="its runs take minutes")
    args = parser.parse_args()
    evidently = not args.no_evidently and args.evidently_python.exists()
    if not args.no_evidently and not evidently:
        print(f"no {args.evidently_python}: Evidently left out (bash benchmarks/install-evidently.sh)")
    print(f"load average before: {os.getloadavg()}")
    if args.logs_from:
        folder, args.keep = args.logs_from, True
        cases = {log.name: log for log in sorted(folder.glob("predictions.*"))}
        if evidently and (folder / "evidently.parquet").exists():
            cases["evidently DataDriftPreset"] = folder / "evidently.parquet"
            cases["monitor on the same rows as Parquet"] = folder / "evidently.parquet"
    else:
        folder = Path(tempfile.mkdtemp(prefix="bench-monitor-"))
        write_project(folder)
        cases = generate(folder, args.jsonl_rows, args.parquet_rows, evidently)
    medians: dict[str, dict[str, float]] = {}
    for name, log in cases.items():
        python = args.evidently_python if name.startswith("evidently") else None
        repeats = args.evidently_repeats if python else args.repeats
        runs = [measure(folder, log, python) for _ in range(repeats)]
        walls = ", ".join(f"{r['wall_s']:.2f}" for r in runs)
        median = {
            key: statistics.median(r[key] for r in runs)
            for key in ("wall_s", "monitor_s", "cpu_s", "peak_rss_mb")
        }
        print(
            f"{name}: wall {median['wall_s']:.2f} s (timed part {median['monitor_s']:.2f} s, CPU {median['cpu_s']:.2f} s), "
            f"peak RSS {median['peak_rss_mb']:.0f} MiB, {runs[0]['windows']} windows, {runs[0]['status']} "
            f"(median of {len(runs)}; walls {walls})"
        )
        medians["evidently" if python else log.name] = median
    theirs = medians.get("evidently")
    for log_name, what in (("predictions.jsonl", "JSON Lines"), ("evidently.parquet", "Parquet")):
        ours = medians.get(log_name)
        if theirs and ours:
            print(
                f"ratio Evidently DataDriftPreset / monitor on the same rows ({what}): "
                f"{theirs['wall_s'] / ours['wall_s']:.1f}x wall, {theirs['cpu_s'] / ours['cpu_s']:.1f}x CPU, "
                f"{theirs['peak_rss_mb'] / ours['peak_rss_mb']:.1f}x peak RSS"
            )
    print(f"load average after: {os.getloadavg()}")
    if args.keep:
        print(f"logs kept in {folder}")
    else:
        import shutil

        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
