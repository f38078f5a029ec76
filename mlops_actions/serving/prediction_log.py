"""The prediction log: every prediction appended off the request path, bounded in memory, as JSON Lines or
Parquet.

A request hands its rows to :meth:`PredictionLog.append`, which only queues them (no serialisation, no I/O).
One writer thread turns them into lines (format in docs/serving.md) and appends them to the current file,
``predictions-<UTC start>-<pid>.jsonl``, which is closed and replaced by a new one past ``max_bytes`` or
``max_seconds``. When the queue holds ``max_records`` rows (a slow sink) new rows are dropped; when a write
fails (a full disk) the rows of that write are dropped; both are counted in :attr:`dropped` and shown by
``/metrics``. No request ever waits for, or fails because of, the log.

:class:`ParquetPredictionLog` keeps the queue, the bounds and the drop rules, and writes whole files instead:
the writer buffers rows (counted against ``max_records`` until written) and writes them as one Parquet file,
``predictions-<UTC time>-<pid>-<n>.parquet``, once ``file_rows`` rows, about ``max_bytes`` or
``max_seconds`` of age are reached, and when the log closes. Each file is written under a hidden temporary
name and renamed, so a reader never sees a partial file.
"""

from __future__ import annotations

import contextlib
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
PARQUET_SUFFIX = ".parquet"
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


def _file_stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")


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
            path = self.folder / f"{FILE_PREFIX}{_file_stamp(opened)}-{os.getpid()}{FILE_SUFFIX}"
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


def parquet_table(entries: list[LoggedRequest]) -> Any:
    """The rows of ``entries`` as one Arrow table with the JSON Lines fields as columns (docs/serving.md):
    ``time`` a UTC timestamp, ``inputs`` and ``probabilities`` structs with one field per column or class."""
    import pyarrow as pa

    count = sum(entry.rows for entry in entries)
    names = list(dict.fromkeys(name for entry in entries for name in entry.columns))
    inputs: dict[str, list[Any]] = {name: [] for name in names}
    for entry in entries:
        for name in names:
            values = entry.columns.get(name)
            inputs[name].extend(values if values is not None else [None] * entry.rows)
    columns: dict[str, Any] = {
        "format": pa.array([LOG_FORMAT_VERSION] * count, pa.int32()),
        "time": pa.array(
            [round(entry.time * 1000) for entry in entries for _ in range(entry.rows)],
            pa.timestamp("ms", tz="UTC"),
        ),
        "request_id": pa.array(
            [entry.request_id for entry in entries for _ in range(entry.rows)], pa.string()
        ),
        "row": pa.array([row for entry in entries for row in range(entry.rows)], pa.int32()),
        "model": pa.array([entry.model for entry in entries for _ in range(entry.rows)], pa.string()),
        "version": pa.array([entry.version for entry in entries for _ in range(entry.rows)], pa.string()),
        "inputs": pa.StructArray.from_arrays([_typed(inputs[name]) for name in names], names=names)
        if names
        else pa.nulls(count, pa.struct([])),
        "prediction": _typed([value for entry in entries for value in entry.predictions[: entry.rows]]),
    }
    classes = next((entry.classes for entry in entries if entry.classes is not None), None)
    if classes is not None:
        keys = [str(c) for c in classes]
        by_class: list[list[float | None]] = [[] for _ in keys]
        for entry in entries:
            for row in range(entry.rows):
                found = entry.probabilities[row] if entry.probabilities is not None else None
                for position, values in enumerate(by_class):
                    values.append(found[position] if found is not None else None)
        columns["probabilities"] = pa.StructArray.from_arrays(
            [pa.array(values, pa.float64()) for values in by_class], names=keys
        )
    columns["latency_ms"] = pa.array(
        [round(entry.latency_s * 1000, 3) for entry in entries for _ in range(entry.rows)], pa.float64()
    )
    table = pa.table(columns)
    return table.replace_schema_metadata({"format": LOG_FORMAT, "format_version": str(LOG_FORMAT_VERSION)})


def _typed(values: list[Any]) -> Any:
    """An Arrow array of ``values`` with the type they share (int64, double, string, bool); values of mixed
    types (possible only without a data schema) as JSON text."""
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else json.dumps(v, default=str) for v in values], pa.string())


def require_log_writer(log_format: str) -> None:
    """A one-line config error (exit 2) when the library of ``log_format`` is missing: parquet needs pyarrow."""
    import importlib.util

    from mlops_actions.errors import ConfigError

    if log_format == "parquet" and importlib.util.find_spec("pyarrow") is None:
        raise ConfigError("serve.log.format: parquet needs pyarrow: pip install 'mlops-actions[parquet]'")


TableWriter = Callable[[Any, Path], None]


def _write_parquet(table: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, path)


class ParquetPredictionLog(PredictionLog):
    """The prediction log as Parquet files, one per batch of rows, each renamed into place once complete."""

    def __init__(
        self,
        folder: str | Path,
        *,
        max_bytes: int,
        max_seconds: float,
        max_records: int,
        file_rows: int,
        writer: TableWriter = _write_parquet,
        clock: Callable[[], float] = time.time,
    ):
        require_log_writer("parquet")
        self.file_rows = max(1, min(file_rows, max_records))
        self.writer = writer
        self._buffer: list[LoggedRequest] = []
        self._buffered = 0
        self._buffer_started = 0.0
        self._bytes_per_row = 0.0  # on disk, from the last file written; 0 until one is
        self._sequence = 0
        super().__init__(
            folder, max_bytes=max_bytes, max_seconds=max_seconds, max_records=max_records, clock=clock
        )

    def _write(self, entries: list[LoggedRequest]) -> None:
        self._rotate_if_old()
        if not self._buffer:
            self._buffer_started = self.clock()
        self._buffer.extend(entries)
        self._buffered += sum(entry.rows for entry in entries)
        full = self._buffered >= self.file_rows
        if full or (self._bytes_per_row and self._buffered * self._bytes_per_row >= self.max_bytes):
            self._flush()

    def _rotate_if_old(self) -> None:
        if self._buffer and self.clock() - self._buffer_started >= self.max_seconds:
            self._flush()

    def _close_file(self) -> None:
        self._flush()

    def _flush(self) -> None:
        entries, rows = self._buffer, self._buffered
        self._buffer, self._buffered = [], 0
        if not entries:
            return
        temporary: Path | None = None
        try:
            table = parquet_table(entries)
            self.folder.mkdir(parents=True, exist_ok=True)
            self._sequence += 1
            name = f"{FILE_PREFIX}{_file_stamp(self.clock())}-{os.getpid()}-{self._sequence}{PARQUET_SUFFIX}"
            temporary = self.folder / f".{name}.tmp"
            self.writer(table, temporary)
            final = self.folder / name
            os.replace(temporary, final)
            temporary = None
            self.files += 1
            self.written += rows
            self._bytes_per_row = final.stat().st_size / rows
        except Exception as error:  # a full disk, a value Arrow refuses: never the writer thread's end
            self.dropped += rows
            self.last_error = f"{type(error).__name__}: {error}"
        finally:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    temporary.unlink()
            with self._lock:
                self._queued -= rows
