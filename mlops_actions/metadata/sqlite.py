"""The embedded metadata store: one SQLite file (by default beside the local registry's versions)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from mlops_actions.errors import StoreError
from mlops_actions.metadata.records import (
    Listing,
    RunRecord,
    load_json,
    parse_record,
    record_line,
    record_order,
)

CONNECT_TIMEOUT_S = 10.0  # how long a writer waits for another writer's lock before giving up
BUSY_TIMEOUT_MS = 10_000
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    stage TEXT NOT NULL,
    started_at TEXT NOT NULL,
    record TEXT NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS runs_by_model ON runs (model, started_at, id)",
)
SQLITE_BUSY, SQLITE_LOCKED = 5, 6


class SqliteStore:
    """Run records in a SQLite database: WAL journal (readers never block the writer), a bounded busy
    timeout, and ``INSERT OR IGNORE`` on the record id, so appending a record twice stores it once."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.name = f"sqlite store {self.path}"
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is not None:
            return self._connection
        if self.path.exists() and not self.path.is_file():
            raise StoreError(f"{self.name}: {self.path} is not a file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.path, timeout=CONNECT_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"{self.name}: cannot open the database: {error}") from error
        connection.text_factory = _lenient_text  # a row of bad bytes is a warning, not a failed listing
        try:
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _prepare(connection, deadline=time.monotonic() + CONNECT_TIMEOUT_S)
        except sqlite3.OperationalError as error:  # locked past the busy timeout, read-only, disk full
            connection.close()
            raise StoreError(f"{self.name}: cannot open the database: {error}") from error
        except sqlite3.Error as error:
            connection.close()
            raise StoreError(f"{self.name}: not a usable metadata database: {error}") from error
        self._connection = connection
        return connection

    def append(self, record: RunRecord) -> None:
        """Store ``record`` unless a record with its id is already there."""
        connection = self._connect()
        try:
            connection.execute(
                "INSERT OR IGNORE INTO runs (id, model, stage, started_at, record) VALUES (?, ?, ?, ?, ?)",
                (record.id, record.model, record.stage, record.started_at, record_line(record).rstrip("\n")),
            )
        except sqlite3.Error as error:
            raise StoreError(f"{self.name}: cannot store run {record.id}: {error}") from error

    def list_records(self, model: str | None = None) -> Listing:
        """The records (of ``model``, or all), oldest first; a row whose JSON is unreadable is skipped with a
        warning. A database not created yet lists nothing (reading never creates it)."""
        if self._connection is None and not self.path.exists():
            return Listing([])
        connection = self._connect()
        query = "SELECT id, record FROM runs"
        arguments: tuple[str, ...] = ()
        if model is not None:
            query += " WHERE model = ?"
            arguments = (model,)
        try:
            rows = connection.execute(query + " ORDER BY started_at, id", arguments).fetchall()
        except sqlite3.Error as error:
            raise StoreError(f"{self.name}: cannot read the runs: {error}") from error
        records: list[RunRecord] = []
        warnings: list[str] = []
        for row_id, text in rows:
            where = f"{self.path} run {row_id}"
            try:
                record = parse_record(load_json(text), where=where)
            except (ValueError, TypeError) as error:
                why = str(error).removeprefix(where + ": ")
                warnings.append(f"{where}: skipped: {why}")
                continue
            if model is not None and record.model != model:
                continue
            records.append(record)
        return Listing(sorted(records, key=record_order), warnings)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _prepare(connection: sqlite3.Connection, deadline: float) -> None:
    """Switch a fresh file to WAL and create the schema, retrying until ``deadline`` while other writers
    hold the lock. SQLite does not always wait by itself here: changing the journal mode, and a read lock
    that must become a write lock, fail at once rather than risk a deadlock. The schema is therefore
    written in an immediate transaction (it takes the write lock first, and waits for it)."""
    pause = 0.005
    while True:
        try:
            (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("BEGIN IMMEDIATE")
            try:
                for statement in SCHEMA:
                    connection.execute(statement)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            return
        except sqlite3.OperationalError as error:
            if not _is_busy(error) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (SQLITE_BUSY, SQLITE_LOCKED)
    return "locked" in str(error) or "busy" in str(error)


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")
