"""The SQLite store keeps the store's contract, and what is particular to a file on disk."""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlops_actions.errors import StoreError
from mlops_actions.metadata.base import MetadataStore
from mlops_actions.metadata.sqlite import SqliteStore
from tests.metadata_contract import StoreContract, sample_record


def plant_unreadable_row(store: MetadataStore) -> None:
    """A row whose JSON was cut mid-write, as a full disk or a killed writer can leave."""
    assert isinstance(store, SqliteStore)
    with sqlite3.connect(store.path) as connection:
        connection.execute(
            "INSERT INTO runs (id, model, stage, started_at, record) VALUES (?, ?, ?, ?, ?)",
            ("f" * 32, "churn", "check", "2026-12-02T10:00:01Z", '{"id": "ffff'),
        )


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[MetadataStore]:
        store = SqliteStore(tmp_path / "registry" / "metadata.sqlite")
        yield store
        store.close()

    @pytest.fixture
    def open_again(self, store: SqliteStore) -> Callable[[], MetadataStore]:
        return functools.partial(SqliteStore, store.path)

    @pytest.fixture
    def corrupt(self) -> Callable[[MetadataStore], None]:
        return plant_unreadable_row


def test_listing_a_store_never_written_creates_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "registry" / "metadata.sqlite")
    assert store.list_records().records == []
    assert not (tmp_path / "registry").exists()


def test_the_first_append_creates_the_folder_and_the_database_in_wal_mode(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a" / "b" / "metadata.sqlite")
    store.append(sample_record())
    store.close()
    with sqlite3.connect(tmp_path / "a" / "b" / "metadata.sqlite") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_file_that_is_not_a_database_is_a_store_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "metadata.sqlite"
    path.write_text("not a database\n" * 200)
    with pytest.raises(StoreError, match=r"^sqlite store .*metadata\.sqlite: not a usable metadata database"):
        SqliteStore(path).append(sample_record())


def test_a_locked_database_is_a_store_error_after_the_bounded_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlops_actions.metadata.sqlite as module

    monkeypatch.setattr(module, "BUSY_TIMEOUT_MS", 200)
    monkeypatch.setattr(module, "CONNECT_TIMEOUT_S", 0.2)
    store = SqliteStore(tmp_path / "metadata.sqlite")
    store.append(sample_record())
    holder = sqlite3.connect(tmp_path / "metadata.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        other = SqliteStore(tmp_path / "metadata.sqlite")
        with pytest.raises(StoreError, match=r"(cannot store run|cannot open the database).*locked"):
            other.append(sample_record())
        other.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        store.close()


def test_handles_that_open_a_new_database_at_the_same_moment_all_open_it(tmp_path: Path) -> None:
    # Switching a new file to WAL and creating its schema can fail at once with "locked" (SQLite does
    # not wait there), so the store retries that step within its deadline instead of failing a writer.
    failures: list[BaseException] = []
    for attempt in range(60):
        path = tmp_path / f"attempt-{attempt}" / "metadata.sqlite"
        go = threading.Event()

        def open_at_go(path: Path = path, go: threading.Event = go) -> None:
            store = SqliteStore(path)
            go.wait(10)
            try:
                store.append(sample_record())
            except BaseException as error:
                failures.append(error)
            finally:
                store.close()

        threads = [threading.Thread(target=open_at_go) for _ in range(8)]
        for thread in threads:
            thread.start()
        go.set()
        for thread in threads:
            thread.join(30)
    assert not failures, failures[:3]
