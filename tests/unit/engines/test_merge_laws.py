"""The merge laws every engine relies on: profiles of partitions merge associatively and commutatively, the
profile of no rows (on the same bins) is the identity, and shards merged in any order equal the profile
of the whole table.

Tables are generated with numeric columns holding NaN and ±inf, integers with nulls, strings, booleans,
dates and an all-empty column; they are cut at random points (empty shards included) and profiled as an
engine does: dtypes fixed once for the table, bins from its first rows (``edges_from``), every shard as
one Arrow slice through ``table_chunk``. Counts must be equal, floats within 1e-9 relative (see equality).
"""

from __future__ import annotations

import itertools
import json
import pickle
from datetime import datetime, timedelta
from typing import Any

import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install 'mlops-actions[dev]')")
pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'mlops-actions[parquet]')")

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_actions.domain.data.chunks import TableInfo, arrow_logical_dtype
from mlops_actions.domain.data.profile import (
    EXACT_VALUES_LIMIT,
    MAX_TRACKED_CATEGORIES,
    Profile,
    ProfileBuilder,
    merge_profiles,
    profile_from_dict,
    profile_to_dict,
)
from mlops_actions.engines.base import tree_merge
from mlops_actions.errors import DataError
from tests.unit.engines.equality import assert_same_profile

numbers = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.just(float("nan")),
    st.sampled_from([float("inf"), float("-inf")]),
    st.none(),
)
integers = st.one_of(st.none(), st.integers(min_value=-1000, max_value=1000))
labels = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d", "e"]))
flags = st.one_of(st.none(), st.booleans())
moments = st.one_of(st.none(), st.integers(min_value=0, max_value=10**6))
EPOCH = datetime(2026, 1, 1)


@st.composite
def tables(draw: Any, max_rows: int = 60) -> Any:
    """A table of every column kind a profile knows, with missing values in each."""
    rows = draw(st.integers(min_value=0, max_value=max_rows))

    def column(strategy: Any) -> list[Any]:
        return draw(st.lists(strategy, min_size=rows, max_size=rows))

    return pa.table(
        {
            "x": pa.array(column(numbers), pa.float64(), from_pandas=True),
            "y": pa.array(column(numbers), pa.float64(), from_pandas=True),
            "n": pa.array(column(integers), pa.int64()),
            "k": pa.array(column(labels), pa.string()),
            "flag": pa.array(column(flags), pa.bool_()),
            "when": pa.array(
                [None if s is None else EPOCH + timedelta(seconds=s) for s in column(moments)],
                pa.timestamp("us"),
            ),
            "empty": pa.nulls(rows),
        }
    )


@st.composite
def cut_tables(
    draw: Any, max_rows: int = 60, min_cuts: int = 0, max_cuts: int = 8
) -> tuple[Any, list[Any], int]:
    """A table, its shards (contiguous slices, some possibly empty) and the number of head rows for bins."""
    table = draw(tables(max_rows=max_rows))
    rows = table.num_rows
    cuts = sorted(
        draw(st.lists(st.integers(min_value=0, max_value=rows), min_size=min_cuts, max_size=max_cuts))
    )
    shards = cut_at(table, cuts)
    head_rows = draw(st.integers(min_value=1, max_value=rows + 5))
    return table, shards, head_rows


def cut_at(table: Any, cuts: list[int]) -> list[Any]:
    """The table's slices between the sorted cut points (a repeated point makes an empty slice)."""
    bounds = [0, *sorted(cuts), table.num_rows]
    return [table.slice(start, end - start) for start, end in itertools.pairwise(bounds)]


def table_info(table: Any) -> TableInfo:
    """The dtypes fixed once for the whole table, as an engine's driver does from the schema."""
    dtypes = {field.name: arrow_logical_dtype(field.type) for field in table.schema}
    return TableInfo(path="<table>", format="parquet", columns=list(dtypes), dtypes=dtypes)


def profile(
    table: Any, info: TableInfo, *, edges_from: Profile | None = None, edge_rows: int = 100
) -> Profile:
    """The profile of one partition, as every engine builds it: one chunk with the driver's dtypes."""
    from mlops_actions.engines.sources import table_chunk

    builder = ProfileBuilder(edges_from=edges_from, edge_rows=edge_rows)
    builder.start(info)
    if table.num_rows:
        builder.update(table_chunk(table, info))
    return builder.finish()


def shard_profiles(table: Any, shards: list[Any], head_rows: int) -> tuple[TableInfo, Profile, list[Profile]]:
    """The table's info, the profile of its first rows (the bins) and every shard's profile on those bins."""
    info = table_info(table)
    head = profile(table.slice(0, head_rows), info, edge_rows=head_rows)
    return info, head, [profile(shard, info, edges_from=head) for shard in shards]


class ProfileMerge:
    """The profile merge as an engine job sees it, for ``tree_merge``."""

    reads = "rows"

    def merge(self, first: Profile, second: Profile) -> Profile:
        return merge_profiles(first, second)


def merge_in_tree(parts: list[Profile], draw: Any) -> Profile:
    """Merge the parts in order, grouped by a random binary tree."""
    if len(parts) == 1:
        return parts[0]
    cut = draw(st.integers(min_value=1, max_value=len(parts) - 1))
    return merge_profiles(merge_in_tree(parts[:cut], draw), merge_in_tree(parts[cut:], draw))


def travelled(part: Profile, how: str) -> Profile:
    """A partial profile after the trip a partition's summary makes: pickled (Spark, Dask) or JSON (CI shards)."""
    if how == "pickle":
        return pickle.loads(pickle.dumps(part))
    if how == "json":
        return profile_from_dict(json.loads(json.dumps(profile_to_dict(part))))
    return part


def exact_form(part: Profile) -> str:
    """A profile's JSON text without its sources, to compare profiles bit for bit."""
    document = profile_to_dict(part)
    document.pop("sources", None)
    return json.dumps(document, sort_keys=True)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), cut=cut_tables())
def test_shards_merged_in_any_order_and_grouping_equal_the_whole_table_profile(data, cut):
    table, shards, head_rows = cut
    info, _, parts = shard_profiles(table, shards, head_rows)
    # the local engine's answer: one pass, bins from the first head_rows rows of the table itself
    whole = profile(table, info, edge_rows=head_rows)
    trips = data.draw(
        st.lists(st.sampled_from(["none", "pickle", "json"]), min_size=len(parts), max_size=len(parts))
    )
    parts = [travelled(part, how) for part, how in zip(parts, trips, strict=True)]
    order = data.draw(st.permutations(range(len(parts))))
    shuffled = [parts[i] for i in order]
    assert_same_profile(merge_in_tree(shuffled, data.draw), whole)
    assert_same_profile(tree_merge(ProfileMerge(), shuffled), whole)


@settings(max_examples=60, deadline=None)
@given(cut=cut_tables(min_cuts=1, max_cuts=1))
def test_merging_two_profiles_is_commutative(cut):
    table, shards, head_rows = cut
    _, _, parts = shard_profiles(table, shards, head_rows)
    first, second = parts
    assert_same_profile(merge_profiles(first, second), merge_profiles(second, first))


@settings(max_examples=60, deadline=None)
@given(cut=cut_tables(min_cuts=2, max_cuts=2))
def test_merging_three_profiles_is_associative(cut):
    table, shards, head_rows = cut
    _, _, (a, b, c) = shard_profiles(table, shards, head_rows)
    assert_same_profile(merge_profiles(merge_profiles(a, b), c), merge_profiles(a, merge_profiles(b, c)))


@settings(max_examples=40, deadline=None)
@given(cut=cut_tables(max_cuts=0))
def test_the_profile_of_no_rows_on_the_same_bins_is_the_identity_bit_for_bit(cut):
    table, _, head_rows = cut
    info, head, (part,) = shard_profiles(table, [table], head_rows)
    nothing = profile(table.slice(0, 0), info, edges_from=head)
    assert nothing.rows == 0
    assert exact_form(merge_profiles(part, nothing)) == exact_form(part)
    assert exact_form(merge_profiles(nothing, part)) == exact_form(part)
    assert exact_form(merge_profiles(nothing, nothing)) == exact_form(nothing)


def test_the_profile_of_no_rows_with_bins_of_its_own_is_no_identity():
    """The identity shares the bins: a zero-row profile that fixed its own (empty) bins cannot be merged."""
    table = pa.table({"x": pa.array([1.0, 2.0, 3.0])})
    info = table_info(table)
    part = profile(table, info, edge_rows=3)
    with pytest.raises(DataError, match="different bins"):
        merge_profiles(part, profile(table.slice(0, 0), info))


@settings(max_examples=8, deadline=None)
@given(
    distinct=st.integers(min_value=MAX_TRACKED_CATEGORIES - 3, max_value=MAX_TRACKED_CATEGORIES + 3),
    cuts=st.lists(st.integers(min_value=0, max_value=2 * MAX_TRACKED_CATEGORIES), max_size=4),
)
def test_category_counts_past_the_limit_are_dropped_alike_whatever_the_split(distinct, cuts):
    rows = 2 * MAX_TRACKED_CATEGORIES
    table = pa.table({"k": pa.array([f"v{i % distinct}" for i in range(rows)])})
    _, _, parts = shard_profiles(table, cut_at(table, cuts), rows)
    merged = tree_merge(ProfileMerge(), parts)
    whole = profile(table, table_info(table))
    assert merged is not None
    assert (merged.columns["k"].counts is None) == (distinct > MAX_TRACKED_CATEGORIES)
    assert_same_profile(merged, whole)


@settings(max_examples=8, deadline=None)
@given(
    rows=st.integers(min_value=EXACT_VALUES_LIMIT - 3, max_value=EXACT_VALUES_LIMIT + 3),
    cuts=st.lists(st.integers(min_value=0, max_value=EXACT_VALUES_LIMIT), max_size=4),
)
def test_exact_values_past_the_limit_are_dropped_alike_whatever_the_split(rows, cuts):
    table = pa.table({"x": pa.array([float(i % 97) for i in range(rows)])})
    _, _, parts = shard_profiles(table, cut_at(table, [c for c in cuts if c <= rows]), 1000)
    merged = tree_merge(ProfileMerge(), parts)
    assert merged is not None
    assert (merged.columns["x"].values is None) == (rows > EXACT_VALUES_LIMIT)
    assert_same_profile(merged, profile(table, table_info(table), edge_rows=1000))
