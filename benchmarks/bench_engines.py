"""Benchmark of the engines side by side: `data drift` of the drift truth set on local, Dask and Spark.

Run on demand, not in CI (the default is 10M rows x 20 columns of Parquet per table, ~1 GB peak while the
tables are written):

    .venv/bin/python benchmarks/bench_engines.py
    .venv/bin/python benchmarks/bench_engines.py --rows 200000 --repeats 1 --json engines.json

The data: the drift truth set (benchmarks/drift_truth.py: 15 numeric and 5 categorical columns, 6 drifted),
reference and current written once to a temporary folder as Parquet, in row groups of 1M rows, at
``--rows`` rows and at a tenth of them.

1. Each engine runs `mlops-actions data drift REFERENCE CURRENT --json --engine E` as a fresh process (so
   times include starting Python, the Dask cluster or the Spark JVM, and reading the files). While it
   runs, the process tree is sampled every 20 ms with psutil: the driver's RSS (the Python process of the
   command), the workers' (Dask: the worker processes the local cluster spawns; Spark local mode: the JVM,
   which is driver and executor at once, and the Python workers it forks). Medians over ``--repeats``.
   The drift documents must be identical across engines: counts and texts equal, floats within 1e-9
   relative; the run stops otherwise.
2. The driver's memory at both sizes, and their ratio (it must not grow with the rows: the driver holds
   the bins' pre-pass head and merged summaries only).
3. In this process: the cost of one partition (read a row group, normalise it, profile it: per row), and
   the cost of merging 8..512 partition summaries (tree of 8, as the Dask engine merges), for summaries of
   partitions of 10k rows and of 1M rows: the merge cost follows the number of partitions, not the rows.
4. An extrapolation on paper to ``--target-rows`` (1B) on ``--nodes`` (16) nodes of ``--cores`` cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drift_truth import COLUMNS, DRIFTED, write_truth

ENGINES = ("local", "dask", "spark")
BATCH_ROWS = 1_000_000  # rows per row group of the generated files
SAMPLE_SECONDS = 0.02
MERGE_PARTITIONS = (8, 16, 32, 64, 128, 256, 512)
SPLIT_EVERY = 8
RELATIVE = 1e-9


@dataclass
class Run:
    """One fresh process: wall time, peaks (MB) of the driver and of the workers, exit code, output."""

    wall_s: float
    driver_peak_mb: float
    workers_peak_mb: float
    jvm_peak_mb: float
    code: int
    output: str


def process_roles(root: Any) -> dict[str, float]:
    """RSS (MB) of the process tree by role: the driver (root), the JVM (a ``java`` descendant), the workers
    (every other descendant: Dask worker processes, Spark's Python workers)."""
    import psutil

    found = {"driver": 0.0, "jvm": 0.0, "workers": 0.0}
    try:
        found["driver"] = root.memory_info().rss / 2**20
        children = root.children(recursive=True)
    except psutil.Error:
        return found
    for child in children:
        try:
            rss = child.memory_info().rss / 2**20
            name = child.name()
        except psutil.Error:
            continue
        found["jvm" if name == "java" else "workers"] += rss
    return found


def run_measured(command: list[str], env: dict[str, str] | None = None) -> Run:
    """Run the command, sampling its process tree's memory until it exits."""
    import psutil

    peaks = {"driver": 0.0, "jvm": 0.0, "workers": 0.0}
    start = time.perf_counter()
    with tempfile.TemporaryFile() as output:
        child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
        root = psutil.Process(child.pid)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                for role, value in process_roles(root).items():
                    peaks[role] = max(peaks[role], value)
                done.wait(SAMPLE_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = child.wait()
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        output.seek(0)
        text = output.read().decode(errors="replace")
    return Run(wall, peaks["driver"], peaks["workers"], peaks["jvm"], code, text)


def drift_command(engine: str, reference: Path, current: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mlops_actions",
        "data",
        "drift",
        str(reference),
        str(current),
        "--json",
        "--engine",
        engine,
    ]


def differences(found: Any, expected: Any, where: str = "") -> list[str]:
    """Where two JSON documents differ (floats compared within 1e-9 relative)."""
    if isinstance(expected, dict):
        if not isinstance(found, dict) or sorted(found) != sorted(expected):
            return [f"{where}: keys"]
        return [d for key in expected for d in differences(found[key], expected[key], f"{where}.{key}")]
    if isinstance(expected, list):
        if not isinstance(found, list) or len(found) != len(expected):
            return [f"{where}: length"]
        return [
            d
            for i, (a, b) in enumerate(zip(found, expected, strict=True))
            for d in differences(a, b, f"{where}[{i}]")
        ]
    if isinstance(expected, float) and isinstance(found, (int, float)) and not isinstance(found, bool):
        same = math.isclose(found, expected, rel_tol=RELATIVE, abs_tol=1e-12) or found == expected
        return [] if same else [f"{where}: {found!r} != {expected!r}"]
    return [] if found == expected else [f"{where}: {found!r} != {expected!r}"]


def engine_runs(
    engine: str, reference: Path, current: Path, repeats: int, env: dict[str, str]
) -> tuple[dict[str, float], Any]:
    """Medians of the engine's runs and its drift document."""
    runs = []
    for _ in range(repeats):
        run = run_measured(drift_command(engine, reference, current), env)
        if run.code not in (0, 1):
            raise SystemExit(f"data drift --engine {engine} exited {run.code}:\n{run.output[-3000:]}")
        runs.append(run)
    document = json.loads(runs[-1].output[runs[-1].output.index("{") :])
    medians = {
        key: statistics.median(getattr(run, key) for run in runs)
        for key in ("wall_s", "driver_peak_mb", "workers_peak_mb", "jvm_peak_mb")
    }
    medians["runs"] = len(runs)
    return medians, document


def partition_costs(reference: Path, current: Path) -> dict[str, Any]:
    """Per-partition cost (read one row group, normalise, profile) and merge cost against the number of
    partitions, measured in this process with the jobs the engines run."""
    import pyarrow.parquet as pq

    from mlops_actions.domain.data.profile import ProfileBuilder
    from mlops_actions.domain.data.profile.job import ProfileJob
    from mlops_actions.engines.base import tree_merge
    from mlops_actions.engines.sources import dataset_head, dataset_table_info, resolve_dataset, table_chunk

    dataset = resolve_dataset(str(current))
    info = dataset_table_info(dataset)
    started = time.perf_counter()
    head = dataset_head(resolve_dataset(str(reference)), 100_000, info)
    builder = ProfileBuilder(edge_rows=100_000, correlation=False)
    builder.start(info)
    builder.update(head)
    bins = builder.finish()
    head_s = time.perf_counter() - started
    job = ProfileJob(info, edges_from=bins, edge_rows=100_000)

    parquet = pq.ParquetFile(current)
    group_rows = parquet.metadata.row_group(0).num_rows
    times = []
    for _ in range(3):
        started = time.perf_counter()
        table = parquet.read_row_group(0)
        summary = job.summarise(table_chunk(table, info))
        times.append(time.perf_counter() - started)
    partition_s = min(times)
    small = job.summarise(table_chunk(table.slice(0, 10_000), info))
    summary_bytes = len(pickle.dumps(summary))

    merges: dict[str, dict[int, float]] = {}
    for label, part in (("10k_rows", small), (f"{group_rows}_rows", summary)):
        blob = pickle.dumps(part)
        merges[label] = {}
        for count in MERGE_PARTITIONS:
            parts = [pickle.loads(blob) for _ in range(count)]
            started = time.perf_counter()
            level = parts
            while len(level) > 1:  # as the Dask engine reduces: SPLIT_EVERY at a node
                level = [
                    tree_merge(job, level[i : i + SPLIT_EVERY]) for i in range(0, len(level), SPLIT_EVERY)
                ]
            merges[label][count] = time.perf_counter() - started
    one_merge = {label: by_count[512] / 511 for label, by_count in merges.items()}
    return {
        "head_s": head_s,
        "partition_rows": group_rows,
        "partition_s": partition_s,
        "per_row_us": partition_s / group_rows * 1e6,
        "summary_bytes": summary_bytes,
        "merge_s": merges,
        "one_merge_ms": {label: value * 1e3 for label, value in one_merge.items()},
    }


def extrapolate(costs: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Time and driver memory of `data drift` on ``target_rows`` rows per table across ``nodes`` nodes."""
    cores = args.nodes * args.cores
    partitions = math.ceil(args.target_rows / args.partition_rows)
    one_merge = max(costs["one_merge_ms"].values()) / 1e3
    compute = args.target_rows / cores * costs["per_row_us"] / 1e6
    depth = max(1, math.ceil(math.log(partitions, SPLIT_EVERY)))
    merge = depth * (SPLIT_EVERY - 1) * one_merge  # the tree's levels run one after the other
    transfer = partitions * costs["summary_bytes"] / (args.bandwidth_mbit * 1e6 / 8)
    per_table = compute + merge + transfer
    total = costs["head_s"] + 2 * per_table  # reference and current are profiled one after the other
    return {
        "target_rows": args.target_rows,
        "nodes": args.nodes,
        "cores_per_node": args.cores,
        "partitions_per_table": partitions,
        "compute_s_per_table": compute,
        "merge_s_per_table": merge,
        "summary_transfer_s_per_table": transfer,
        "total_s": total,
        "driver_summaries_mb": SPLIT_EVERY * costs["summary_bytes"] / 2**20,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows per table (default 10M)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: local, dask, spark")
    parser.add_argument("--json", type=Path, dest="json_out", metavar="OUT", help="also write results here")
    parser.add_argument("--target-rows", type=int, default=1_000_000_000)
    parser.add_argument("--nodes", type=int, default=16)
    parser.add_argument("--cores", type=int, default=8, help="cores per node of the extrapolation")
    parser.add_argument("--partition-rows", type=int, default=BATCH_ROWS)
    parser.add_argument("--bandwidth-mbit", type=float, default=1000.0, help="to the driver, Mbit/s")
    args = parser.parse_args(argv)
    engines = [name.strip() for name in args.engines.split(",") if name.strip()]
    small_rows = max(1, args.rows // 10)
    env = dict(os.environ)
    results: dict[str, Any] = {
        "rows": args.rows,
        "small_rows": small_rows,
        "columns": COLUMNS,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],
        "engines": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        sizes = {}
        for rows in (small_rows, args.rows):
            place = folder / str(rows)
            place.mkdir()
            sizes[rows] = write_truth(place, rows, formats=["parquet"], batch_rows=BATCH_ROWS)["parquet"]
        print(
            f"generated {args.rows} and {small_rows} rows x {COLUMNS} columns (reference and current) "
            f"in {time.perf_counter() - started:.1f} s"
        )
        documents: dict[str, Any] = {}
        for engine in engines:
            found: dict[str, Any] = {}
            for rows, (reference, current) in sizes.items():
                medians, document = engine_runs(engine, reference, current, args.repeats, env)
                found[str(rows)] = medians
                if rows == args.rows:
                    documents[engine] = document
                flagged = sorted(c["column"] for c in document["columns"] if c["drifted"])
                if flagged != sorted(DRIFTED):
                    raise SystemExit(
                        f"--engine {engine} at {rows} rows flagged {flagged}, expected {DRIFTED}"
                    )
            big, small = found[str(args.rows)], found[str(small_rows)]
            found["driver_ratio"] = big["driver_peak_mb"] / small["driver_peak_mb"]
            found["marginal_us_per_row"] = (
                (big["wall_s"] - small["wall_s"]) / (2 * (args.rows - small_rows)) * 1e6
            )
            results["engines"][engine] = found
            print(
                f"{engine:6} {args.rows:>11,} rows: {big['wall_s']:7.2f} s wall, driver {big['driver_peak_mb']:6.0f} MB, "
                f"workers {big['workers_peak_mb']:6.0f} MB, JVM {big['jvm_peak_mb']:6.0f} MB | "
                f"{small_rows:,} rows: {small['wall_s']:.2f} s, driver {small['driver_peak_mb']:.0f} MB | "
                f"driver ratio {found['driver_ratio']:.2f}, marginal {found['marginal_us_per_row']:.2f} us/row"
            )
        first = engines[0] if engines else None
        for engine in engines[1:]:
            problems = differences(documents[engine], documents[first])
            if problems:
                raise SystemExit(
                    f"--engine {engine} differs from --engine {first}: " + "; ".join(problems[:10])
                )
        if len(engines) > 1:
            print(f"identical drift documents on {', '.join(engines)} (floats within 1e-9 relative)")
        results["identical"] = True
        reference, current = sizes[args.rows]
        costs = partition_costs(reference, current)
        results["costs"] = costs
        print(
            f"one partition of {costs['partition_rows']:,} rows: {costs['partition_s'] * 1e3:.0f} ms "
            f"({costs['per_row_us']:.2f} us/row), summary {costs['summary_bytes'] / 1024:.0f} KiB; "
            f"bins pre-pass {costs['head_s'] * 1e3:.0f} ms"
        )
        for label, by_count in costs["merge_s"].items():
            listed = ", ".join(f"{count}: {seconds * 1e3:.0f} ms" for count, seconds in by_count.items())
            print(f"merge of N summaries of {label.replace('_', ' ')}: {listed}")
        labels = list(costs["one_merge_ms"])
        ratio = costs["one_merge_ms"][labels[-1]] / costs["one_merge_ms"][labels[0]]
        print(
            f"one merge: {costs['one_merge_ms'][labels[0]]:.2f} ms ({labels[0]}) vs "
            f"{costs['one_merge_ms'][labels[-1]]:.2f} ms ({labels[-1]}): ratio {ratio:.2f}, "
            "so the merge cost follows the partitions, not the rows"
        )
        costs["merge_ratio_rows"] = ratio
        plan = extrapolate(costs, args)
        results["extrapolation"] = plan
        print(
            f"extrapolation: {plan['target_rows']:,} rows per table on {plan['nodes']} nodes x "
            f"{plan['cores_per_node']} cores, {plan['partitions_per_table']} partitions per table: "
            f"compute {plan['compute_s_per_table']:.1f} s + merges {plan['merge_s_per_table']:.2f} s + "
            f"summaries to the driver {plan['summary_transfer_s_per_table']:.2f} s per table; "
            f"about {plan['total_s']:.0f} s for `data drift` (plus start-up and reading from storage), "
            f"driver holding {plan['driver_summaries_mb']:.1f} MB of summaries at a time"
        )
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
