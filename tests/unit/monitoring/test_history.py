"""The monitor's history: stored states read back (corrupted ones left out with a warning), merged with a
run's, capped at monitor.history_windows and stored again; a registry that fails never fails the run."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from mlops_actions.domain.config import MONITOR_HISTORY_WINDOWS, monitor_settings, parse_config
from mlops_actions.errors import RegistryError
from mlops_actions.monitoring.history import compact_state, monitor_history, store_states, stored_states
from mlops_actions.monitoring.reference import Reference
from mlops_actions.monitoring.result import FAIL, OK, Finding, MonitorResult, WindowResult
from mlops_actions.monitoring.state import WindowState
from mlops_actions.platforms.local.registry import MONITOR_STATES, LocalRegistry
from mlops_actions.registry.base import UnreadableMonitorStates
from tests.unit.platforms.local.test_registry import make_model_dir


def config_of(tmp_path: Path, **monitor: Any):  # type: ignore[no-untyped-def]
    doc = {
        "version": 1,
        "model": {"name": "credit", "task": "binary"},
        "train": {"entrypoint": "pkg.mod:fit"},
        "data": {"train": "train.csv", "target": "y"},
        "registry": {"backend": "local", "path": str(tmp_path / "reg")},
        **({"monitor": monitor} if monitor else {}),
    }
    return parse_config(doc, tmp_path / "mlops.yaml")


@pytest.fixture
def registry(tmp_path) -> LocalRegistry:
    registry = LocalRegistry(tmp_path / "reg", "credit")
    registry.publish(make_model_dir(tmp_path / "m"), version="1.0.0", metrics={})
    return registry


def hour(index: int) -> str:
    return f"2026-11-30T{index:02d}:00:00Z"


def result_of(*hours: int, drift: float = 0.05) -> MonitorResult:
    windows = tuple(
        WindowResult(
            hour(h),
            hour(h + 1),
            500,
            (
                Finding("stability", OK, (), {"nonfinite_share": 0.0, "outside_unit_rows": 0}),
                Finding("input_drift", FAIL, (), {"columns": {"income": {"score": drift, "drifted": True}}}),
            ),
        )
        for h in hours
    )
    return MonitorResult(
        model="credit",
        version="1.0.0",
        reference="version 1.0.0's training-data profile",
        window="1h",
        since=None,
        files=("log.jsonl",),
        rows_read=500 * len(hours),
        rows_before_since=0,
        partial_lines=0,
        prediction_drift_reference="the first window",
        windows=windows,
    )


REFERENCE = Reference(profile=None, source="version 1.0.0", version="1.0.0", tag="credit@v1.0.0")  # type: ignore[arg-type]


def test_the_stored_form_is_compact_and_reads_back_as_the_same_state_to_four_digits():
    state = WindowState(
        start=hour(1),
        end=hour(2),
        rows=500,
        status=FAIL,
        version="1.0.0",
        checks={"stability": FAIL},
        drift={"income": 0.123456789, "age": math.inf, "odd": math.nan},
        drifted=("income",),
        counters={"nonfinite_share": 0.0303030303, "outside_unit_rows": 12.0, "out_of_range:age": 0.0},
    )
    stored = compact_state(state)
    text = json.dumps(stored, allow_nan=False)  # JSON-safe: NaN and the infinities as text
    assert "0.1235" in text and "0.123456789" not in text and '"outside_unit_rows": 12}' in text
    assert "out_of_range:age" not in text  # zero counters are left out
    back = WindowState.from_dict(json.loads(text))
    assert back.drift["income"] == 0.1235 and back.drift["age"] == math.inf and math.isnan(back.drift["odd"])
    assert back.counters == {"nonfinite_share": 0.0303, "outside_unit_rows": 12.0}
    assert (back.start, back.rows, back.checks, back.drifted) == (state.start, 500, state.checks, ("income",))


def test_a_corrupted_stored_state_is_left_out_with_a_warning(registry):
    good = compact_state(WindowState(start=hour(1), end=hour(2), rows=10, status=OK))
    registry.record_monitor_states("1.0.0", [good, {"start": hour(2), "rows": "many"}, {"start": hour(3)}])
    warnings: list[str] = []
    states = stored_states(registry, "1.0.0", warnings=warnings)
    assert [s.start for s in states] == [hour(1)]
    assert len(warnings) == 2 and all(
        "of version 1.0.0 cannot be read and is left out" in w for w in warnings
    )


def test_a_run_extends_the_stored_history_and_a_second_run_extends_the_first(tmp_path, registry):
    config = config_of(tmp_path)
    first = monitor_history(config, result_of(1, 2), REFERENCE)
    assert first.recorded and first.stored == 0 and first.warnings == ()
    second = monitor_history(config, result_of(2, 3, drift=0.3), REFERENCE)
    assert second.stored == 2 and second.recorded
    assert [s.start for s in second.states] == [hour(1), hour(2), hour(3)]
    assert second.states[1].drift == {"income": 0.3}  # a window seen again takes its new state
    assert [s.start for s in stored_states(registry, "1.0.0")] == [hour(1), hour(2), hour(3)]
    assert second.to_list()[0]["start"] == hour(1)


def test_the_history_keeps_the_newest_history_windows(tmp_path, registry):
    config = config_of(tmp_path, history_windows=3)
    assert monitor_settings(config.raw).history_windows == 3
    assert monitor_settings(config_of(tmp_path).raw).history_windows == MONITOR_HISTORY_WINDOWS
    monitor_history(config, result_of(1, 2), REFERENCE)
    history = monitor_history(config, result_of(3, 4), REFERENCE)
    assert [s.start for s in history.states] == [hour(2), hour(3), hour(4)]
    assert [s["start"] for s in registry.monitor_states("1.0.0")] == [hour(2), hour(3), hour(4)]


def test_without_record_the_stored_states_are_shown_and_left_as_they_were(tmp_path, registry):
    config = config_of(tmp_path)
    monitor_history(config, result_of(1), REFERENCE)
    history = monitor_history(config, result_of(2), REFERENCE, record=False)
    assert [s.start for s in history.states] == [hour(1), hour(2)] and not history.recorded
    assert [s["start"] for s in registry.monitor_states("1.0.0")] == [hour(1)]


def test_a_profile_file_as_the_reference_gives_the_runs_own_states_and_touches_no_registry(tmp_path):
    history = monitor_history(config_of(tmp_path), result_of(1, 2), Reference(None, "profile file p.json"))  # type: ignore[arg-type]
    assert [s.start for s in history.states] == [hour(1), hour(2)] and not history.recorded
    assert not (tmp_path / "reg").exists()


def test_a_store_that_fails_is_a_warning_not_an_error(tmp_path, registry, monkeypatch):
    def refuse(version, states):  # type: ignore[no-untyped-def]
        raise RegistryError("github registry: GitHub refused PATCH (HTTP 403)")

    monkeypatch.setattr(LocalRegistry, "record_monitor_states", lambda self, v, s: refuse(v, s))
    history = monitor_history(config_of(tmp_path), result_of(1), REFERENCE)
    assert not history.recorded and [s.start for s in history.states] == [hour(1)]
    assert history.warnings == (
        "the monitor states of version 1.0.0 were not recorded: github registry: GitHub refused PATCH (HTTP 403)",
    )


def test_a_history_that_cannot_be_read_is_not_overwritten(tmp_path, registry, monkeypatch):
    store_states(registry, "1.0.0", result_states_of(1))
    monkeypatch.setattr(
        LocalRegistry, "monitor_states", lambda self, v: (_ for _ in ()).throw(RegistryError("timed out"))
    )
    history = monitor_history(config_of(tmp_path), result_of(2), REFERENCE)
    assert not history.recorded and [s.start for s in history.states] == [hour(2)]
    assert "were not read, so none are recorded" in history.warnings[0]
    monkeypatch.undo()
    assert [s["start"] for s in registry.monitor_states("1.0.0")] == [hour(1)]


def test_unreadable_stored_states_are_said_and_replaced_by_the_runs(tmp_path, registry):
    (tmp_path / "reg" / "credit" / "versions" / "1.0.0" / MONITOR_STATES).write_text("{broken")
    with pytest.raises(UnreadableMonitorStates):
        registry.monitor_states("1.0.0")
    history = monitor_history(config_of(tmp_path), result_of(1), REFERENCE)
    assert history.recorded and "not a JSON list" in history.warnings[0]
    assert [s["start"] for s in registry.monitor_states("1.0.0")] == [hour(1)]


def result_states_of(*hours: int) -> list[WindowState]:
    from mlops_actions.monitoring.state import result_states

    return result_states(result_of(*hours))
