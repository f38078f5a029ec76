from mlops_actions.monitoring.result import FAIL, INSUFFICIENT, OK, Finding, WindowResult
from mlops_actions.monitoring.state import (
    WindowState,
    consecutive_breaches,
    merge_states,
    window_state,
)


def _state(start: str, **checks: str) -> WindowState:
    return WindowState(start=start, end=start + "+", rows=100, status=OK, checks=checks)


def test_window_state_keeps_drift_scores_and_counters():
    window = WindowResult(
        "2026-11-30T00:00:00Z",
        "2026-12-01T00:00:00Z",
        500,
        (
            Finding(
                "stability", FAIL, ("3.0% NaN outputs",), {"nonfinite_share": 0.03, "outside_unit_rows": 0}
            ),
            Finding("range", OK, (), {"columns": {"income": {"share": 0.002}}}),
            Finding("input_drift", FAIL, (), {"columns": {"age": {"score": 0.3, "drifted": True}}}),
            Finding(
                "prediction_drift", OK, (), {"columns": {"prediction": {"score": 0.01, "drifted": False}}}
            ),
        ),
    )
    state = window_state(window, "1.2.0")
    assert state.status == FAIL
    assert state.drift == {"age": 0.3, "output:prediction": 0.01}
    assert state.drifted == ("age",)
    assert state.counters["nonfinite_share"] == 0.03
    assert state.counters["out_of_range:income"] == 0.002
    assert WindowState.from_dict(state.to_dict()) == state


def test_merged_states_take_the_new_state_of_a_window_seen_again_and_keep_the_newest():
    stored = [_state("a", schema=OK), _state("b", schema=OK)]
    new = [_state("b", schema=FAIL), _state("c", schema=OK)]
    merged = merge_states(stored, new, keep=2)
    assert [s.start for s in merged] == ["b", "c"]
    assert merged[0].checks["schema"] == FAIL


def test_consecutive_breaches_count_the_newest_failing_windows_and_skip_insufficient_ones():
    states = [
        _state("a", input_drift=FAIL),
        _state("b", input_drift=OK),
        _state("c", input_drift=FAIL),
        _state("d", input_drift=INSUFFICIENT),
        _state("e", input_drift=FAIL, stability=OK),
    ]
    assert consecutive_breaches(states, ["input_drift"]) == 2
    assert consecutive_breaches(states, ["stability"]) == 0


def test_window_state_names_the_columns_whose_drift_score_is_a_p_value():
    columns = {
        "age": {"method": "ks", "score": 0.5, "drifted": False},
        "region": {"method": "chi2", "score": 0.01, "drifted": True},
        "income": {"method": "psi", "score": 0.3, "drifted": True},
    }
    window = WindowResult("a", "b", 50, (Finding("input_drift", FAIL, (), {"columns": columns}),))
    state = window_state(window, None)
    assert state.tested == ("age", "region")
    assert WindowState.from_dict(state.to_dict()) == state
    assert WindowState.from_dict({k: v for k, v in state.to_dict().items() if k != "tested"}).tested == ()
