"""Window lengths, their UTC alignment, and rows split by window."""

from __future__ import annotations

import numpy as np
import pytest

from mlops_actions.errors import UsageError
from mlops_actions.monitoring.windows import NS, iso, parse_time, parse_window, split_by_window, window_starts

HOUR = 3600 * NS


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("1h", 3600), ("1d", 86400), ("7d", 604800)])
def test_a_window_length_is_read_in_minutes_hours_or_days(text, seconds):
    assert parse_window(text) == seconds * NS


@pytest.mark.parametrize("text", ["", "1w", "0h", "h", "1.5h", "-1d"])
def test_a_malformed_window_length_is_a_usage_error(text):
    with pytest.raises(UsageError, match="--window"):
        parse_window(text)


def test_windows_are_aligned_to_their_boundaries_in_utc_and_weeks_start_on_monday():
    at = parse_time("2026-11-30T14:25:00+01:00")  # 13:25 UTC, a Monday
    assert iso(int(window_starts(np.array([at]), HOUR)[0])) == "2026-11-30T13:00:00Z"
    assert iso(int(window_starts(np.array([at]), 24 * HOUR)[0])) == "2026-11-30T00:00:00Z"
    thursday = parse_time("2026-12-03T09:00:00Z")
    assert iso(int(window_starts(np.array([thursday]), 7 * 24 * HOUR)[0])) == "2026-11-30T00:00:00Z"


def test_a_time_without_offset_is_utc_and_a_bad_one_names_the_option():
    assert parse_time("2026-11-30T00:00:00") == parse_time("2026-11-30T00:00:00Z")
    with pytest.raises(UsageError, match="--since 'yesterday'"):
        parse_time("yesterday")


def test_rows_in_time_order_are_split_into_slices_and_others_into_index_arrays():
    times = np.array([0, 1, HOUR, HOUR + 5, 3 * HOUR])
    parts = list(split_by_window(times, HOUR))
    assert [(start, rows) for start, rows in parts] == [
        (0, slice(0, 2)),
        (HOUR, slice(2, 4)),
        (3 * HOUR, slice(4, 5)),
    ]
    shuffled = np.array([HOUR, 0, HOUR + 1, 2])
    parts = list(split_by_window(shuffled, HOUR))
    assert [(start, rows.tolist()) for start, rows in parts] == [(0, [1, 3]), (HOUR, [0, 2])]
