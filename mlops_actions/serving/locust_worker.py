"""The child process of a load test: ``python -m mlops_actions.serving.locust_worker JOB.json``.

It imports Locust (which patches the standard library with gevent, hence a process of its own), runs the
job's users headless against ``POST /predict``, stops at the job's duration, its request count, or once the
error rate is over its threshold on a large enough sample, and writes every response time and the error
kinds to the job's result file, atomically. Its own log goes to stderr, warnings only.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

POLL_S = 0.02  # how often the run checks its stop conditions


def error_kind(response: Any, exception: BaseException | None) -> str | None:
    """What a request's failure was: its HTTP status (``"503"``), ``timeout``, ``connection`` or the
    exception's name; None for a success."""
    if exception is None:
        return None
    status = getattr(response, "status_code", 0) or 0
    if isinstance(status, int) and status > 0:
        return str(status)
    name = type(exception).__name__.lower()
    if isinstance(exception, (socket.timeout, TimeoutError)) or "timeout" in name:
        return "timeout"
    if isinstance(exception, (ConnectionError, socket.gaierror)) or "connection" in name:
        return "connection"
    return type(exception).__name__


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run the load the job describes; what was measured (``latencies_ms``, ``errors_by_kind``,
    ``elapsed_s``, ``users``, ``aborted``)."""
    import gevent
    from locust import FastHttpUser, constant, task
    from locust.env import Environment

    from mlops_actions.domain.config import RequestMix
    from mlops_actions.domain.loadtest import request_plan, should_abort

    plan = request_plan(job["rows"], [RequestMix(int(m["rows"]), float(m["weight"])) for m in job["mix"]])
    rng = random.Random(0)
    max_requests = int(job["max_requests"])
    timeout = float(job["request_timeout_s"])
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    sent = 0
    headers = {"content-type": "application/json"}

    class PredictUser(FastHttpUser):
        host = job["url"]
        wait_time = constant(0)
        network_timeout = timeout
        connection_timeout = timeout
        max_retries = 0

        @task
        def predict(self) -> None:
            nonlocal sent
            if sent >= max_requests:
                gevent.sleep(POLL_S)
                return
            sent += 1
            body = plan.pick(rng)  # bytes: sent as they are (the annotation says str)
            self.client.request("POST", "/predict", data=body, headers=headers, name="/predict")  # type: ignore[arg-type]

    def on_request(response_time: float, response: Any = None, exception: Any = None, **_: Any) -> None:
        if len(latencies) >= max_requests:
            return
        latencies.append(float(response_time))
        kind = error_kind(response, exception)
        if kind is not None:
            errors[kind] += 1

    environment = Environment(user_classes=[PredictUser], catch_exceptions=True)
    environment.events.request.add_listener(on_request)
    runner = environment.create_local_runner()
    duration = float(job["duration_s"])
    abort_rate = job.get("abort_error_rate")
    abort_delay = float(job.get("abort_delay_s", 0.0))
    aborted = False
    started = time.monotonic()
    runner.start(int(job["users"]), spawn_rate=float(job["spawn_rate"]))
    while True:
        gevent.sleep(POLL_S)
        elapsed = time.monotonic() - started
        if elapsed >= duration or len(latencies) >= max_requests:
            break
        if should_abort(
            len(latencies), sum(errors.values()), abort_rate, elapsed_s=elapsed, delay_s=abort_delay
        ):
            aborted = True
            break
    elapsed = time.monotonic() - started
    users = runner.user_count
    measured = {
        "latencies_ms": list(latencies),
        "errors_by_kind": dict(errors),
        "elapsed_s": elapsed,
        "users": users,
        "aborted": aborted,
    }
    runner.quit()
    return measured


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m mlops_actions.serving.locust_worker JOB.json", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s")
    job = json.loads(Path(argv[0]).read_text())
    measured = run_job(job)
    from mlops_actions.domain.model_io import write_json_atomic

    write_json_atomic(job["result"], measured)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
