"""Chunked table reading: one type per column across chunks, clear errors, pandas fallback."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from mlops_actions.domain.data.chunks import (
    CategoricalColumn,
    NumericColumn,
    OtherColumn,
    read_header,
    scan_table,
)
from mlops_actions.domain.data.chunks import scan as table_scan
from mlops_actions.errors import DataError


class Collect:
    """Consumer that keeps every chunk and counts how often the scan started."""

    def __init__(self):
        self.starts = 0

    def start(self, info):
        self.starts += 1
        self.info = info
        self.chunks = []

    def update(self, chunk):
        self.chunks.append(chunk)

    def values(self, name):
        parts = []
        for chunk in self.chunks:
            column = chunk.columns[name]
            if isinstance(column, NumericColumn):
                parts.extend(column.values.tolist())
            elif isinstance(column, CategoricalColumn):
                names = column.names()
                parts.extend(None if c < 0 else names[c] for c in column.codes)
            else:
                parts.extend([None] * len(column.missing))
        return parts


def scan(path, **kwargs):
    collect = Collect()
    info = scan_table(path, [collect], **kwargs)
    return info, collect


def test_integer_column_that_turns_fractional_later_is_read_as_float(tmp_path):
    lines = ["a,b"] + [f"{i},x" for i in range(2000)] + ["2.5,y"]
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n")
    info, collect = scan(path, chunk_bytes=1000)
    assert info.dtypes == {"a": "float", "b": "string"}
    assert collect.starts == 2
    values = collect.values("a")
    assert len(values) == 2001 and values[-1] == 2.5 and values[10] == 10.0
    assert [c.start for c in collect.chunks] == sorted(c.start for c in collect.chunks)


def test_number_column_with_text_later_is_read_as_string(tmp_path):
    lines = ["a"] + [str(i) for i in range(3000)] + ["oops"]
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n")
    info, collect = scan(path, chunk_bytes=2000)
    assert info.dtypes == {"a": "string"}
    assert collect.values("a")[-1] == "oops"
    assert collect.values("a")[0] == "0"


def test_column_empty_at_first_gets_the_type_of_its_values(tmp_path):
    lines = ["a,b"] + [f"{i}," for i in range(1000)] + ["1,3.5"]
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n")
    info, collect = scan(path, chunk_bytes=500)
    assert info.dtypes["b"] == "float"
    values = collect.values("b")
    assert np.isnan(values[0]) and values[-1] == 3.5


def test_missing_value_markers_match_pandas(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("n,s\n1,x\nNA,\nnan,NA\n4,null\n")
    _, collect = scan(path)
    assert np.isnan(collect.values("n")[1:3]).all()
    assert collect.values("s") == ["x", None, None, None]


def test_booleans_and_dates_are_recognised(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("flag,day\nTrue,2024-01-01\nFalse,2024-01-02\n,\n")
    info, collect = scan(path)
    assert info.dtypes == {"flag": "bool", "day": "datetime"}
    assert collect.values("flag") == ["True", "False", None]
    day = collect.chunks[0].columns["day"]
    assert isinstance(day, OtherColumn) and day.missing.tolist() == [False, False, True]


def test_header_with_byte_order_mark_and_gzip(tmp_path):
    path = tmp_path / "d.csv.gz"
    with gzip.open(path, "wb") as handle:
        handle.write("\ufeffa,b\n1,x\n2,y\n".encode())
    assert read_header(path) == ["a", "b"]
    info, collect = scan(path, chunk_bytes=3)
    assert info.rows == 2
    assert collect.values("a") == [1.0, 2.0]


def test_only_requested_columns_are_read(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,c\n1,2,3\n")
    info, collect = scan(path, columns=["c", "a"])
    assert list(info.dtypes) == ["c", "a"]
    assert set(collect.chunks[0].columns) == {"c", "a"}


def test_parquet_types_and_index_columns(tmp_path):
    frame = pd.DataFrame(
        {
            "i": [1, 2, None],
            "f": [0.5, None, 1.5],
            "c": pd.Categorical(["a", "b", None]),
            "s": ["x", None, "z"],
        },
        index=[10, 11, 12],
    )
    frame["i"] = frame["i"].astype("Int64")
    path = tmp_path / "d.parquet"
    pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'mlops-actions[parquet]')")
    frame.to_parquet(path)
    info, collect = scan(path, chunk_rows=2)
    assert info.columns == ["i", "f", "c", "s"]
    assert info.dtypes == {"i": "int", "f": "float", "c": "string", "s": "string"}
    assert collect.values("c") == ["a", "b", None]
    assert collect.values("i")[:2] == [1.0, 2.0] and np.isnan(collect.values("i")[2])


def test_pandas_fallback_reads_the_same_values(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text("n,s,f\n1,x,0.5\n2,,1.5\n3,y,\n")
    _, fast = scan(path)
    monkeypatch.setattr(table_scan, "pyarrow_available", lambda: False)
    info, slow = scan(path, chunk_rows=2)
    assert info.dtypes == {"n": "int", "s": "string", "f": "float"}
    for name in ("n", "s"):
        assert slow.values(name) == fast.values(name)
    assert len(slow.chunks) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("a,b\n1,2,3\n", "cannot read csv"),
        ("a,a\n1,2\n", "duplicate column names a"),
    ],
)
def test_unreadable_csv_files_name_the_problem(tmp_path, content, message):
    path = tmp_path / "d.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        scan(path)


def test_missing_file_and_missing_column_are_reported(tmp_path):
    with pytest.raises(DataError, match="not found"):
        scan(tmp_path / "nope.csv")
    path = tmp_path / "d.csv"
    path.write_text("a\n1\n")
    with pytest.raises(DataError, match="no column 'z'"):
        scan(path, columns=["z"])
    (tmp_path / "d.txt").write_text("a\n1\n")
    with pytest.raises(DataError, match="unsupported data format"):
        scan(tmp_path / "d.txt")


def test_corrupt_parquet_is_reported(tmp_path):
    path = tmp_path / "d.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="cannot read parquet"):
        scan(path)


def test_header_only_file_has_zero_rows(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b\n")
    info, collect = scan(path)
    assert info.rows == 0 and collect.starts == 1 and collect.chunks == []
