"""The prediction log: one line per row, rotation by size and age, and drops instead of failures."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mlops_actions.serving.prediction_log import LoggedRequest, PredictionLog


def entry(rows: int = 1, request_id: str = "r1") -> LoggedRequest:
    return LoggedRequest(
        time=1_700_000_000.25,
        request_id=request_id,
        model="tiny",
        version="1.2.0",
        columns={"x1": [0.5] * rows, "group": ["a"] * rows},
        predictions=[1] * rows,
        probabilities=[[0.25, 0.75]] * rows,
        classes=[0, 1],
        latency_s=0.0123,
        rows=rows,
    )


def files(folder: Path) -> list[Path]:
    return sorted(folder.glob("predictions-*.jsonl"))


def lines(folder: Path) -> list[dict]:
    return [json.loads(line) for path in files(folder) for line in path.read_text().splitlines()]


def test_every_row_is_one_json_line_with_the_documented_fields(tmp_path):
    log = PredictionLog(tmp_path, max_bytes=10**6, max_seconds=3600, max_records=100)
    log.append(entry(rows=2))
    log.close()
    first, second = lines(tmp_path)
    assert first == {
        "format": 1,
        "time": "2023-11-14T22:13:20.250Z",
        "request_id": "r1",
        "row": 0,
        "model": "tiny",
        "version": "1.2.0",
        "inputs": {"x1": 0.5, "group": "a"},
        "prediction": 1,
        "probabilities": {"0": 0.25, "1": 0.75},
        "latency_ms": 12.3,
    }
    assert second["row"] == 1
    assert log.written == 2 and log.dropped == 0


def test_a_file_is_rotated_past_its_size(tmp_path):
    log = PredictionLog(tmp_path, max_bytes=600, max_seconds=3600, max_records=1000)
    for number in range(10):
        log.append(entry(request_id=f"r{number}"))
        time.sleep(0.01)  # one write each, so each write can rotate
    log.close()
    assert len(files(tmp_path)) >= 3
    assert all(path.stat().st_size < 600 + 400 for path in files(tmp_path))
    assert [line["request_id"] for line in lines(tmp_path)] == [f"r{n}" for n in range(10)]


def test_a_file_is_rotated_after_its_age_even_on_a_quiet_server(tmp_path):
    now = [1000.0]
    log = PredictionLog(tmp_path, max_bytes=10**6, max_seconds=60, max_records=100, clock=lambda: now[0])
    log.append(entry(request_id="early"))
    deadline = time.monotonic() + 5
    while log.written < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert log.current_path is not None
    now[0] += 61
    deadline = time.monotonic() + 5
    while log.current_path is not None and time.monotonic() < deadline:
        time.sleep(0.01)  # the writer closes the old file without waiting for a new row
    assert log.files == 1 and log.current_path is None
    log.append(entry(request_id="late"))
    log.close()
    assert log.files == 2
    assert [json.loads(p.read_text())["request_id"] for p in files(tmp_path)] == ["early", "late"]


def test_a_full_disk_drops_rows_and_counts_them_without_raising(tmp_path):
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("no /dev/full here")
    log = PredictionLog(
        tmp_path,
        max_bytes=10**6,
        max_seconds=3600,
        max_records=100,
        opener=lambda path: open(full, "w"),  # noqa: SIM115
    )
    assert log.append(entry(rows=3)) is True  # queued: the request never sees the disk
    log.close()
    assert log.dropped == 3 and log.written == 0
    assert "No space left" in (log.last_error or "")


def test_a_slow_sink_fills_the_queue_and_new_rows_are_dropped_at_once(tmp_path):
    class SlowFile:
        def write(self, text):
            time.sleep(0.5)

        def flush(self):
            pass

        def close(self):
            pass

    log = PredictionLog(
        tmp_path, max_bytes=10**6, max_seconds=3600, max_records=5, opener=lambda path: SlowFile()
    )
    started = time.perf_counter()
    accepted = [log.append(entry(rows=2)) for _ in range(10)]
    elapsed = time.perf_counter() - started
    assert elapsed < 0.1  # appending never waits for the sink
    assert accepted.count(False) >= 7
    assert log.dropped >= 14
    log.close(timeout=3)
