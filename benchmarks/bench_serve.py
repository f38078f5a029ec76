"""`mlops-actions serve` under load: one-row requests at c1 and c16, beside the bare predict_proba floor.

Trains the example project's model into a temporary copy, starts `mlops-actions serve` on 127.0.0.1
(a free port, no prediction log unless --log), and drives it with a small asyncio load generator (raw
HTTP/1.1 keep-alive sockets; closed loop: each connection sends its next request when the answer is in).
Each phase is bounded in time and in requests. Reports rps, p50 and p99 per concurrency, the mean rows per
predict call (from /metrics), and the median time of one `predict_proba` on a one-row DataFrame measured
in this process in the same run.

Run: .venv/bin/python benchmarks/bench_serve.py [--seconds 5] [--concurrency 1 16] [--workers 1] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "example_project"
MLOPS = [sys.executable, "-m", "mlops_actions"]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
LISTENING = re.compile(r"on http://127\.0\.0\.1:(\d+) ")
MAX_REQUESTS_PER_PHASE = 50_000


async def _connection(
    port: int,
    request: bytes,
    stop_at: float,
    budget: list[int],
    latencies: list[float],
    statuses: dict[int, int],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at and budget[0] > 0:
            budget[0] -= 1
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            status = int(head[9:12])
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def drive(port: int, body: bytes, concurrency: int, seconds: float) -> dict[str, Any]:
    """Closed-loop load: ``concurrency`` keep-alive connections posting ``body`` for ``seconds``."""
    request = (
        f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    budget = [MAX_REQUESTS_PER_PHASE]
    started = time.perf_counter()
    await asyncio.gather(
        *(
            _connection(port, request, started + seconds, budget, latencies, statuses)
            for _ in range(concurrency)
        )
    )
    elapsed = time.perf_counter() - started
    latencies.sort()

    def quantile(q: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")
        )

    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": quantile(0.50),
        "p99_ms": quantile(0.99),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


SERVER_COUNTERS = (
    "mlops_serve_batch_size_rows_sum",
    "mlops_serve_batch_size_rows_count",
    "mlops_serve_batch_duration_seconds_sum",
    "mlops_serve_request_duration_seconds_sum",
    "mlops_serve_request_duration_seconds_count",
)


def server_counters(port: int) -> dict[str, float]:
    """The batch and latency counters of /metrics so far."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {name: float(values[name]) for name in SERVER_COUNTERS}


def bare_predict_ms(project: Path, model_dir: Path, row: dict[str, Any], repeats: int = 200) -> float:
    """Median ms of one predict_proba on a one-row DataFrame, the model loaded as the server loads it."""
    import pandas as pd

    from mlops_actions.domain.config import load_config
    from mlops_actions.serving.source import load_served_model

    served = load_served_model(load_config(project / "mlops.yaml"), model_dir=model_dir)
    frame = pd.DataFrame({name: [row[name]] for name in served.features})
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        served.estimator.predict_proba(frame)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each load phase")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log", action="store_true", help="write the prediction log while loaded")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))  # this checkout's package, as the server subprocess uses
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        project = Path(tmp) / "project"
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".mlops", "mlops-out", "__pycache__"))
        model_dir = project / "model"
        subprocess.run(
            [*MLOPS, "train", "-c", "mlops.yaml", "-o", str(model_dir)],
            cwd=project,
            env=ENV,
            check=True,
            capture_output=True,
        )
        import pandas as pd

        first = pd.read_csv(project / "data" / "eval.csv", nrows=1).drop(columns=["defaulted", "loan_id"])
        row = {k: (v.item() if hasattr(v, "item") else v) for k, v in first.iloc[0].to_dict().items()}
        body = json.dumps(row).encode()
        serve = [
            *MLOPS,
            "serve",
            "-c",
            "mlops.yaml",
            "-m",
            str(model_dir),
            "--port",
            "0",
            "--workers",
            str(args.workers),
        ]
        serve += ["--log-dir", str(Path(tmp) / "log")] if args.log else ["--no-log"]
        proc = subprocess.Popen(serve, cwd=project, env=ENV, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stderr is not None
            found = LISTENING.search(proc.stderr.readline())
            if not found:
                raise SystemExit("the server did not start: " + proc.stderr.read())
            port = int(found.group(1))
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("the server was not ready after 60 s") from None
                    time.sleep(0.1)
            floor = bare_predict_ms(project, model_dir, row)
            asyncio.run(drive(port, body, 4, 1.0))  # warm both sides
            phases = []
            for concurrency in args.concurrency:
                before = server_counters(port) if args.workers == 1 else {}
                phase = asyncio.run(drive(port, body, concurrency, args.seconds))
                if args.workers == 1:  # with several workers /metrics answers for one of them
                    after = server_counters(port)
                    delta = {name: after[name] - before[name] for name in SERVER_COUNTERS}
                    calls = max(1.0, delta["mlops_serve_batch_size_rows_count"])
                    answered = max(1.0, delta["mlops_serve_request_duration_seconds_count"])
                    phase["mean_batch_rows"] = delta["mlops_serve_batch_size_rows_sum"] / calls
                    phase["mean_batch_ms"] = delta["mlops_serve_batch_duration_seconds_sum"] / calls * 1000
                    phase["server_mean_ms"] = (
                        delta["mlops_serve_request_duration_seconds_sum"] / answered * 1000
                    )
                phases.append(phase)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    report = {
        "bare_predict_proba_one_row_ms": floor,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "phases": phases,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"bare predict_proba, one row: {floor:.2f} ms (median of 200, same run); workers: {args.workers}")
    print(
        f"{'conns':>5} {'requests':>9} {'rps':>8} {'p50 ms':>8} {'p99 ms':>8} {'rows/call':>9} {'call ms':>8} "
        f"{'server ms':>9}  statuses"
    )
    for phase in phases:
        extra = [
            f"{phase[key]:>{width}.{digits}f}" if key in phase else f"{'-':>{width}}"
            for key, width, digits in (
                ("mean_batch_rows", 9, 1),
                ("mean_batch_ms", 8, 2),
                ("server_mean_ms", 9, 2),
            )
        ]
        print(
            f"{phase['concurrency']:>5} {phase['requests']:>9} {phase['rps']:>8.0f} {phase['p50_ms']:>8.2f} "
            f"{phase['p99_ms']:>8.2f} {' '.join(extra)}  {phase['statuses']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
