"""`mlops-actions serve` beside MLflow `models serve`, the same fitted pipeline, measured with wrk in one run.

Trains the example project's model into a temporary copy, saves the same fitted pipeline with
``mlflow.sklearn.save_model`` (``predict_proba`` as its pyfunc method, so both servers compute the same
thing), and starts both servers on 127.0.0.1 (one process each; ours without a prediction log unless
``--log``). Then, for several rounds, every case runs on both servers one after the other (the order
alternating between rounds), each a few seconds of closed-loop load from ``wrk -t1`` (keep-alive, one
thread, leaving the second core to the server):

- one-row requests at 1, 16 and 64 connections, rotating over the eval rows;
- 100-row requests at 16 connections, rotating over batches of eval rows.

wrk's own latency histogram gives p50 and p99 (its ``done`` hook prints them, in microseconds). The mean
rows per predict call of our server come from its ``/metrics`` (rows predicted / predict calls, the delta
over the case). The floor, one ``predict_proba`` on a one-row DataFrame in this process, is timed in every
round. Medians over the rounds are reported, with the ratio ours/MLflow, and the targets are checked:

- one-row at 16 connections: at least 10x MLflow's rps, with p99 <= 50 ms;
- one-row at 1 connection: p50 <= the floor + 2 ms.

Run: .venv/bin/python benchmarks/bench_serve.py [--quick] [--rounds 5] [--seconds 5] [--json PATH]
     (wrk from apt: `make bench-tools`; about 5 minutes by default, 1 minute with --quick)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "example_project"
MLOPS = [sys.executable, "-m", "mlops_actions"]
MLFLOW_SERVE = [sys.executable, "-m", "mlflow", "models", "serve"]
LISTENING = re.compile(r"on http://127\.0\.0\.1:(\d+) ")
WRK_LINE = "WRK-JSON "
ONE_ROW_BODIES = 1000  # eval rows the one-row cases rotate over
BATCH_ROWS = 100
BATCH_BODIES = 20
FLOOR_CALLS_PER_ROUND = 200
C16_MIN_RATIO = 10.0
C16_MAX_P99_MS = 50.0
C1_MAX_OVER_FLOOR_MS = 2.0


@dataclass(frozen=True)
class Case:
    """One load shape: rows per request and connections."""

    name: str
    rows: int
    connections: int


CASES = (
    Case("one-row c1", 1, 1),
    Case("one-row c16", 1, 16),
    Case("one-row c64", 1, 64),
    Case("100-row c16", BATCH_ROWS, 16),
)


@dataclass
class Target:
    """A running server under test and the request bodies it takes."""

    name: str
    port: int
    path: str
    one_row: list[str]
    batches: list[str]
    has_metrics: bool
    process: subprocess.Popen[str]
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def bodies(self, case: Case) -> list[str]:
        return self.one_row if case.rows == 1 else self.batches


WRK_SCRIPT = """\
local bodies = {
%(bodies)s
}
local count = #bodies
local next_body = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  next_body = next_body %% count + 1
  return wrk.format(nil, "%(path)s", nil, bodies[next_body])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%(marker)s{"requests":%%d,"duration_us":%%d,"status_errors":%%d,"connect_errors":%%d,'
    .. '"read_errors":%%d,"write_errors":%%d,"timeouts":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,'
    .. '"max_us":%%d,"mean_us":%%.1f}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def _lua_string(text: str) -> str:
    level = 1  # at least [=[ ... ]=]: a body may start with "[" or end with "]"
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def write_wrk_script(folder: Path, target: Target, case: Case) -> Path:
    """A wrk Lua script that POSTs ``target``'s bodies for ``case`` in turn and prints wrk's figures as JSON."""
    path = folder / f"{target.name}-{case.rows}.lua"
    if not path.exists():
        bodies = ",\n".join(_lua_string(body) for body in target.bodies(case))
        path.write_text(WRK_SCRIPT % {"bodies": bodies, "path": target.path, "marker": WRK_LINE})
    return path


def run_wrk(script: Path, port: int, connections: int, seconds: int) -> dict[str, Any]:
    """One wrk run: rps of successful answers, p50/p90/p99/max in ms, errors."""
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    figures = next((line for line in done.stdout.splitlines() if line.startswith(WRK_LINE)), None)
    if done.returncode != 0 or figures is None:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    raw = json.loads(figures[len(WRK_LINE) :])
    seconds_run = raw["duration_us"] / 1e6
    errors = sum(
        raw[key] for key in ("status_errors", "connect_errors", "read_errors", "write_errors", "timeouts")
    )
    return {
        "requests": raw["requests"],
        "errors": errors,
        "rps": (raw["requests"] - raw["status_errors"]) / seconds_run,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "wrk": raw,
    }


OUR_COUNTERS = {
    "rows": "mlops_serve_predicted_rows_total",
    "calls": "mlops_serve_batch_size_rows_count",
    "call_s": "mlops_serve_batch_duration_seconds_sum",
    "answered": "mlops_serve_request_duration_seconds_count",
    "answer_s": "mlops_serve_request_duration_seconds_sum",
}


def our_counters(port: int) -> dict[str, float]:
    """Rows predicted, predict calls and their seconds, answers and their seconds so far (our /metrics)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key: float(values[name]) for key, name in OUR_COUNTERS.items()}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_answers(url: str, process: subprocess.Popen[str], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise SystemExit(f"{what} stopped while starting (exit {process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"{what} did not answer {url} after {timeout:g} s") from None
            time.sleep(0.2)


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM to the server's process group (MLflow runs uvicorn in a child), then SIGKILL after 20 s."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextlib.contextmanager
def servers(workdir: Path, log: bool) -> Iterator[tuple[list[Target], Any, list[Any]]]:
    """Train, start both servers; yields them, the fitted estimator and one-row frames for the floor."""
    import pandas as pd

    project = workdir / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".mlops", "mlops-out", "__pycache__"))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(project)]),
        # MLflow runs `uvicorn` from PATH: this interpreter's scripts first
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    model_dir = project / "model"
    subprocess.run(
        [*MLOPS, "train", "-c", "mlops.yaml", "-o", str(model_dir)],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    sys.path[:0] = [str(REPO), str(project)]  # this checkout's package and the project's transformer module
    from mlops_actions.domain.config import load_config
    from mlops_actions.domain.data.profile import build_profile, save_profile
    from mlops_actions.serving.source import RELEASE_PROFILE_FILE, load_served_model

    config = load_config(project / "mlops.yaml")
    # the training-data profile beside the model, as a release stores it: the live guards are on
    save_profile(build_profile(config.train_data), model_dir / RELEASE_PROFILE_FILE)
    served = load_served_model(config, model_dir=model_dir)
    evaluation = pd.read_csv(project / "data" / "eval.csv")
    features = evaluation[list(served.features)]
    records = json.loads(features.to_json(orient="records"))
    one_row = records[:ONE_ROW_BODIES]
    batches = [records[i : i + BATCH_ROWS] for i in range(0, BATCH_ROWS * BATCH_BODIES, BATCH_ROWS)]
    frames = [features.iloc[[i]] for i in range(min(len(features), ONE_ROW_BODIES))]

    import mlflow.sklearn

    mlflow_dir = workdir / "mlflow-model"
    mlflow.sklearn.save_model(  # skops, as MLflow saves by default; the project's transformer trusted as ours is
        served.estimator,
        str(mlflow_dir),
        pyfunc_predict_fn="predict_proba",
        skops_trusted_types=list(config.trusted_types),
    )

    started: list[subprocess.Popen[str]] = []
    stack = contextlib.ExitStack()
    try:
        ours_command = [*MLOPS, "serve", "-c", "mlops.yaml", "-m", str(model_dir), "--port", "0"]
        ours_command += ["--log-dir", str(workdir / "log")] if log else ["--no-log"]
        ours = subprocess.Popen(
            ours_command, cwd=project, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        started.append(ours)
        assert ours.stderr is not None
        found = LISTENING.search(ours.stderr.readline())
        if not found:
            raise SystemExit("mlops-actions serve did not start: " + ours.stderr.read())
        ours_port = int(found.group(1))
        mlflow_port = free_port()
        mlflow_log = stack.enter_context(open(workdir / "mlflow-serve.log", "w"))  # noqa: SIM115
        mlflow_server = subprocess.Popen(
            [
                *MLFLOW_SERVE,
                "-m",
                str(mlflow_dir),
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(mlflow_port),
            ],
            cwd=workdir,
            env=env,
            stdout=mlflow_log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        started.append(mlflow_server)
        wait_until_answers(f"http://127.0.0.1:{ours_port}/ready", ours, "mlops-actions serve")
        wait_until_answers(f"http://127.0.0.1:{mlflow_port}/ping", mlflow_server, "mlflow models serve")
        dumps = json.dumps
        targets = [
            Target(
                "mlops-actions",
                ours_port,
                "/predict",
                [dumps(row) for row in one_row],
                [dumps(batch) for batch in batches],
                True,
                ours,
            ),
            Target(
                "mlflow",
                mlflow_port,
                "/invocations",
                [dumps({"dataframe_records": [row]}) for row in one_row],
                [dumps({"dataframe_records": batch}) for batch in batches],
                False,
                mlflow_server,
            ),
        ]
        yield targets, served.estimator, frames
    except SystemExit as error:
        log_text = (workdir / "mlflow-serve.log").read_text()[-3000:] if started[1:] else ""
        raise SystemExit(f"{error}\n{log_text}".rstrip()) from None
    finally:
        for process in started:
            stop(process)
        stack.close()


def floor_ms(estimator: Any, frames: Sequence[Any], calls: int) -> list[float]:
    """Milliseconds of ``calls`` one-row predict_proba calls, rotating over ``frames``."""
    times = []
    for number in range(calls):
        frame = frames[number % len(frames)]
        started = time.perf_counter()
        estimator.predict_proba(frame)
        times.append((time.perf_counter() - started) * 1000)
    return times


def run_case(target: Target, case: Case, script: Path, seconds: int) -> dict[str, Any]:
    """One wrk run of ``case`` on ``target``; for our server also the deltas of its batch counters."""
    before = our_counters(target.port) if target.has_metrics else None
    result = run_wrk(script, target.port, case.connections, seconds)
    if before is not None:
        after = our_counters(target.port)
        delta = {key: after[key] - before[key] for key in OUR_COUNTERS}
        result["predicted_rows"], result["predict_calls"] = delta["rows"], delta["calls"]
        result["server_call_ms"] = delta["call_s"] / max(1.0, delta["calls"]) * 1000  # one predict call
        result["server_answer_ms"] = (
            delta["answer_s"] / max(1.0, delta["answered"]) * 1000
        )  # arrival to answer
    return result


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def summarise(targets: list[Target], floors: list[float], round_floors: list[float]) -> dict[str, Any]:
    """Medians per case and server, the ratio, the mean batch, the floor and the targets' verdicts.

    The c1 target compares each round's p50 with the floor timed just before it (the median of those
    differences), so that a machine whose load drifts between rounds does not decide the verdict."""
    ours, theirs = targets
    floor = statistics.median(floors)
    cases: list[dict[str, Any]] = []
    for case in CASES:
        row: dict[str, Any] = {"case": case.name, "rows": case.rows, "connections": case.connections}
        for target in targets:
            runs = target.runs[case.name]
            row[target.name] = {
                key: median_of(runs, key) for key in ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms")
            } | {
                "errors": sum(run["errors"] for run in runs),
                "requests": sum(run["requests"] for run in runs),
            }
        calls = sum(run["predict_calls"] for run in ours.runs[case.name])
        row["mean_batch_rows"] = sum(run["predicted_rows"] for run in ours.runs[case.name]) / max(1.0, calls)
        mlflow_rps = row[theirs.name]["rps"]
        row["rps_ratio"] = row[ours.name]["rps"] / mlflow_rps if mlflow_rps else float("inf")
        cases.append(row)
    by_name = {row["case"]: row for row in cases}
    c16, c1 = by_name["one-row c16"], by_name["one-row c1"]
    c1_runs = ours.runs["one-row c1"]
    over_floor = statistics.median(run["p50_ms"] - f for run, f in zip(c1_runs, round_floors, strict=True))
    c1["p50_over_floor_ms"] = over_floor
    targets_checked = [
        {
            "target": f"one-row c16: rps >= {C16_MIN_RATIO:g}x MLflow",
            "figure": f"{c16['rps_ratio']:.1f}x",
            "passed": c16["rps_ratio"] >= C16_MIN_RATIO,
        },
        {
            "target": f"one-row c16: p99 <= {C16_MAX_P99_MS:g} ms",
            "figure": f"{c16[ours.name]['p99_ms']:.1f} ms",
            "passed": c16[ours.name]["p99_ms"] <= C16_MAX_P99_MS,
        },
        {
            "target": f"one-row c1: p50 <= floor + {C1_MAX_OVER_FLOOR_MS:g} ms",
            "figure": f"p50 - floor: {over_floor:+.2f} ms (median over rounds)",
            "passed": over_floor <= C1_MAX_OVER_FLOOR_MS,
        },
    ]
    return {
        "floor_ms": floor,
        "floor_calls": len(floors),
        "round_floors_ms": round_floors,
        "cases": cases,
        "targets": targets_checked,
    }


def markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown table, the floor and the targets."""
    lines = [
        "| case | ours rps | ours p50 ms | ours p99 ms | MLflow rps | MLflow p50 ms | MLflow p99 ms | "
        "rps ours/MLflow | rows per call | errors ours/MLflow |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["cases"]:
        ours, theirs = row["mlops-actions"], row["mlflow"]
        lines.append(
            f"| {row['case']} | {ours['rps']:,.0f} | {ours['p50_ms']:.2f} | {ours['p99_ms']:.1f} | "
            f"{theirs['rps']:,.0f} | {theirs['p50_ms']:.1f} | {theirs['p99_ms']:.1f} | {row['rps_ratio']:.1f}x | "
            f"{row['mean_batch_rows']:.1f} | {ours['errors']}/{theirs['errors']} |"
        )
    lines += [
        "",
        f"Bare one-row `predict_proba`: {report['floor_ms']:.2f} ms (median of {report['floor_calls']} calls "
        "in this process, this run; per round "
        + ", ".join(f"{f:.2f}" for f in report["round_floors_ms"])
        + " ms).",
        f"{report['rounds']} rounds of {report['seconds']} s per case and server, medians; wrk -t1; "
        f"{report['cpus']} CPUs; load average {report['load_before'][0]:.2f} before, "
        f"{report['load_after'][0]:.2f} after.",
        "",
        "| target | figure | verdict |",
        "|---|---|---|",
    ]
    lines += [
        f"| {t['target']} | {t['figure']} | {'PASS' if t['passed'] else 'FAIL'} |" for t in report["targets"]
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds", type=int, default=None, help="rounds per case and server (default 5; quick 2)"
    )
    parser.add_argument("--seconds", type=int, default=None, help="seconds per run (default 5; quick 2)")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 2 s: about a minute")
    parser.add_argument(
        "--log", action="store_true", help="our server writes its prediction log while loaded"
    )
    parser.add_argument(
        "--json", type=Path, default=None, metavar="PATH", help="also write the report as JSON"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 5)
    seconds = args.seconds or (2 if args.quick else 5)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: make bench-tools (or apt-get install wrk)")
    load_before = os.getloadavg()
    started = time.monotonic()
    floors: list[float] = []
    round_floors: list[float] = []  # median floor of each round
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp, servers(Path(tmp), args.log) as found:
        targets, estimator, frames = found
        scripts = {(t.name, c.name): write_wrk_script(Path(tmp), t, c) for t in targets for c in CASES}
        for target in targets:  # warm both: first connections, first batches, the cost model
            run_wrk(scripts[(target.name, CASES[1].name)], target.port, 16, 1)
        floor_ms(estimator, frames, 50)
        for number in range(rounds):
            round_floor = floor_ms(estimator, frames, FLOOR_CALLS_PER_ROUND)  # right before the c1 case
            floors += round_floor
            round_floors.append(statistics.median(round_floor))
            for case in CASES:
                order = targets if number % 2 == 0 else targets[::-1]
                for target in order:
                    result = run_case(target, case, scripts[(target.name, case.name)], seconds)
                    target.runs.setdefault(case.name, []).append(result)
                    print(
                        f"round {number + 1}/{rounds} {case.name:<12} {target.name:<13} "
                        f"{result['rps']:>8.0f} rps  p50 {result['p50_ms']:>7.2f} ms  "
                        f"p99 {result['p99_ms']:>7.1f} ms  errors {result['errors']}"
                        + (
                            f"  rows/call {result['predicted_rows'] / max(1.0, result['predict_calls']):.1f}"
                            f"  call {result['server_call_ms']:.2f} ms  answer {result['server_answer_ms']:.2f} ms"
                            if "predict_calls" in result
                            else ""
                        ),
                        file=sys.stderr,
                    )
        report = summarise(targets, floors, round_floors)
        report["runs"] = {t.name: t.runs for t in targets}
    report |= {
        "rounds": rounds,
        "seconds": seconds,
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "wall_s": round(time.monotonic() - started, 1),
    }
    print(markdown(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    failed = [t for t in report["targets"] if not t["passed"]]
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
