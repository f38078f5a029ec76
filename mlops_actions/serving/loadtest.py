"""Load test of a served model: Locust, headless, in a child process bounded in time and request count.

Locust patches the standard library with gevent as it is imported, so it never runs in the caller's
process (which may be serving the model on a thread of its own): :func:`run_load_test` writes the job to a
temp folder, runs ``python -m mlops_actions.serving.locust_worker`` on it, kills it past its deadline
(duration + grace), and judges what it measured (``domain/loadtest.py``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mlops_actions.domain.loadtest import LoadTestResult, summarise
from mlops_actions.errors import MlopsError

if TYPE_CHECKING:
    from mlops_actions.domain.config import Config, LoadTestSettings

__all__ = ["LoadTestResult", "check_url", "request_rows", "run_load_test"]

WORKER_MODULE = "mlops_actions.serving.locust_worker"
JOB_FILE = "job.json"
RESULT_FILE = "result.json"
START_GRACE_S = 20.0  # the child's import of Locust and gevent, and its spawning of users
CONNECT_TIMEOUT_S = 5.0
INSTALL_HINT = "install mlops-actions[loadtest]"


def request_rows(config: Config, limit: int = 1000) -> list[dict[str, Any]]:
    """JSON-safe records to send: the config's eval rows (or the eval split of the training file) without
    the target column, the id column kept (only data.features and the id when features are listed), at
    most ``limit``."""
    from mlops_actions.domain.data.io import read_table

    if config.eval_data is not None:
        frame = read_table(config.eval_data)
    else:
        from mlops_actions.domain.datasets import load_datasets

        frame = load_datasets(config).eval
    if config.features is not None:
        keep = [c for c in (*config.features, config.id_column) if c is not None and c in frame.columns]
    else:
        keep = [c for c in frame.columns if c != config.target]
    frame = frame.loc[:, list(dict.fromkeys(keep))].head(limit)
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso"))
    return records


def check_url(url: str, timeout: float = CONNECT_TIMEOUT_S) -> tuple[str, int]:
    """(host, port) of an ``http://`` or ``https://`` URL that accepts connections; else a MlopsError
    naming the URL and why."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MlopsError(f"--url {url[:200]!r}: expected http://HOST[:PORT] or https://HOST[:PORT]")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise MlopsError(f"--url {url[:200]!r}: the port is not a number between 0 and 65535") from None
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise MlopsError(f"{url}: unreachable ({reason}); is the server running?") from None
    return parts.hostname, port


def _child_environment() -> dict[str, str]:
    """This environment without its secrets (the child needs no token), with this package importable by
    the child wherever it was imported from (a source checkout is put on PYTHONPATH; an installed package
    already is on the path)."""
    import sysconfig

    from mlops_actions.domain.secrets import user_command_env

    package_root = str(Path(__file__).resolve().parents[2])
    env = user_command_env()
    installed = {str(Path(sysconfig.get_path(name)).resolve()) for name in ("purelib", "platlib")}
    if package_root not in installed:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    return env


def _last_line(path: Path) -> str:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def run_load_test(
    url: str,
    settings: LoadTestSettings,
    rows: Sequence[Mapping[str, Any]],
    *,
    duration_s: float | None = None,
) -> LoadTestResult:
    """POST ``/predict`` under ``url`` with ``settings.users`` users for ``duration_s`` (default
    ``settings.duration_s``) or ``settings.max_requests`` requests, bodies drawn from ``rows`` per the mix,
    and judge the thresholds; a MlopsError when the load cannot run (URL unreachable, Locust missing)."""
    import importlib.util

    if not rows:
        raise MlopsError("no rows to send: the eval data is empty")
    if importlib.util.find_spec("locust") is None:
        raise MlopsError(f"the load test needs Locust, which is not installed: {INSTALL_HINT}")
    check_url(url, timeout=min(CONNECT_TIMEOUT_S, settings.request_timeout_s))
    duration = float(settings.duration_s if duration_s is None else duration_s)
    if not duration > 0:
        raise MlopsError(f"load test duration {duration:g} s: expected more than 0")
    thresholds = settings.thresholds
    job = {
        "url": url.rstrip("/"),
        "users": settings.users,
        "spawn_rate": settings.users_per_second,
        "duration_s": duration,
        "max_requests": settings.max_requests,
        "request_timeout_s": settings.request_timeout_s,
        "abort_error_rate": thresholds.error_rate if settings.abort_on_fail else None,
        "abort_delay_s": settings.abort_delay_for(duration),
        "mix": [{"rows": kind.rows, "weight": kind.weight} for kind in settings.mix],
        "rows": [dict(row) for row in rows],
    }
    deadline = duration + settings.request_timeout_s + START_GRACE_S
    with tempfile.TemporaryDirectory(prefix="mlops-loadtest-") as folder:
        job_path, result_path = Path(folder) / JOB_FILE, Path(folder) / RESULT_FILE
        stderr_path = Path(folder) / "worker.log"
        job_path.write_text(json.dumps({**job, "result": str(result_path)}, allow_nan=False))
        with stderr_path.open("wb") as stderr:
            try:
                finished = subprocess.run(
                    [sys.executable, "-m", WORKER_MODULE, str(job_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    env=_child_environment(),
                    cwd=folder,  # not the project: no module of the project's shadows one of the child's
                    timeout=deadline,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise MlopsError(
                    f"the load test did not finish within {deadline:.0f} s (loadtest.duration_s {duration:g} "
                    "+ grace); it was stopped"
                ) from None
        if finished.returncode != 0 or not result_path.is_file():
            why = _last_line(stderr_path) or f"exit code {finished.returncode}"
            raise MlopsError(f"the load test could not run: {why}")
        measured = json.loads(result_path.read_text())
    return summarise(
        measured["latencies_ms"],
        measured["errors_by_kind"],
        elapsed_s=float(measured["elapsed_s"]),
        users=int(measured["users"]),
        thresholds=thresholds,
        aborted=bool(measured["aborted"]),
    )
