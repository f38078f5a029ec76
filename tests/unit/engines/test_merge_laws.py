"""The merge laws every engine relies on: profiles of partitions merge associatively and commutatively, the
profile of no rows (on the same bins) is the identity, and shards merged in any order equal the profile
of the whole table. The same laws for the validation states (whose examples keep the first ones in merge
order: associative, and commutative in everything but the examples) and for the monitor's summaries.

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
from mlops_actions.domain.data.profile.job import ProfileJob
from mlops_actions.engines.base import tree_merge
from mlops_actions.errors import DataError
from tests.unit.engines.equality import (
    assert_same_monitor_summary,
    assert_same_profile,
    assert_same_validation_state,
)

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


@settings(max_examples=60, deadline=None)
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


@settings(max_examples=40, deadline=None)
@given(cut=cut_tables(min_cuts=1, max_cuts=1))
def test_merging_two_profiles_is_commutative(cut):
    table, shards, head_rows = cut
    _, _, parts = shard_profiles(table, shards, head_rows)
    first, second = parts
    assert_same_profile(merge_profiles(first, second), merge_profiles(second, first))


@settings(max_examples=40, deadline=None)
@given(cut=cut_tables(min_cuts=2, max_cuts=2))
def test_merging_three_profiles_is_associative(cut):
    table, shards, head_rows = cut
    _, _, (a, b, c) = shard_profiles(table, shards, head_rows)
    assert_same_profile(merge_profiles(merge_profiles(a, b), c), merge_profiles(a, merge_profiles(b, c)))


@settings(max_examples=30, deadline=None)
@given(cut=cut_tables(max_cuts=0))
def test_the_profile_of_no_rows_on_the_same_bins_is_the_identity_bit_for_bit(cut):
    table, _, head_rows = cut
    info, head, (part,) = shard_profiles(table, [table], head_rows)
    nothing = profile(table.slice(0, 0), info, edges_from=head)
    assert nothing.rows == 0
    assert exact_form(ProfileJob(info, edges_from=head, edge_rows=100).empty()) == exact_form(nothing)
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


# -- validation states --


def validation_setup(table: Any, head_rows: int) -> tuple[Any, TableInfo]:
    """A job checking the table against the schema inferred from its first rows (so later rows break it:
    out of range, unseen categories, missing values), the schema lacking one column (a new column)."""
    from mlops_actions.domain.data.schema import infer_schema
    from mlops_actions.domain.data.validate import ValidationJob

    info = table_info(table)
    schema = infer_schema([profile(table.slice(0, head_rows), info, edge_rows=head_rows)])
    del schema.columns["flag"]
    return ValidationJob(schema, info), info


def validation_states(job: Any, info: TableInfo, shards: list[Any]) -> list[Any]:
    from mlops_actions.engines.sources import table_chunk

    return [pickle.loads(pickle.dumps(job.summarise(table_chunk(shard, info)))) for shard in shards]


def one_pass_validation(job: Any, info: TableInfo, chunks: list[Any]) -> Any:
    """The state the single-file validator reaches reading these slices as its successive chunks."""
    from mlops_actions.domain.data.validate import SchemaValidator
    from mlops_actions.engines.sources import table_chunk

    validator = SchemaValidator(job.schema)
    validator.start(info)
    for chunk in chunks:
        validator.update(table_chunk(chunk, info))
    return validator.state


def merge_states_in_tree(job: Any, parts: list[Any], draw: Any) -> Any:
    if len(parts) == 1:
        return parts[0]
    cut = draw(st.integers(min_value=1, max_value=len(parts) - 1))
    return job.merge(
        merge_states_in_tree(job, parts[:cut], draw), merge_states_in_tree(job, parts[cut:], draw)
    )


def verdict(job: Any, state: Any) -> list[tuple[Any, str, int]]:
    return [(v.column, v.kind, v.count) for v in job.violations(state)]


@settings(max_examples=30, deadline=None)
@given(data=st.data(), cut=cut_tables())
def test_validation_states_of_shards_merged_in_read_order_equal_one_pass_over_them_examples_included(
    data, cut
):
    """Examples are the first ones read, so they follow the chunks: merged in read order, the shards'
    states equal a scan that reads the shards as its chunks."""
    table, shards, head_rows = cut
    job, info = validation_setup(table, head_rows)
    whole = one_pass_validation(job, info, shards)
    merged = merge_states_in_tree(job, validation_states(job, info, shards), data.draw)
    assert_same_validation_state(merged, whole)
    assert [v.to_dict() for v in job.violations(merged)] == [v.to_dict() for v in job.violations(whole)]


@settings(max_examples=30, deadline=None)
@given(data=st.data(), cut=cut_tables())
def test_validation_states_merged_in_any_order_give_the_counts_and_verdict_of_one_pass(data, cut):
    table, shards, head_rows = cut
    job, info = validation_setup(table, head_rows)
    whole = one_pass_validation(job, info, [table])
    parts = validation_states(job, info, shards)
    shuffled = [parts[i] for i in data.draw(st.permutations(range(len(parts))))]
    merged = merge_states_in_tree(job, shuffled, data.draw)
    assert_same_validation_state(merged, whole, examples=False)
    assert verdict(job, merged) == verdict(job, whole)


@settings(max_examples=40, deadline=None)
@given(cut=cut_tables(min_cuts=2, max_cuts=2))
def test_merging_validation_states_is_associative_and_commutative_but_for_examples(cut):
    table, shards, head_rows = cut
    job, info = validation_setup(table, head_rows)
    a, b, c = validation_states(job, info, shards)
    assert_same_validation_state(job.merge(job.merge(a, b), c), job.merge(a, job.merge(b, c)))
    assert_same_validation_state(job.merge(a, b), job.merge(b, a), examples=False)


@settings(max_examples=30, deadline=None)
@given(cut=cut_tables(max_cuts=0))
def test_the_validation_state_of_no_rows_is_the_identity(cut):
    from mlops_actions.domain.data.validate import new_validation_state

    table, _, head_rows = cut
    job, info = validation_setup(table, head_rows)
    (state,) = validation_states(job, info, [table])
    nothing = new_validation_state(job.schema, info)
    assert_same_validation_state(job.merge(state, nothing), state)
    assert_same_validation_state(job.merge(nothing, state), state)


# -- monitor summaries --

LOG_ROWS = 3000  # the first rows of the truth logs: several windows, labelled rows among them


@pytest.fixture(scope="module")
def monitor_logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """The monitor's job on the truth logs (with labels), as run_monitor hands it to an engine, and the
    logs' first LOG_ROWS rows as one Arrow table."""
    import pyarrow.parquet as pq

    from mlops_actions.domain.config import load_config
    from mlops_actions.domain.data.profile import build_profile, save_profile
    from mlops_actions.engines.base import Batch
    from mlops_actions.monitoring.labels import read_labels
    from mlops_actions.monitoring.reference import reference_from_file
    from mlops_actions.monitoring.run import run_monitor
    from tests.unit.monitoring.generate import CONFIG, TRAIN, generate_labels, generate_rows, write_flat

    folder = tmp_path_factory.mktemp("monitor-laws")
    frame = generate_rows().iloc[:LOG_ROWS]
    logs = write_flat(frame, folder / "predictions.parquet")
    generate_labels(frame).to_csv(folder / "labels.csv", index=False)
    save_profile(build_profile(TRAIN), folder / "data-profile.json")
    config = load_config(CONFIG)
    table = pq.read_table(logs)
    jobs: list[Any] = []

    class Capture:
        """An engine that keeps the job and summarises the logs in one batch."""

        name = "capture"

        def run(self, dataset: Any, job: Any, *, shard: Any = None) -> Any:
            jobs.append(job)
            return job.summarise(Batch(str(logs), "parquet", table=table, first_line=1))

        def close(self) -> None:
            pass

    labels = read_labels(str(folder / "labels.csv"), config)
    reference = reference_from_file(folder / "data-profile.json")
    run_monitor(config, str(logs), reference, window="1h", labels=labels, engine=Capture())  # type: ignore[arg-type]
    return jobs[0], table


def log_batches(table: Any, cuts: list[int], origin: str = "predictions.parquet") -> list[Any]:
    """The logs cut into batches as an engine hands them to the job (first_line: the batch's first row)."""
    from mlops_actions.engines.base import Batch

    bounds = [0, *sorted(cuts), table.num_rows]
    return [
        Batch(origin, "parquet", table=table.slice(start, end - start), first_line=start + 1)
        for start, end in itertools.pairwise(bounds)
    ]


log_cuts = st.lists(st.integers(min_value=0, max_value=LOG_ROWS), min_size=0, max_size=6)


@settings(max_examples=10, deadline=None)
@given(data=st.data(), cuts=log_cuts)
def test_monitor_summaries_merged_in_any_order_equal_the_summary_of_the_logs_read_in_one(
    monitor_logs, data, cuts
):
    job, table = monitor_logs
    whole = job.summarise(log_batches(table, [])[0])
    assert whole.performance.labelled, "the truth logs have labelled rows"
    parts = [pickle.loads(pickle.dumps(job.summarise(batch))) for batch in log_batches(table, cuts)]
    shuffled = [parts[i] for i in data.draw(st.permutations(range(len(parts))))]
    merged = shuffled[0]
    grouped = merge_monitor_in_tree(job, shuffled, data.draw)
    for part in shuffled[1:]:
        merged = job.merge(part, merged)
    assert_same_monitor_summary(merged, whole)
    assert_same_monitor_summary(grouped, whole)


def merge_monitor_in_tree(job: Any, parts: list[Any], draw: Any) -> Any:
    if len(parts) == 1:
        return parts[0]
    cut = draw(st.integers(min_value=1, max_value=len(parts) - 1))
    return job.merge(
        merge_monitor_in_tree(job, parts[:cut], draw), merge_monitor_in_tree(job, parts[cut:], draw)
    )


@settings(max_examples=10, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=LOG_ROWS), min_size=2, max_size=2))
def test_merging_monitor_summaries_is_associative_and_commutative(monitor_logs, cuts):
    job, table = monitor_logs
    a, b, c = (job.summarise(batch) for batch in log_batches(table, cuts))
    assert_same_monitor_summary(job.merge(job.merge(a, b), c), job.merge(a, job.merge(b, c)))
    assert_same_monitor_summary(job.merge(a, b), job.merge(b, a))


def test_the_empty_monitor_summary_is_the_identity(monitor_logs):
    from mlops_actions.monitoring.job import MonitorSummary

    job, table = monitor_logs
    for batch in log_batches(table, [LOG_ROWS // 3]):
        summary = job.summarise(batch)
        assert_same_monitor_summary(job.merge(summary, MonitorSummary()), summary)
        assert_same_monitor_summary(job.merge(MonitorSummary(), summary), summary)
    empty = job.summarise(log_batches(table, [0])[0])
    assert empty.rows_read == 0
    assert_same_monitor_summary(job.merge(empty, summary), summary)
