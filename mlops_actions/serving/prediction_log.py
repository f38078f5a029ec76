"""The prediction log: every prediction appended as JSON Lines, off the request path, bounded in memory.

A request hands its rows to :meth:`PredictionLog.append`, which only queues them (no serialisation, no I/O).
One writer thread turns them into lines (format in docs/serving.md) and appends them to the current file,
``predictions-<UTC start>-<pid>.jsonl``, which is closed and replaced by a new one past ``max_bytes`` or
``max_seconds``. When the queue holds ``max_records`` rows (a slow sink) new rows are dropped; when a write
fails (a full disk) the rows of that write are dropped; both are counted in :attr:`dropped` and shown by
``/metrics``. No request ever waits for, or fails because of, the log.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

LOG_FORMAT = "mlops-actions/prediction-log"
LOG_FORMAT_VERSION = 1
FILE_PREFIX, FILE_SUFFIX = "predictions-", ".jsonl"
IDLE_CHECK_S = 0.25  # how often an idle writer checks whether the open file is too old


@dataclass(frozen=True)
class LoggedRequest:
    """One answered request, as queued for the writer."""

    time: float  # seconds since the epoch when it was answered
    request_id: str
    model: str
    version: str
    columns: dict[str, list[Any]]
    predictions: list[Any]
    probabilities: list[list[float]] | None
    classes: list[Any] | None
    latency_s: float
    rows: int


def _iso(seconds: float) -> str:
    return (
        datetime.fromtimestamp(seconds, tz=timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def record_lines(entry: LoggedRequest) -> str:
    """The JSON Lines of one request: one line per row."""
    stamp = _iso(entry.time)
    latency_ms = round(entry.latency_s * 1000, 3)
    names = list(entry.columns)
    class_keys = [str(c) for c in entry.classes] if entry.classes is not None else None
    lines = []
    for row in range(entry.rows):
        line: dict[str, Any] = {
            "format": LOG_FORMAT_VERSION,
            "time": stamp,
            "request_id": entry.request_id,
            "row": row,
            "model": entry.model,
            "version": entry.version,
            "inputs": {name: entry.columns[name][row] for name in names},
            "prediction": entry.predictions[row],
        }
        if entry.probabilities is not None and class_keys is not None:
            line["probabilities"] = dict(zip(class_keys, entry.probabilities[row], strict=True))
        line["latency_ms"] = latency_ms
        lines.append(json.dumps(line, allow_nan=True, separators=(",", ":"), default=str))
    return "\n".join(lines) + "\n"


Opener = Callable[[Path], IO[str]]


def _open_append(path: Path) -> IO[str]:
    return open(path, "a", encoding="utf-8", newline="\n")


class PredictionLog:
    """Queue of answered requests and the thread that writes them to rotated JSON Lines files."""

    def __init__(
        self,
        folder: str | Path,
        *,
        max_bytes: int,
        max_seconds: float,
        max_records: int,
        opener: Opener = _open_append,
        clock: Callable[[], float] = time.time,
    ):
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.max_records = max_records
        self.opener = opener
        self.clock = clock
        self.written = 0  # rows written
        self.dropped = 0  # rows dropped: queue full (slow sink) or a failed write (full disk)
        self.files = 0  # files opened
        self.last_error: str | None = None
        self._queue: deque[LoggedRequest] = deque()
        self._queued = 0
        self._lock = threading.Condition()
        self._stopping = False
        self._file: IO[str] | None = None
        self.current_path: Path | None = None  # the file being appended to, None between files
        self._file_bytes = 0
        self._file_opened = 0.0
        self._thread = threading.Thread(target=self._write_loop, name="mlops-prediction-log", daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        return self._queued

    def append(self, entry: LoggedRequest) -> bool:
        """Queue ``entry``'s rows for the writer; False (and counted as dropped) when the queue is full."""
        with self._lock:
            if self._stopping or self._queued + entry.rows > self.max_records:
                self.dropped += entry.rows
                return False
            self._queue.append(entry)
            self._queued += entry.rows
            self._lock.notify()
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (for at most ``timeout`` seconds), then close the current file."""
        with self._lock:
            self._stopping = True
            self._lock.notify()
        self._thread.join(timeout)

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                if not self._queue and not self._stopping:
                    self._lock.wait(timeout=min(IDLE_CHECK_S, self.max_seconds))
                entries = list(self._queue)
                self._queue.clear()
                stopping = self._stopping
            if entries:
                self._write(entries)
            else:
                self._rotate_if_old()  # a quiet server still closes an old file
                if stopping:
                    self._close_file()
                    return

    def _write(self, entries: list[LoggedRequest]) -> None:
        rows = sum(entry.rows for entry in entries)
        try:
            text = "".join(record_lines(entry) for entry in entries)
            handle = self._current()
            handle.write(text)
            handle.flush()
            self._file_bytes += len(text.encode("utf-8"))
            self.written += rows
        except (OSError, ValueError, TypeError) as error:
            self.dropped += rows
            self.last_error = f"{type(error).__name__}: {error}"
            self._close_file()  # a fresh file next time (the disk may have room again)
        finally:
            with self._lock:
                self._queued -= rows
        if self._file is not None and self._file_bytes >= self.max_bytes:
            self._close_file()

    def _rotate_if_old(self) -> None:
        if self._file is not None and self.clock() - self._file_opened >= self.max_seconds:
            self._close_file()

    def _current(self) -> IO[str]:
        self._rotate_if_old()
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            opened = self.clock()
            stamp = datetime.fromtimestamp(opened, tz=timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
            path = self.folder / f"{FILE_PREFIX}{stamp}-{os.getpid()}{FILE_SUFFIX}"
            self._file = self.opener(path)
            self.current_path = path
            self._file_bytes = 0
            self._file_opened = opened
            self.files += 1
        return self._file

    def _close_file(self) -> None:
        if self._file is not None:
            handle, self._file, self.current_path = self._file, None, None
            try:
                handle.close()
            except (OSError, ValueError) as error:
                self.last_error = f"{type(error).__name__}: {error}"
