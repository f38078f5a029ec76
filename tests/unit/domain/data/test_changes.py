"""Rows added and removed between two versions of a file, by whole-row hash or by id."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops_actions.domain.data.changes import RowHasher, multiset_difference
from mlops_actions.domain.data.chunks import scan_frame


def hashes(frame: pd.DataFrame, columns=None, chunk_rows=1000):
    hasher = RowHasher(list(columns or frame.columns))
    scan_frame(frame, [hasher], chunk_rows=chunk_rows)
    return hasher.hashes()


BASE = pd.DataFrame({"id": [1, 2, 3, 4], "x": [0.5, 1.5, np.nan, 3.0], "c": ["a", "b", None, "a"]})


def test_identical_tables_have_no_added_or_removed_rows():
    assert multiset_difference(hashes(BASE), hashes(BASE.copy())) == (0, 0)


def test_appended_and_deleted_rows_are_counted():
    branch = pd.concat([BASE.iloc[1:], pd.DataFrame({"id": [5, 6], "x": [9.0, 9.5], "c": ["z", "z"]})])
    assert multiset_difference(hashes(BASE), hashes(branch)) == (2, 1)


def test_an_edited_row_counts_as_one_removed_and_one_added():
    branch = BASE.copy()
    branch.loc[0, "x"] = 0.75
    assert multiset_difference(hashes(BASE), hashes(branch)) == (1, 1)


def test_by_id_an_edited_row_is_neither_added_nor_removed():
    branch = BASE.copy()
    branch.loc[0, "x"] = 0.75
    assert multiset_difference(hashes(BASE, ["id"]), hashes(branch, ["id"])) == (0, 0)


def test_duplicated_rows_count_as_a_multiset():
    branch = pd.concat([BASE, BASE.iloc[[0]]], ignore_index=True)
    assert multiset_difference(hashes(BASE), hashes(branch)) == (1, 0)
    assert multiset_difference(hashes(branch), hashes(BASE)) == (0, 1)


def test_row_order_column_order_chunking_and_int_versus_float_do_not_matter():
    shuffled = BASE.iloc[[3, 1, 0, 2]][["c", "x", "id"]].astype({"id": float})
    assert multiset_difference(hashes(BASE), hashes(shuffled, chunk_rows=1)) == (0, 0)


def test_values_moved_between_columns_change_the_row():
    swapped = pd.DataFrame({"a": [1.0, 2.0], "b": [2.0, 1.0]})
    original = pd.DataFrame({"a": [2.0, 1.0], "b": [1.0, 2.0]})
    assert multiset_difference(hashes(original), hashes(swapped)) == (0, 0)
    moved = pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 2.0]})
    assert multiset_difference(hashes(original), hashes(moved)) == (2, 2)
