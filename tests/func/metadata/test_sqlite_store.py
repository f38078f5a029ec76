"""The SQLite store keeps the store's contract, and what is particular to a file on disk."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlops_actions.metadata.base import MetadataStore
from mlops_actions.metadata.sqlite import SqliteStore
from tests.metadata_contract import StoreContract


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
