"""The ``serve`` section of the config: defaults, values, and refusals naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlops_actions.domain.config import DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_LATENCY_MS, parse_config
from mlops_actions.errors import ConfigError
from tests.conftest import TINY_CONFIG


def parsed(extra: str, tmp_path: Path):
    return parse_config(yaml.safe_load(TINY_CONFIG + extra), tmp_path / "mlops.yaml")


def test_without_a_serve_section_the_measured_defaults_apply(tmp_path):
    serve = parsed("", tmp_path).serve
    assert (serve.max_batch_size, serve.max_latency_ms) == (DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_LATENCY_MS)
    assert serve.log_enabled and serve.log_path == tmp_path / ".mlops" / "predictions"


def test_the_serve_section_sets_batching_and_the_log(tmp_path):
    serve = parsed(
        "serve:\n  max_batch_size: 32\n  max_latency_ms: 40\n"
        "  log: {path: logs, max_mb: 1, max_minutes: 5, queue_records: 50, enabled: false}\n",
        tmp_path,
    ).serve
    assert (serve.max_batch_size, serve.max_latency_ms) == (32, 40.0)
    assert serve.log_path == tmp_path / "logs" and not serve.log_enabled
    assert (serve.log_max_bytes, serve.log_max_seconds, serve.log_queue_records) == (1024 * 1024, 300.0, 50)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("serve: {max_batch_size: 0}\n", "serve.max_batch_size: 0 is less than the minimum of 1"),
        ("serve: {max_latency_ms: 0}\n", "serve.max_latency_ms: 0 is less than or equal to the minimum of 0"),
        ("serve: {batch: 3}\n", "serve: unknown key 'batch'"),
        ("serve: {log: {max_mb: -1}}\n", "serve.log.max_mb"),
    ],
)
def test_a_bad_serve_value_is_refused_naming_the_key(tmp_path, extra, message):
    with pytest.raises(ConfigError) as caught:
        parsed(extra, tmp_path)
    assert message in str(caught.value)


def test_the_prediction_log_format_is_jsonl_unless_parquet_is_asked_for(tmp_path):
    assert parsed("", tmp_path).serve.log_format == "jsonl"
    serve = parsed("serve:\n  log: {format: parquet, parquet_rows: 200}\n", tmp_path).serve
    assert (serve.log_format, serve.log_parquet_rows) == ("parquet", 200)


def test_an_unknown_prediction_log_format_is_refused_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"serve\.log\.format"):
        parsed("serve:\n  log: {format: csv}\n", tmp_path)
