"""Mergeable profiles: merge(a, b) == profile(a + b), JSON round trip, chunking gives the one-pass answer."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install 'mlops-actions[dev]')")

from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_actions.domain.data.profile import (
    CategoricalProfile,
    NumericProfile,
    Profile,
    build_profile,
    load_profile,
    merge_profiles,
    profile_frame,
    profile_from_dict,
    profile_to_dict,
    save_profile,
)
from mlops_actions.errors import DataError

REFERENCE = pd.DataFrame(
    {
        "x": np.linspace(-50, 50, 101),
        "y": np.linspace(0, 10, 101) ** 2,
        "k": ["a", "b", "c"] * 33 + ["a", "b"],
    }
)


def assert_profiles_equal(left: Profile, right: Profile) -> None:
    """Counts exactly equal, floating-point moments equal up to rounding."""
    assert left.rows == right.rows
    assert list(left.columns) == list(right.columns)
    for name, a in left.columns.items():
        b = right.columns[name]
        assert type(a) is type(b), name
        assert (a.count, a.missing) == (b.count, b.missing), name
        if isinstance(a, NumericProfile):
            assert isinstance(b, NumericProfile)
            assert a.infinite == b.infinite
            assert a.mean == pytest.approx(b.mean, rel=1e-9, abs=1e-9)
            assert a.m2 == pytest.approx(b.m2, rel=1e-9, abs=1e-6)
            assert (a.min, a.max) == (b.min, b.max)
            assert np.array_equal(a.edges, b.edges)
            assert np.array_equal(a.bin_counts, b.bin_counts)
            assert np.allclose(a.bin_sums, b.bin_sums, rtol=1e-9, atol=1e-6)
            if a.values is None or b.values is None:
                assert a.values is None and b.values is None
            else:
                assert np.array_equal(np.sort(a.values), np.sort(b.values))
        elif isinstance(a, CategoricalProfile):
            assert isinstance(b, CategoricalProfile)
            assert a.counts == b.counts
    if left.correlation is None or right.correlation is None:
        assert left.correlation is None and right.correlation is None
    else:
        assert np.array_equal(left.correlation.n, right.correlation.n)
        assert np.allclose(left.correlation.mean, right.correlation.mean, rtol=1e-9, atol=1e-6)
        c = right.correlation
        # rounding error grows with the values' magnitude (sums of squares around a shared shift)
        magnitude = np.array(
            [max(abs(right.columns[n].min or 0), abs(right.columns[n].max or 0)) for n in c.columns]
        )
        size = c.n * np.outer(magnitude, magnitude)
        for field, scale in (("m2", c.n * magnitude[:, None] ** 2), ("comoment", size)):
            difference = np.abs(getattr(left.correlation, field) - getattr(right.correlation, field))
            assert (difference <= 1e-9 * scale + 1e-6).all(), field


finite_or_missing = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.just(float("nan")),
    st.sampled_from([float("inf"), float("-inf")]),
)
rows = st.lists(
    st.tuples(
        finite_or_missing, finite_or_missing, st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"]))
    ),
    max_size=40,
)


def frame(data: list[tuple[float, float, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": pd.Series([r[0] for r in data], dtype="float64"),
            "y": pd.Series([r[1] for r in data], dtype="float64"),
            "k": pd.Series([r[2] for r in data], dtype="object"),
        }
    )


@settings(max_examples=60, deadline=None)
@given(first=rows, second=rows)
def test_merged_shard_profiles_equal_the_profile_of_the_union(first, second):
    reference = profile_frame(REFERENCE)
    a = profile_frame(frame(first), edges_from=reference)
    b = profile_frame(frame(second), edges_from=reference)
    union = profile_frame(pd.concat([frame(first), frame(second)], ignore_index=True), edges_from=reference)
    assert_profiles_equal(merge_profiles(a, b), union)


@settings(max_examples=30, deadline=None)
@given(data=rows)
def test_profile_json_round_trip_is_lossless(data):
    profile = profile_frame(frame(data), edges_from=profile_frame(REFERENCE))
    text = json.dumps(profile_to_dict(profile), allow_nan=False)
    assert_profiles_equal(profile_from_dict(json.loads(text)), profile)


def test_profile_counts_missing_infinite_and_moments():
    data = pd.DataFrame({"x": [1.0, 2.0, np.nan, np.inf, 3.0, -np.inf], "k": ["a", None, "a", "b", "b", "b"]})
    profile = profile_frame(data)
    x = profile.columns["x"]
    assert isinstance(x, NumericProfile)
    assert (x.count, x.missing, x.infinite) == (3, 1, 2)
    assert x.mean == pytest.approx(2.0)
    assert x.std == pytest.approx(1.0)
    assert (x.min, x.max) == (1.0, 3.0)
    assert int(x.bin_counts.sum()) == 3
    k = profile.columns["k"]
    assert isinstance(k, CategoricalProfile)
    assert k.counts == {"a": 2, "b": 3}
    assert k.missing == 1


def test_decile_edges_are_reference_deciles_and_count_a_tenth_each():
    values = np.arange(1000, dtype=float)
    profile = profile_frame(pd.DataFrame({"x": values}))
    x = profile.columns["x"]
    assert isinstance(x, NumericProfile)
    assert np.allclose(x.decile_edges, np.quantile(values, np.arange(1, 10) / 10))
    assert x.decile_counts().tolist() == [100] * 10


def test_correlation_matches_pandas_pairwise_with_missing_values():
    rng = np.random.default_rng(0)
    data = pd.DataFrame(rng.normal(size=(500, 3)), columns=["a", "b", "c"])
    data["b"] += data["a"]
    data.loc[rng.choice(500, 60, replace=False), "a"] = np.nan
    data.loc[rng.choice(500, 40, replace=False), "c"] = np.nan
    profile = profile_frame(data, chunk_rows=77)
    assert profile.correlation is not None
    assert np.allclose(profile.correlation.matrix(), data.corr().to_numpy(), atol=1e-12)


def _big_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "n": rng.normal(10, 3, rows),
            "i": rng.integers(0, 100, rows),
            "m": np.where(rng.random(rows) < 0.1, np.nan, rng.exponential(2, rows)),
            "c": rng.choice(["red", "green", "blue", "black"], rows),
            "b": rng.random(rows) < 0.3,
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_chunked_scan_of_a_big_file_equals_one_pass(tmp_path, suffix):
    data = _big_frame(60_000)
    path = tmp_path / f"big{suffix}"
    if suffix == ".csv":
        data.to_csv(path, index=False)
    else:
        pytest.importorskip(
            "pyarrow", reason="pyarrow is not installed (pip install 'mlops-actions[parquet]')"
        )
        data.to_parquet(path, row_group_size=7_000)
    one_pass = build_profile(path, chunk_bytes=1 << 30, chunk_rows=1 << 30, edge_rows=20_000)
    chunked = build_profile(path, chunk_bytes=50_000, chunk_rows=3_333, edge_rows=20_000)
    assert_profiles_equal(chunked, one_pass)
    assert one_pass.rows == 60_000


def test_profile_of_a_file_equals_profile_of_the_frame(tmp_path):
    data = _big_frame(3000)
    pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'mlops-actions[parquet]')")
    data.to_parquet(tmp_path / "d.parquet")
    assert_profiles_equal(build_profile(tmp_path / "d.parquet"), profile_frame(data))


def test_edges_come_from_the_first_edge_rows_rows_only():
    data = pd.DataFrame({"x": np.concatenate([np.zeros(100) + np.arange(100), np.full(100, 1000.0)])})
    profile = profile_frame(data, edge_rows=100, chunk_rows=30)
    x = profile.columns["x"]
    assert isinstance(x, NumericProfile)
    assert x.edges.max() < 100
    assert int(x.bin_counts[-1]) >= 100


def test_merging_profiles_with_different_bins_is_refused():
    a = profile_frame(pd.DataFrame({"x": np.arange(100.0)}))
    b = profile_frame(pd.DataFrame({"x": np.arange(100.0) * 2}))
    with pytest.raises(DataError, match="different bins"):
        merge_profiles(a, b)


def test_merging_profiles_with_different_columns_is_refused():
    a = profile_frame(pd.DataFrame({"x": [1.0, 2.0]}))
    b = profile_frame(pd.DataFrame({"z": [1.0, 2.0]}))
    with pytest.raises(DataError, match="different columns"):
        merge_profiles(a, b)


def test_categories_past_the_limit_are_no_longer_counted():
    data = pd.DataFrame({"id": [f"user-{i}" for i in range(1500)]})
    column = profile_frame(data, chunk_rows=400).columns["id"]
    assert isinstance(column, CategoricalProfile)
    assert column.counts is None
    assert column.count == 1500


def test_exact_values_are_kept_for_small_columns_only():
    small = profile_frame(pd.DataFrame({"x": np.arange(50.0)})).columns["x"]
    large = profile_frame(pd.DataFrame({"x": np.arange(6000.0)})).columns["x"]
    assert isinstance(small, NumericProfile) and isinstance(large, NumericProfile)
    assert small.values is not None and len(small.values) == 50
    assert large.values is None


def test_saved_profile_loads_back(tmp_path):
    profile = profile_frame(_big_frame(500))
    save_profile(profile, tmp_path / "p.json")
    assert_profiles_equal(load_profile(tmp_path / "p.json"), profile)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "cannot read profile JSON"),
        ('{"format": "other"}', "not an mlops-actions data profile"),
        ('{"format": "mlops-actions/data-profile", "version": 9}', "unsupported profile version"),
        ('{"format": "mlops-actions/data-profile", "version": 1, "rows": 1}', "malformed data profile"),
    ],
)
def test_bad_profile_files_are_reported(tmp_path, content, message):
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_profile(path)


def test_profile_of_an_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("a,b\n")
    with pytest.raises(DataError, match="no rows"):
        build_profile(path)
