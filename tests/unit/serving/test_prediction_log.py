"""The prediction log: one line per row, rotation by size and age, and drops instead of failures."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from mlops_actions.serving.prediction_log import LoggedRequest, ParquetPredictionLog, PredictionLog


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


def parquet_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("predictions-*.parquet"), key=lambda path: int(path.stem.rsplit("-", 1)[1]))


def parquet_rows(folder: Path) -> list[dict]:
    pq = pytest.importorskip("pyarrow.parquet")
    return [row for path in parquet_files(folder) for row in pq.read_table(path).to_pylist()]


def parquet_log(folder: Path, **overrides) -> ParquetPredictionLog:
    pytest.importorskip("pyarrow")
    settings = {"max_bytes": 10**6, "max_seconds": 3600, "max_records": 100, "file_rows": 50, **overrides}
    return ParquetPredictionLog(folder, **settings)


def test_parquet_rows_read_back_with_the_json_lines_fields_typed(tmp_path):
    log = parquet_log(tmp_path)
    log.append(entry(rows=2))
    log.close()
    first, second = parquet_rows(tmp_path)
    assert first == {
        "format": 1,
        "time": datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=timezone.utc),
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
    assert log.written == 2 and log.dropped == 0 and log.files == 1


def test_parquet_inputs_are_one_typed_column_each_that_a_monitor_reads_directly(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    log = parquet_log(tmp_path)
    log.append(entry(rows=2))
    log.close()
    (path,) = parquet_files(tmp_path)
    table = pq.read_table(path)
    inputs = table.schema.field("inputs").type
    assert (inputs.field("x1").type, inputs.field("group").type) == (pa.float64(), pa.string())
    assert table.schema.field("time").type == pa.timestamp("ms", tz="UTC")
    assert table.flatten().column("inputs.group").to_pylist() == ["a", "a"]
    assert table.schema.metadata[b"format"] == b"mlops-actions/prediction-log"


def test_parquet_rows_of_requests_with_different_columns_share_one_file(tmp_path):
    log = parquet_log(tmp_path)
    log.append(entry(rows=1, request_id="plain"))
    log.append(dataclasses.replace(entry(rows=1, request_id="with-id"), columns={"x1": [1], "loan": ["L1"]}))
    log.close()
    rows = parquet_rows(tmp_path)
    assert [row["inputs"] for row in rows] == [
        {"x1": 0.5, "group": "a", "loan": None},
        {"x1": 1.0, "group": None, "loan": "L1"},
    ]


def test_a_parquet_file_is_written_per_batch_of_rows(tmp_path):
    log = parquet_log(tmp_path, file_rows=4)
    for number in range(10):
        log.append(entry(request_id=f"r{number}"))
        time.sleep(0.01)  # one write each, so each write can close a file
    log.close()
    sizes = [len(parquet_rows_of(path)) for path in parquet_files(tmp_path)]
    assert sizes == [4, 4, 2]
    assert [row["request_id"] for row in parquet_rows(tmp_path)] == [f"r{n}" for n in range(10)]


def parquet_rows_of(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def test_a_parquet_file_is_written_after_its_age_even_on_a_quiet_server(tmp_path):
    now = [1000.0]
    log = parquet_log(tmp_path, max_seconds=60, clock=lambda: now[0])
    log.append(entry(request_id="early"))
    time.sleep(0.3)
    assert parquet_files(tmp_path) == [] and log.queued == 1  # buffered, still counted against the bound
    now[0] += 61
    deadline = time.monotonic() + 5
    while not parquet_files(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.01)  # the writer writes the old rows without waiting for a new one
    assert log.files == 1 and log.queued == 0
    log.append(entry(request_id="late"))
    log.close()
    assert [row["request_id"] for row in parquet_rows(tmp_path)] == ["early", "late"]


def test_a_parquet_file_is_only_visible_once_complete(tmp_path):
    import pyarrow.parquet as pq

    seen_while_writing: list[list[Path]] = []

    def slow_writer(table, path):
        with open(path, "wb") as handle:
            handle.write(b"PAR1")  # a partial file, under its temporary name
            seen_while_writing.append(parquet_files(tmp_path))
        pq.write_table(table, path)

    log = parquet_log(tmp_path, writer=slow_writer)
    log.append(entry(rows=3))
    log.close()
    assert seen_while_writing == [[]]
    assert len(parquet_rows(tmp_path)) == 3
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


def test_a_full_disk_drops_parquet_rows_counts_them_and_leaves_no_file(tmp_path):
    import errno

    def full_disk(table, path):
        path.write_bytes(b"PAR1")  # the first bytes made it to the temporary file, then the disk was full
        raise OSError(errno.ENOSPC, "No space left on device")

    log = parquet_log(tmp_path, writer=full_disk)
    assert log.append(entry(rows=3)) is True  # queued: the request never sees the disk
    log.close()
    assert log.dropped == 3 and log.written == 0 and log.queued == 0
    assert "No space left" in (log.last_error or "")
    assert list(tmp_path.iterdir()) == []
    log = parquet_log(tmp_path)  # the disk has room again: the next file is written
    log.append(entry(rows=1))
    log.close()
    assert len(parquet_rows(tmp_path)) == 1


def test_a_slow_parquet_sink_fills_the_bound_and_new_rows_are_dropped_at_once(tmp_path):
    def slow_writer(table, path):
        time.sleep(0.5)

    log = parquet_log(tmp_path, max_records=5, file_rows=2, writer=slow_writer)
    started = time.perf_counter()
    accepted = [log.append(entry(rows=2)) for _ in range(10)]
    elapsed = time.perf_counter() - started
    assert elapsed < 0.1  # appending never waits for the sink
    assert accepted.count(False) >= 7
    assert log.dropped >= 14
    log.close(timeout=3)


def test_parquet_without_pyarrow_is_a_one_line_config_error(tmp_path, monkeypatch):
    import importlib.util

    from mlops_actions.errors import ConfigError

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=r"parquet needs pyarrow: pip install 'mlops-actions\[parquet\]'"):
        ParquetPredictionLog(tmp_path, max_bytes=10**6, max_seconds=60, max_records=10, file_rows=5)
