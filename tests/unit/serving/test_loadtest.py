"""The load test's parts that need no load: its settings, the thresholds, the request mix, the rows sent,
the result's JSON form, and refusals before any load (bad URL, closed port, no Locust, a stuck child)."""

from __future__ import annotations

import json
import random
import socket
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from mlops_actions.domain.config import (
    DEFAULT_MAX_LATENCY_MS,
    LoadTestSettings,
    LoadTestThresholds,
    RequestMix,
    parse_config,
)
from mlops_actions.domain.loadtest import (
    ABORT_MIN_REQUESTS,
    LoadTestResult,
    percentile,
    request_plan,
    should_abort,
    summarise,
    threshold_failures,
)
from mlops_actions.errors import ConfigError, MlopsError
from mlops_actions.serving import loadtest
from mlops_actions.serving.locust_worker import error_kind
from tests.conftest import TINY_CONFIG, write_tiny_data


def parsed(extra: str, tmp_path: Path, config: str = TINY_CONFIG):
    return parse_config(yaml.safe_load(config + extra), tmp_path / "mlops.yaml")


# -- settings -------------------------------------------------------------------------------------------


def test_without_a_loadtest_section_the_documented_profile_applies(tmp_path):
    settings = parsed("", tmp_path).loadtest
    assert settings == LoadTestSettings()
    assert (settings.users, settings.users_per_second, settings.duration_s) == (16, 16.0, 30.0)
    assert (settings.max_requests, settings.request_timeout_s, settings.abort_on_fail) == (20000, 10.0, True)
    assert settings.mix == (RequestMix(rows=1, weight=1.0),)
    assert settings.thresholds.as_dict() == {"p99_ms": DEFAULT_MAX_LATENCY_MS, "error_rate": 0.01}


def test_the_default_p99_threshold_is_the_servers_latency_budget(tmp_path):
    settings = parsed(
        "serve: {max_latency_ms: 75}\nloadtest: {thresholds: {p95_ms: 40}}\n", tmp_path
    ).loadtest
    assert settings.thresholds.as_dict() == {"p95_ms": 40.0, "p99_ms": 75.0, "error_rate": 0.01}


def test_the_loadtest_section_sets_profile_mix_and_thresholds(tmp_path):
    settings = parsed(
        textwrap.dedent(
            """\
            loadtest:
              users: 4
              spawn_rate: 2
              duration_s: 5
              max_requests: 300
              request_timeout_s: 1.5
              mix: [{rows: 1, weight: 9}, {rows: 100}]
              thresholds: {p95_ms: 100, p99_ms: 200, error_rate: 0.05, min_rps: 50}
              abort_on_fail: false
            """
        ),
        tmp_path,
    ).loadtest
    assert (settings.users, settings.users_per_second, settings.duration_s) == (4, 2.0, 5.0)
    assert (settings.max_requests, settings.request_timeout_s, settings.abort_on_fail) == (300, 1.5, False)
    assert settings.mix == (RequestMix(1, 9.0), RequestMix(100, 1.0))
    assert settings.thresholds == LoadTestThresholds(p95_ms=100, p99_ms=200, error_rate=0.05, min_rps=50)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("loadtest: {users: 0}\n", "loadtest.users: 0 is less than the minimum of 1"),
        ("loadtest: {duration_s: 0}\n", "loadtest.duration_s: 0 is less than or equal to the minimum of 0"),
        ("loadtest: {max_requests: 1.5}\n", "loadtest.max_requests: expected integer"),
        ("loadtest: {mix: []}\n", "loadtest.mix: [] should be non-empty"),
        ("loadtest: {mix: [{rows: 0}]}\n", "loadtest.mix[0].rows: 0 is less than the minimum of 1"),
        ("loadtest: {mix: [{weight: 2}]}\n", "loadtest.mix.0.rows: required key is missing"),
        ("loadtest: {mix: [{rows: 1, size: 2}]}\n", "loadtest.mix[0]: unknown key 'size'"),
        ("loadtest: {thresholds: {error_rate: 2}}\n", "loadtest.thresholds.error_rate: 2 is greater than"),
        ("loadtest: {thresholds: {p90_ms: 2}}\n", "loadtest.thresholds: unknown key 'p90_ms'"),
        ("loadtest: {threads: 2}\n", "loadtest: unknown key 'threads'"),
    ],
)
def test_a_bad_loadtest_value_is_refused_naming_the_key(tmp_path, extra, message):
    with pytest.raises(ConfigError) as caught:
        parsed(extra, tmp_path)
    [line] = str(caught.value).splitlines()
    assert message in line


# -- thresholds -----------------------------------------------------------------------------------------


def test_percentiles_are_exact_on_the_recorded_times_as_numpy_computes_them():
    values = sorted(random.Random(3).uniform(0.1, 900) for _ in range(1001))
    for q in (0, 50, 95, 99, 99.9, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-12)
    assert percentile([], 99) is None
    assert percentile([7.0], 99) == 7.0


def test_a_run_within_every_threshold_passes_with_its_figures():
    latencies = [float(ms) for ms in range(1, 101)]
    result = summarise(
        latencies,
        {},
        elapsed_s=2.0,
        users=4,
        thresholds=LoadTestThresholds(p95_ms=100, p99_ms=100, error_rate=0.01, min_rps=40),
    )
    assert result.passed and result.failures == [] and not result.aborted
    assert (result.requests, result.errors, result.error_rate, result.rps) == (100, 0, 0.0, 50.0)
    assert (result.p50_ms, result.p95_ms, result.p99_ms, result.max_ms) == (50.5, 95.05, 99.01, 100.0)
    assert result.thresholds == {"p95_ms": 100.0, "p99_ms": 100.0, "error_rate": 0.01, "min_rps": 40.0}


def test_each_breached_threshold_is_one_line_naming_its_key():
    latencies = [10.0] * 90 + [700.0] * 10
    result = summarise(
        latencies,
        {"503": 3, "timeout": 1},
        elapsed_s=4.0,
        users=16,
        thresholds=LoadTestThresholds(p95_ms=100, p99_ms=200, error_rate=0.01, min_rps=50),
    )
    assert not result.passed
    assert result.failures == [
        "p95 700 ms > 100 ms (loadtest.thresholds.p95_ms)",
        "p99 700 ms > 200 ms (loadtest.thresholds.p99_ms)",
        "error rate 4% > 1% (loadtest.thresholds.error_rate)",
        "throughput 25.0 rps < 50 rps (loadtest.thresholds.min_rps)",
    ]
    assert result.errors == 4 and result.errors_by_kind == {"503": 3, "timeout": 1}


def test_only_the_thresholds_that_are_set_are_judged():
    figures = {"p95_ms": 900.0, "p99_ms": 950.0, "error_rate": 0.5, "rps": 1.0}
    assert threshold_failures(figures, {}) == []
    assert threshold_failures(figures, {"p99_ms": 1000.0}) == []


def test_a_run_with_no_answer_fails_even_without_thresholds():
    result = summarise([], {}, elapsed_s=3.0, users=2, thresholds=LoadTestThresholds(None, None, None, None))
    assert not result.passed and result.failures == ["no request was answered in 3.0 s"]
    assert result.p99_ms is None and result.max_ms is None and result.rps == 0.0


def test_an_aborted_run_never_passes():
    result = summarise([1.0] * 300, {}, elapsed_s=1.0, users=2, thresholds=LoadTestThresholds(), aborted=True)
    assert result.aborted and not result.passed


def test_the_run_is_aborted_only_past_the_minimum_sample_with_the_error_rate_over_its_threshold():
    assert not should_abort(ABORT_MIN_REQUESTS - 1, ABORT_MIN_REQUESTS - 1, 0.01)
    assert should_abort(ABORT_MIN_REQUESTS, 3, 0.01)
    assert not should_abort(ABORT_MIN_REQUESTS, 2, 0.01)
    assert not should_abort(10_000, 10_000, None)


def test_no_early_stop_is_decided_before_the_abort_delay():
    assert not should_abort(ABORT_MIN_REQUESTS, ABORT_MIN_REQUESTS, 0.01, elapsed_s=1.9, delay_s=2.0)
    assert should_abort(ABORT_MIN_REQUESTS, ABORT_MIN_REQUESTS, 0.01, elapsed_s=2.0, delay_s=2.0)


def test_the_abort_delay_defaults_to_a_quarter_of_the_run_at_most_ten_seconds(tmp_path):
    default = parsed("loadtest: {}\n", tmp_path).loadtest
    assert default.abort_delay_for(8.0) == 2.0 and default.abort_delay_for(300.0) == 10.0
    assert parsed("loadtest:\n  abort_delay_s: 0\n", tmp_path).loadtest.abort_delay_for(300.0) == 0.0


def test_the_result_round_trips_through_json():
    result = summarise(
        [5.0, 6.0, 7.0], {"422": 1}, elapsed_s=1.5, users=3, thresholds=LoadTestThresholds(p95_ms=6.5)
    )
    document = json.loads(json.dumps(result.as_dict(), allow_nan=False))
    assert LoadTestResult.from_dict(document) == result
    assert set(document) == {
        "passed", "aborted", "failures", "requests", "errors", "error_rate", "rps", "p50_ms", "p95_ms",
        "p99_ms", "max_ms", "duration_s", "users", "errors_by_kind", "thresholds",
    }  # fmt: skip


# -- the request mix ------------------------------------------------------------------------------------


ROWS = [{"row_id": i, "x1": i / 10, "group": "abc"[i % 3]} for i in range(50)]


def test_each_kind_of_the_mix_sends_its_number_of_rows():
    plan = request_plan(ROWS, [RequestMix(1, 1), RequestMix(7, 1)])
    assert plan.rows == (1, 7)
    one, seven = ([json.loads(body) for body in kind] for kind in plan.bodies)
    assert all(isinstance(body, dict) and body in ROWS for body in one)
    assert all(isinstance(body, list) and len(body) == 7 for body in seven)
    assert all(row in ROWS for body in seven for row in body)


def test_requests_are_drawn_by_the_weights_of_the_mix():
    plan = request_plan(ROWS, [RequestMix(1, 9), RequestMix(3, 1)])
    rng = random.Random(1)
    sizes = [
        len(json.loads(body)) if body.startswith(b"[") else 1
        for body in (plan.pick(rng) for _ in range(4000))
    ]
    assert sizes.count(3) / len(sizes) == pytest.approx(0.1, abs=0.02)


def test_a_kind_larger_than_the_rows_given_wraps_around_them():
    plan = request_plan(ROWS[:2], [RequestMix(5, 1)])
    [bodies] = plan.bodies
    assert all(len(json.loads(body)) == 5 for body in bodies)


# -- the rows sent --------------------------------------------------------------------------------------


def test_the_rows_sent_are_the_eval_rows_without_the_target_id_kept(tmp_path):
    write_tiny_data(tmp_path)
    config = parse_config(yaml.safe_load(TINY_CONFIG), tmp_path / "mlops.yaml")
    rows = loadtest.request_rows(config, limit=25)
    assert len(rows) == 25
    assert set(rows[0]) == {"row_id", "x1", "x2", "group"}
    assert rows[0]["row_id"] == 600  # eval.csv starts after the 600 training rows
    json.dumps(rows, allow_nan=False)


def test_the_rows_sent_keep_only_the_listed_features_and_missing_values_become_null(tmp_path):
    import pandas as pd

    write_tiny_data(tmp_path)
    frame = pd.read_csv(tmp_path / "eval.csv")
    frame.loc[0, "x2"] = float("nan")
    frame.to_csv(tmp_path / "eval.csv", index=False)
    config = parsed("", tmp_path, TINY_CONFIG.replace("  slices: [group]\n", "  features: [x2, group]\n"))
    rows = loadtest.request_rows(config)
    assert set(rows[0]) == {"x2", "group", "row_id"} and rows[0]["x2"] is None
    json.dumps(rows, allow_nan=False)


def test_without_an_eval_file_the_rows_sent_are_the_eval_split(tmp_path):
    write_tiny_data(tmp_path)
    config = parsed(
        "", tmp_path, TINY_CONFIG.replace("  eval: eval.csv\n", "  split: {eval_fraction: 0.25}\n")
    )
    rows = loadtest.request_rows(config)
    assert 100 < len(rows) < 200 and all(row["row_id"] < 600 for row in rows)


# -- refusals before any load ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:8080", "127.0.0.1:8080", "http://", "http://host:99999"])
def test_a_url_that_is_not_http_is_refused_naming_it(url):
    with pytest.raises(MlopsError, match="--url"):
        loadtest.check_url(url)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_closed_port_is_refused_as_unreachable_before_any_load():
    with pytest.raises(MlopsError, match=r"unreachable \(Connection refused\)"):
        loadtest.run_load_test(f"http://127.0.0.1:{free_port()}", LoadTestSettings(), ROWS)


def test_without_locust_the_error_says_which_extra_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "locust" else real(name, *a)
    )
    with pytest.raises(MlopsError, match=r"install mlops-actions\[loadtest\]"):
        loadtest.run_load_test("http://127.0.0.1:9", LoadTestSettings(), ROWS)


def test_no_rows_to_send_is_refused():
    with pytest.raises(MlopsError, match="no rows to send"):
        loadtest.run_load_test("http://127.0.0.1:9", LoadTestSettings(), [])


def test_a_child_past_its_deadline_is_killed_and_reported(monkeypatch, tmp_path):
    (tmp_path / "stuck_worker.py").write_text("import time\ntime.sleep(120)\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setattr(loadtest, "WORKER_MODULE", "stuck_worker")
    monkeypatch.setattr(loadtest, "START_GRACE_S", 0.5)
    settings = LoadTestSettings(duration_s=0.5, request_timeout_s=0.5)
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        started = time.monotonic()
        with pytest.raises(MlopsError, match="did not finish within 2 s"):
            loadtest.run_load_test(f"http://127.0.0.1:{listening.getsockname()[1]}", settings, ROWS)
    assert time.monotonic() - started < 10


def test_a_child_that_fails_is_reported_with_its_last_line(monkeypatch, tmp_path):
    (tmp_path / "failing_worker.py").write_text("raise SystemExit('worker: cannot start users')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setattr(loadtest, "WORKER_MODULE", "failing_worker")
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        with pytest.raises(MlopsError, match="could not run: worker: cannot start users"):
            loadtest.run_load_test(f"http://127.0.0.1:{listening.getsockname()[1]}", LoadTestSettings(), ROWS)


def test_the_child_runs_without_tokens_and_outside_the_project(monkeypatch, tmp_path):
    seen = tmp_path / "seen.json"
    (tmp_path / "spying_worker.py").write_text(
        textwrap.dedent(
            f"""
            import json, os, sys
            job = json.loads(open(sys.argv[1]).read())
            open({str(seen)!r}, "w").write(json.dumps({{"token": os.environ.get("GITHUB_TOKEN"), "cwd": os.getcwd()}}))
            open(job["result"], "w").write(json.dumps(
                {{"latencies_ms": [1.0], "errors_by_kind": {{}}, "elapsed_s": 1.0, "users": 1, "aborted": False}}
            ))
            """
        )
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_" + "x" * 36)
    monkeypatch.setattr(loadtest, "WORKER_MODULE", "spying_worker")
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        result = loadtest.run_load_test(
            f"http://127.0.0.1:{listening.getsockname()[1]}", LoadTestSettings(), ROWS
        )
    assert result.requests == 1
    child = json.loads(seen.read_text())
    assert child["token"] is None
    assert Path(child["cwd"]).resolve() != project.resolve()


# -- error kinds ----------------------------------------------------------------------------------------


class Answer:
    def __init__(self, status_code: int):
        self.status_code = status_code


def test_a_failed_request_is_counted_by_status_timeout_or_connection():
    assert error_kind(Answer(200), None) is None
    assert error_kind(Answer(503), RuntimeError("503 Server Error")) == "503"
    assert error_kind(Answer(0), TimeoutError("timed out")) == "timeout"
    assert error_kind(None, ConnectionRefusedError(111, "refused")) == "connection"
    assert error_kind(Answer(0), ValueError("odd")) == "ValueError"
