"""What "the same answer" means for merged summaries: counts exactly equal, floats within 1e-9 relative.

A floating statistic agrees within 1e-9 relative to the larger of the two values, plus a rounding floor of
1024 ulps of the magnitude the data gives it: a mean of values up to 1e6 that cancels to 1e-7 is only
known to about 1e-10 whatever the order of the sums, while for ordinary data the floor is far below 1e-9
relative. Exact values kept for small columns are a multiset (their order follows the merge order); a
profile's ``sources`` are not compared (they list the partitions in merge order).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mlops_actions.domain.data.profile import CategoricalProfile, NumericProfile, OtherProfile, Profile

RELATIVE = 1e-9
ROUNDING = 1024 * float(np.finfo(float).eps)


def close(left: float, right: float, magnitude: float = 0.0) -> bool:
    """Equal within 1e-9 relative, plus the rounding floor of the data's magnitude (NaN equals NaN)."""
    if math.isnan(left) or math.isnan(right):
        return math.isnan(left) and math.isnan(right)
    if math.isinf(left) or math.isinf(right):
        return left == right
    return abs(left - right) <= RELATIVE * max(abs(left), abs(right)) + ROUNDING * magnitude


def assert_close_arrays(left: Any, right: Any, magnitude: Any, what: str) -> None:
    """Element-wise ``close``."""
    left, right = np.asarray(left, dtype=float), np.asarray(right, dtype=float)
    assert left.shape == right.shape, what
    tolerance = RELATIVE * np.maximum(np.abs(left), np.abs(right)) + ROUNDING * np.asarray(magnitude)
    with np.errstate(invalid="ignore"):
        ok = (np.isnan(left) & np.isnan(right)) | (left == right) | (np.abs(left - right) <= tolerance)
    assert ok.all(), f"{what}: {left[~ok]} != {right[~ok]}"


def _magnitude(column: NumericProfile) -> float:
    """The largest absolute finite value of the column (0 when it has none)."""
    return max(abs(column.min or 0.0), abs(column.max or 0.0))


def assert_same_column(name: str, a: Any, b: Any) -> None:
    """Two column profiles of the same rows: counts equal, floats within 1e-9 relative."""
    assert type(a) is type(b), f"{name}: {type(a).__name__} != {type(b).__name__}"
    assert (a.dtype, a.count, a.missing) == (b.dtype, b.count, b.missing), name
    if isinstance(a, NumericProfile):
        assert isinstance(b, NumericProfile)
        size = _magnitude(b)
        assert a.infinite == b.infinite, name
        assert (a.min, a.max) == (b.min, b.max), name
        assert close(a.mean, b.mean, size), f"{name}: mean {a.mean!r} != {b.mean!r}"
        assert close(a.m2, b.m2, a.count * size * size), f"{name}: m2 {a.m2!r} != {b.m2!r}"
        for field in ("edges", "decile_edges", "bin_counts"):
            first, second = getattr(a, field), getattr(b, field)
            assert (first is None) == (second is None), f"{name}: {field}"
            if first is not None:
                assert np.array_equal(first, second), f"{name}: {field} {first} != {second}"
        if a.bin_sums is not None:
            assert_close_arrays(a.bin_sums, b.bin_sums, a.count * size, f"{name}: bin_sums")
        assert (a.values is None) == (b.values is None), f"{name}: exact values kept in one only"
        if a.values is not None:
            assert np.array_equal(np.sort(a.values), np.sort(b.values)), f"{name}: exact values"
    elif isinstance(a, CategoricalProfile):
        assert a.counts == b.counts, name
    else:
        assert isinstance(a, OtherProfile)


def assert_same_profile(a: Profile, b: Profile) -> None:
    """Two profiles of the same rows (see the module docstring)."""
    assert a.rows == b.rows
    assert list(a.columns) == list(b.columns)
    for name, column in a.columns.items():
        assert_same_column(name, column, b.columns[name])
    assert (a.correlation is None) == (b.correlation is None)
    if a.correlation is None or b.correlation is None:
        return
    first, second = a.correlation, b.correlation
    assert first.columns == second.columns
    assert np.array_equal(first.n, second.n)
    size = np.array(
        [_magnitude(c) if isinstance(c := b.columns[n], NumericProfile) else 0.0 for n in second.columns]
    )
    assert_close_arrays(first.mean, second.mean, size[:, None], "correlation mean")
    assert_close_arrays(first.m2, second.m2, second.n * size[:, None] ** 2, "correlation m2")
    assert_close_arrays(
        first.comoment, second.comoment, second.n * np.outer(size, size), "correlation comoment"
    )


def assert_same_validation_state(a: Any, b: Any, *, examples: bool = True) -> None:
    """Two ValidationStates of the same rows: every count, bound and tally equal; with ``examples`` the
    examples too (they keep the first ones in merge order, so only merges in the same order agree)."""
    assert a.rows == b.rows
    assert list(a.columns) == list(b.columns)
    assert list(a.new_examples) == list(b.new_examples)
    for name, first in a.columns.items():
        second = b.columns[name]
        for field in ("data_dtype", "missing", "infinite", "wrong", "out_of_range", "unseen_total"):
            assert getattr(first, field) == getattr(second, field), f"{name}: {field}"
        assert (first.lowest, first.highest) == (second.lowest, second.highest), name
        assert first.unseen == second.unseen, name
        if examples:
            for field in ("inf_examples", "wrong_examples", "range_examples"):
                assert getattr(first, field).items == getattr(second, field).items, f"{name}: {field}"
    if examples:
        for name, found in a.new_examples.items():
            assert found.items == b.new_examples[name].items, name


def _concatenated(parts: list[Any]) -> Any:
    return np.concatenate(parts) if parts else np.empty(0)


def assert_same_monitor_summary(a: Any, b: Any) -> None:
    """Two MonitorSummaries of the same log rows: per window the same profiles (see assert_same_profile)
    and counts, the same rows read, versions and where each was first read, and the same performance
    partial (labelled rows in the same order, sums within 1e-9 relative)."""
    assert sorted(a.windows) == sorted(b.windows)
    for start, first in a.windows.items():
        second = b.windows[start]
        assert_same_profile(first.inputs, second.inputs)
        assert_same_profile(first.outputs, second.outputs)
        assert first.counts == second.counts, start
    assert (a.rows_read, a.before_since) == (b.rows_read, b.before_since)
    assert a.versions == b.versions
    assert a.first_read == b.first_read
    found, expected = a.performance, b.performance
    assert found.matched == expected.matched
    assert found.probability_names == expected.probability_names
    assert sorted(found.labelled) == sorted(expected.labelled)
    for start, rows in found.labelled.items():
        other = expected.labelled[start]
        assert np.array_equal(_concatenated(rows.labels), _concatenated(other.labels)), start
        assert np.array_equal(_concatenated(rows.predictions), _concatenated(other.predictions)), start
        names = {name for part in rows.scores + other.scores for name in part}
        for name in names:
            left = _concatenated([part[name] for part in rows.scores if name in part])
            right = _concatenated([part[name] for part in other.scores if name in part])
            assert_close_arrays(left, right, 0.0, f"window {start}: scores {name}")
    assert sorted(found.sums) == sorted(expected.sums)
    for start, sums in found.sums.items():
        other = expected.sums[start]
        for field in ("counts", "score_sums", "correct", "correct_variance"):
            size = np.abs(np.asarray(getattr(other, field), dtype=float))
            assert_close_arrays(getattr(sums, field), getattr(other, field), size, f"{start}: {field}")


def assert_same_document(found: Any, expected: Any, where: str = "document") -> None:
    """Two JSON-like documents (a command's ``--json`` output, a result's ``to_dict``): the same keys,
    lengths, texts and integers; floats within 1e-9 relative (or 1e-12 apart, for values near zero)."""
    if isinstance(expected, dict):
        assert isinstance(found, dict), where
        assert sorted(found) == sorted(expected), f"{where}: keys {sorted(found)} != {sorted(expected)}"
        for key in expected:
            assert_same_document(found[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, (list, tuple)):
        assert isinstance(found, (list, tuple)) and len(found) == len(expected), where
        for index, (a, b) in enumerate(zip(found, expected, strict=True)):
            assert_same_document(a, b, f"{where}[{index}]")
    elif isinstance(expected, float) and not isinstance(found, bool):
        assert isinstance(found, (int, float)), f"{where}: {found!r} is no number"
        if math.isnan(expected) or math.isinf(expected):
            assert found == expected or (math.isnan(found) and math.isnan(expected)), where
        else:
            assert math.isclose(found, expected, rel_tol=RELATIVE, abs_tol=1e-12), (
                f"{where}: {found!r} != {expected!r}"
            )
    else:
        assert found == expected, f"{where}: {found!r} != {expected!r}"
