"""The metadata store's contract, proved the same way on every backend.

A backend's test module subclasses ``StoreContract`` (its class name starting with ``Test``) and provides three
fixtures:

- ``store``: a fresh, empty store (closed by the fixture at the end);
- ``open_again``: a callable with no argument returning a second handle to the same store. When it pickles
  (``functools.partial(SqliteStore, path)``), the concurrency test also runs it in spawned processes; otherwise
  only in threads;
- ``corrupt``: a callable ``corrupt(store)`` planting one unreadable record (a bad JSON line, a row whose JSON
  is cut) beside the good ones.

Class attributes tune the concurrency test: ``concurrent_writers`` × ``records_per_writer`` records
(default 4 × 10), and ``concurrency_deadline_s``.
"""

from __future__ import annotations

import multiprocessing
import pickle
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from mlops_actions.metadata.base import MetadataStore
from mlops_actions.metadata.records import RunRecord, new_record_id

OpenStore = Callable[[], MetadataStore]


def sample_record(**fields: Any) -> RunRecord:
    """A record with every field filled (nested metrics, data fingerprints, links, details); ``fields``
    replace any of them."""
    values: dict[str, Any] = {
        "id": new_record_id(),
        "stage": "check",
        "model": "churn",
        "verdict": "pass",
        "started_at": "2026-12-02T10:00:00Z",
        "duration_s": 12.5,
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "version": None,
        "pr": 7,
        "baseline": {"source": "registry", "version": "1.2.0", "commit": "fedcba9876543210"},
        "metrics": {
            "accuracy": {
                "value": 0.91,
                "low": 0.88,
                "high": 0.93,
                "baseline": 0.9,
                "delta": 0.01,
                "delta_low": -0.01,
                "delta_high": 0.03,
                "passed": True,
            },
            "f1": {"value": 0.8, "low": None, "high": None},
        },
        "data": {"train": {"sha256": "ab" * 32, "rows": 1000, "columns": ["x1", "x2", "y"]}},
        "links": {"run": "https://ci.example.invalid/run/1", "comment": "https://forge.example.invalid/pr/7"},
        "details": {"note": 'café ☕ "quoted"\nsecond line', "rules": [{"name": "acc", "passed": True}]},
        "tool_version": "0.9.0",
    }
    values.update(fields)
    return RunRecord(**values)


def _timestamp(index: int) -> str:
    """Distinct UTC timestamps, one second apart, in the record's form."""
    hours, rest = divmod(index, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"2026-12-{1 + hours // 24:02d}T{hours % 24:02d}:{minutes:02d}:{seconds:02d}Z"


def _writer_records(writer: int, count: int) -> list[RunRecord]:
    return [
        sample_record(
            model="churn",
            started_at=_timestamp(writer * count + n),
            verdict="pass",
            details={"w": writer, "n": n},
        )
        for n in range(count)
    ]


def append_all(open_again: OpenStore, records: list[RunRecord], go: Any = None) -> None:
    """Open a handle, wait for ``go`` (an Event, shared by every writer), append ``records``, close."""
    handle = open_again()
    try:
        if go is not None and not go.wait(60):
            raise TimeoutError("the writers were never started")
        for record in records:
            handle.append(record)
    finally:
        handle.close()


def _append_in_process(open_again: OpenStore, records: list[RunRecord], go: Any, errors: Any) -> None:
    try:
        append_all(open_again, records, go)
    except BaseException as error:  # reported to the parent, which fails the test
        errors.put(f"{type(error).__name__}: {error}")
        raise


class StoreContract:
    """The behaviour every MetadataStore shares. Subclasses provide ``store``, ``open_again`` and ``corrupt``."""

    concurrent_writers = 4
    records_per_writer = 10
    concurrency_deadline_s = 120.0

    @pytest.fixture
    def store(self) -> MetadataStore:
        pytest.fail(f"{type(self).__name__} must provide the `store` fixture (a fresh empty store)")

    @pytest.fixture
    def open_again(self, store: MetadataStore) -> OpenStore:
        pytest.fail(f"{type(self).__name__} must provide `open_again` (a second handle to the same store)")

    @pytest.fixture
    def corrupt(self, store: MetadataStore) -> Callable[[MetadataStore], None]:
        pytest.fail(f"{type(self).__name__} must provide `corrupt(store)` (plants one unreadable record)")

    def test_the_store_has_a_name_for_messages(self, store: MetadataStore) -> None:
        assert isinstance(store.name, str) and store.name.strip()

    def test_a_fresh_store_lists_nothing_and_warns_of_nothing(self, store: MetadataStore) -> None:
        listing = store.list_records()
        assert listing.records == []
        assert listing.warnings == []

    def test_an_appended_record_lists_back_with_every_field(self, store: MetadataStore) -> None:
        record = sample_record()
        store.append(record)
        listing = store.list_records()
        assert listing.records == [record]
        assert listing.records[0].as_dict() == record.as_dict()
        assert listing.warnings == []

    def test_a_record_with_only_the_required_fields_lists_back_the_same(self, store: MetadataStore) -> None:
        record = RunRecord(
            id=new_record_id(),
            stage="monitor",
            model="churn",
            verdict="ok",
            started_at="2026-12-02T10:00:00Z",
        )
        store.append(record)
        assert store.list_records().records == [record]

    def test_a_second_handle_sees_what_the_first_appended(
        self, store: MetadataStore, open_again: OpenStore
    ) -> None:
        record = sample_record()
        store.append(record)
        other = open_again()
        try:
            assert other.list_records().records == [record]
        finally:
            other.close()

    def test_listing_by_model_keeps_only_that_models_records(self, store: MetadataStore) -> None:
        churn = sample_record(model="churn", started_at="2026-12-02T10:00:00Z")
        fraud = sample_record(
            model="fraud", started_at="2026-12-02T10:00:01Z", stage="release", verdict="released"
        )
        store.append(churn)
        store.append(fraud)
        assert store.list_records(model="churn").records == [churn]
        assert store.list_records(model="fraud").records == [fraud]
        assert store.list_records(model="nobody").records == []
        assert store.list_records().records == [churn, fraud]

    def test_appending_the_same_record_twice_stores_it_once(
        self, store: MetadataStore, open_again: OpenStore
    ) -> None:
        record = sample_record()
        store.append(record)
        store.append(record)
        other = open_again()
        try:
            other.append(record)  # a write whose answer was lost, repeated from another job
        finally:
            other.close()
        assert store.list_records().records == [record]

    def test_records_come_back_oldest_first_then_by_id(self, store: MetadataStore) -> None:
        same_time = "2026-12-02T10:00:05Z"
        records = [
            sample_record(started_at="2026-12-02T09:59:59Z"),
            sample_record(started_at="2026-12-02T10:00:00Z"),
            sample_record(id="a" * 32, started_at=same_time),
            sample_record(id="b" * 32, started_at=same_time),
            sample_record(started_at="2026-12-03T00:00:00Z"),
        ]
        shuffled = records[:]
        random.Random(16).shuffle(shuffled)
        for record in shuffled:
            store.append(record)
        assert [r.id for r in store.list_records().records] == [r.id for r in records]

    def test_a_corrupted_record_is_skipped_with_a_warning_and_the_others_still_listed(
        self, store: MetadataStore, corrupt: Callable[[MetadataStore], None]
    ) -> None:
        first = sample_record(started_at="2026-12-02T10:00:00Z")
        store.append(first)
        corrupt(store)
        last = sample_record(started_at="2026-12-02T10:00:02Z")
        store.append(last)
        listing = store.list_records()
        assert listing.records == [first, last]
        assert len(listing.warnings) == 1
        assert "skipped" in listing.warnings[0]

    @pytest.mark.parametrize("mode", ["threads", "processes"])
    def test_concurrent_appenders_lose_no_record(
        self, store: MetadataStore, open_again: OpenStore, mode: str
    ) -> None:
        batches = [_writer_records(w, self.records_per_writer) for w in range(self.concurrent_writers)]
        if mode == "threads":
            self._append_in_threads(open_again, batches)
        else:
            try:
                pickle.dumps(open_again)
            except Exception as error:
                pytest.skip(f"the store's handle does not pickle ({type(error).__name__}): threads only")
            self._append_in_processes(open_again, batches)
        listing = store.list_records()
        expected = sorted((r for batch in batches for r in batch), key=lambda r: (r.started_at, r.id))
        assert [r.id for r in listing.records] == [r.id for r in expected]
        assert listing.records == expected
        assert listing.warnings == []

    def _append_in_threads(self, open_again: OpenStore, batches: list[list[RunRecord]]) -> None:
        go = threading.Event()
        errors: list[BaseException] = []

        def run(records: list[RunRecord]) -> None:
            try:
                append_all(open_again, records, go)
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=run, args=(batch,), daemon=True) for batch in batches]
        for thread in threads:
            thread.start()
        go.set()
        deadline = time.monotonic() + self.concurrency_deadline_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        assert not any(thread.is_alive() for thread in threads), "a writer thread never finished"
        assert not errors, f"writers failed: {errors}"

    def _append_in_processes(self, open_again: OpenStore, batches: list[list[RunRecord]]) -> None:
        context = multiprocessing.get_context("spawn")
        go = context.Event()
        errors = context.Queue()
        processes = [
            context.Process(target=_append_in_process, args=(open_again, batch, go, errors), daemon=True)
            for batch in batches
        ]
        for process in processes:
            process.start()
        go.set()
        deadline = time.monotonic() + self.concurrency_deadline_s
        try:
            for process in processes:
                process.join(max(0.0, deadline - time.monotonic()))
            alive = [process for process in processes if process.is_alive()]
            assert not alive, f"{len(alive)} writer processes never finished"
        finally:
            for process in processes:
                if process.is_alive():
                    process.kill()
        failures = []
        while not errors.empty():
            failures.append(errors.get_nowait())
        assert [process.exitcode for process in processes] == [0] * len(processes), (
            f"writers failed: {failures}"
        )
