"""Starting and stopping the server: in this process (:func:`start_server`, for tests and the deploy stage)
or in the foreground with one or more worker processes (:func:`serve_forever`, for the CLI).

The listening socket is always bound here with ``IPPROTO_TCP`` and handed to uvicorn: asyncio turns on
``TCP_NODELAY`` for accepted connections only when the listener says it is TCP, and a socket bound
without it (uvicorn's own ``--workers`` path) leaves Nagle's algorithm on, which costs each keep-alive
answer a delayed ACK (~40 ms). Stack: uvicorn with httptools and uvloop when installed, Starlette routes.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.errors import MlopsError

if TYPE_CHECKING:
    from mlops_actions.domain.config import ServeSettings
    from mlops_actions.serving.app import ServingState
    from mlops_actions.serving.source import ServedModel

LISTEN_BACKLOG = 2048
KEEP_ALIVE_S = 30


def build_state(
    served: ServedModel,
    settings: ServeSettings,
    *,
    log_dir: str | Path | None = None,
    worker: int | None = None,
    warm_up: bool = True,
) -> ServingState:
    """The routes' shared state: input checker, batcher, metrics, live guards and (unless ``settings``
    disable it) the prediction log in ``log_dir`` (default ``settings.log_path``)."""
    import functools

    from mlops_actions.serving.app import ServingState, warm_up_sample
    from mlops_actions.serving.batcher import Batcher
    from mlops_actions.serving.guards import served_guards
    from mlops_actions.serving.inputs import InputChecker
    from mlops_actions.serving.metrics import ServerMetrics
    from mlops_actions.serving.prediction_log import ParquetPredictionLog, PredictionLog

    metrics = ServerMetrics(
        model=served.model_name, version=served.label, digest=served.digest, worker=worker
    )
    guards = served_guards(served)
    batcher = Batcher(
        functools.partial(served.predict_columns, observe=guards.observe),
        max_batch_size=settings.max_batch_size,
        max_latency_s=settings.max_latency_ms / 1000,
        on_batch=metrics.observe_batch,
    )
    log: PredictionLog | None = None
    folder = log_dir if log_dir is not None else settings.log_path
    if settings.log_enabled and folder is not None and settings.log_format == "parquet":
        log = ParquetPredictionLog(
            folder,
            max_bytes=settings.log_max_bytes,
            max_seconds=settings.log_max_seconds,
            max_records=settings.log_queue_records,
            file_rows=settings.log_parquet_rows,
        )
    elif settings.log_enabled and folder is not None:
        log = PredictionLog(
            folder,
            max_bytes=settings.log_max_bytes,
            max_seconds=settings.log_max_seconds,
            max_records=settings.log_queue_records,
        )
    return ServingState(
        served=served,
        checker=InputChecker(served.features, served.schema, max_rows=settings.max_batch_size),
        batcher=batcher,
        metrics=metrics,
        log=log,
        guards=guards,
        warm_up_sample=warm_up_sample(served) if warm_up else None,
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket (``IPPROTO_TCP``, so accepted connections get ``TCP_NODELAY``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise MlopsError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def require_serve_extra() -> None:
    """A one-line error when the server's libraries (the ``serve`` extra) are not installed."""
    import importlib.util

    missing = [name for name in ("uvicorn", "starlette") if importlib.util.find_spec(name) is None]
    if missing:
        raise MlopsError(f"serving needs {' and '.join(missing)}: pip install 'mlops-actions[serve]'")


def _uvicorn_server(app: Any) -> Any:
    import importlib.util

    import uvicorn

    config = uvicorn.Config(
        app,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        server_header=False,
    )
    return uvicorn.Server(config)


@dataclass
class ServerHandle:
    """A server running on a thread of this process: its URL, its state, and how to stop it."""

    host: str
    port: int
    state: ServingState
    _server: Any
    _thread: threading.Thread
    _socket: socket.socket

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Return once ``/ready`` would answer 200 (model loaded, digest verified, cost model warmed up)."""
        deadline = time.monotonic() + timeout
        while not (self.state.ready and self._server.started):
            if not self._thread.is_alive():
                raise MlopsError(f"the server on {self.url} stopped while starting")
            if time.monotonic() > deadline:
                raise MlopsError(f"the server on {self.url} was not ready after {timeout:g} s")
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, finish the requests in flight, flush the prediction log."""
        self._server.should_exit = True
        self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(
    served: ServedModel,
    settings: ServeSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_dir: str | Path | None = None,
    state: ServingState | None = None,
    wait: bool = True,
) -> ServerHandle:
    """Serve ``served`` on ``host:port`` (0: a free port) from a thread of this process; ready on return
    unless ``wait`` is False. Stop it with :meth:`ServerHandle.stop` (or use it as a context manager)."""
    from mlops_actions.serving.app import build_app
    from mlops_actions.serving.prediction_log import require_log_writer

    require_serve_extra()
    if state is None and settings.log_enabled:
        require_log_writer(settings.log_format)
    state = state or build_state(served, settings, log_dir=log_dir)
    sock = bind_socket(host, port)
    server = _uvicorn_server(build_app(state))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="mlops-serve", daemon=True)
    thread.start()
    handle = ServerHandle(host, sock.getsockname()[1], state, server, thread, sock)
    if wait:
        try:
            handle.wait_ready()
        except BaseException:
            handle.stop()
            raise
    return handle


def serve_forever(
    served: ServedModel,
    settings: ServeSettings,
    *,
    host: str,
    port: int,
    workers: int = 1,
    log_dir: str | Path | None = None,
    on_listening: Any = None,
) -> None:
    """Serve in the foreground until SIGINT or SIGTERM, with ``workers`` processes sharing one socket, each
    with its own batcher and prediction log file and BLAS/OpenMP threads limited to its share of the cores."""
    from mlops_actions.serving.app import build_app
    from mlops_actions.serving.prediction_log import require_log_writer

    require_serve_extra()
    if settings.log_enabled:
        require_log_writer(settings.log_format)  # before forking: a worker's error would not say it
    sock = bind_socket(host, port)
    if on_listening is not None:
        on_listening(sock.getsockname()[1])
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    _stop_quietly_on_sigterm()
    if workers <= 1:
        _limit_threads(threads)
        state = _warmed_state(served, settings, log_dir=log_dir)
        _uvicorn_server(build_app(state)).run(sockets=[sock])
        return
    children = []
    for worker in range(workers):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 0
            try:
                _limit_threads(threads)
                state = _warmed_state(served, settings, log_dir=log_dir, worker=worker)
                _uvicorn_server(build_app(state)).run(sockets=[sock])
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    _supervise(children)


def _warmed_state(
    served: ServedModel, settings: ServeSettings, *, log_dir: str | Path | None, worker: int | None = None
) -> ServingState:
    """The state of a foreground worker, warmed up before it accepts a connection: workers share one
    listening socket, so a request waits in its backlog for a ready worker instead of meeting a cold one."""
    from mlops_actions.serving.app import warm_up_batcher

    state = build_state(served, settings, log_dir=log_dir, worker=worker)
    if state.warm_up_sample:
        warm_up_batcher(state)
        state.warm_up_sample = None  # done: the app is ready as soon as it starts
    _freeze_heap()
    return state


def _freeze_heap() -> None:
    """Take everything alive once the worker is warm (modules, the model) out of the garbage collector's
    sight: a full collection then scans only what was made since, not the whole heap. Its pauses were
    the p99 at 16 connections (60-80 ms, against 20-35 ms frozen). Foreground workers only: the caller of
    :func:`start_server` owns its own heap."""
    import gc

    gc.collect()
    gc.freeze()


def _stop_quietly_on_sigterm() -> None:
    """uvicorn handles SIGTERM (graceful shutdown), then raises it again for the handler it found: make that
    one a no-op, so a stopped server exits 0 rather than dying of the signal."""
    import signal

    signal.signal(signal.SIGTERM, lambda signum, frame: None)


def _limit_threads(threads: int) -> None:
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(threads))
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)


def _supervise(children: list[int]) -> None:
    """Wait for the workers; SIGINT or SIGTERM is passed on to each, and the first to die stops the rest."""
    import signal

    def forward(signum: int, frame: Any) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    remaining = set(children)
    while remaining:
        try:
            pid, _ = os.wait()
        except ChildProcessError:
            break
        remaining.discard(pid)
        forward(signal.SIGTERM, None)
