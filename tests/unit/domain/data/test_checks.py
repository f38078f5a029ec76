"""run_data_checks: the data_checks section of the gate, its exact shape and statuses."""

from __future__ import annotations

import json
import os
import stat
import sys

import numpy as np
import pandas as pd
import pytest

from mlops_actions.domain.data.checks import compare_fingerprints, run_data_checks
from mlops_actions.domain.data.dvc import dvc_pointer_for, dvc_pull, missing_data_error, read_dvc_pointer
from mlops_actions.domain.data.io import fingerprint
from mlops_actions.domain.data.profile import profile_frame
from mlops_actions.domain.data.schema import dump_schema, infer_schema
from mlops_actions.errors import DataError


def table(seed: int, rows: int, shift: float = 0.0, start_id: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1, rows)
    return pd.DataFrame(
        {
            "id": np.arange(start_id, start_id + rows),
            "x": x,
            "z": rng.normal(0, 1, rows),
            "plan": rng.choice(["a", "b"], rows),
            "label": (x + rng.normal(0, 1, rows) > 0).astype(int),
        }
    )


@pytest.fixture
def repo(tmp_path):
    """Base and branch folders with train/eval files and a schema inferred from the base."""
    base, branch = tmp_path / "base", tmp_path / "branch"
    base.mkdir()
    branch.mkdir()
    train, evaluation = table(0, 3000), table(1, 1000, start_id=5000)
    train.to_csv(base / "train.csv", index=False)
    evaluation.to_csv(base / "eval.csv", index=False)
    schema = infer_schema([profile_frame(train), profile_frame(evaluation)], target="label", id_column="id")
    (tmp_path / "schema.yaml").write_text(dump_schema(schema))
    return tmp_path


def check(repo, **kwargs):
    files = {"train": repo / "branch" / "train.csv", "eval": repo / "branch" / "eval.csv"}
    options = {
        "files": files,
        "base_files": {"train": repo / "base" / "train.csv", "eval": repo / "base" / "eval.csv"},
        "schema_path": repo / "schema.yaml",
        "target": "label",
        "id_column": "id",
    }
    options.update(kwargs)
    result = run_data_checks(**options)
    json.dumps(result, allow_nan=False)
    return result


def copy_base(repo):
    for name in ("train.csv", "eval.csv"):
        (repo / "branch" / name).write_bytes((repo / "base" / name).read_bytes())


def test_unchanged_data_passes_with_the_documented_shape(repo):
    copy_base(repo)
    result = check(repo)
    assert result["status"] == "pass"
    assert set(result) == {"status", "schema", "changes", "leakage"}
    assert result["schema"]["status"] == "pass"
    assert [f["role"] for f in result["schema"]["files"]] == ["train", "eval"]
    assert result["schema"]["files"][0]["rows"] == 3000 and result["schema"]["files"][0]["violations"] == []
    assert result["changes"]["status"] == "unchanged"
    entry = result["changes"]["files"][0]
    assert set(entry) >= {
        "role", "path", "changed", "base_sha256", "sha256", "base_rows", "rows", "rows_added", "rows_removed", "drift"
    }  # fmt: skip
    assert entry["changed"] is False and entry["drift"] is None
    assert (entry["base_rows"], entry["rows_added"], entry["rows_removed"]) == (3000, 0, 0)
    assert set(result["leakage"]) >= {"threshold", "status", "flagged"}
    assert result["leakage"]["status"] == "pass"


def test_changed_data_is_compared_with_the_base(repo):
    copy_base(repo)
    train = pd.read_csv(repo / "base" / "train.csv")
    more = table(7, 500, shift=1.5, start_id=9000)
    pd.concat([train.iloc[100:], more], ignore_index=True).to_csv(repo / "branch" / "train.csv", index=False)
    result = check(repo)
    assert result["changes"]["status"] == "changed"
    entry = result["changes"]["files"][0]
    assert entry["changed"] is True and entry["base_sha256"] != entry["sha256"]
    assert (entry["base_rows"], entry["rows"], entry["rows_added"], entry["rows_removed"]) == (
        3000,
        3400,
        500,
        100,
    )
    drift = entry["drift"]
    assert set(drift) == {"drifted", "drifted_columns", "columns", "correlation_changes"}
    columns = {c["column"]: c for c in drift["columns"]}
    assert "id" not in columns
    assert {"column", "kind", "method", "score", "threshold", "drifted"} <= set(columns["x"])
    assert set(drift["correlation_changes"][0]) >= {"a", "b", "before", "after", "delta"}
    assert result["changes"]["files"][1]["changed"] is False


def test_rows_are_compared_by_hash_without_an_id_column(repo):
    copy_base(repo)
    train = pd.read_csv(repo / "base" / "train.csv")
    train.loc[0, "z"] = 99.0
    train.to_csv(repo / "branch" / "train.csv", index=False)
    entry = check(repo, id_column=None)["changes"]["files"][0]
    assert (entry["rows_added"], entry["rows_removed"]) == (1, 1)
    assert entry["compared_by"] == "whole rows"


def test_schema_violations_fail_the_checks(repo):
    copy_base(repo)
    evaluation = pd.read_csv(repo / "base" / "eval.csv")
    evaluation.loc[0:4, "plan"] = "zzz"
    evaluation.loc[0, "label"] = np.nan
    evaluation.to_csv(repo / "branch" / "eval.csv", index=False)
    result = check(repo)
    assert result["status"] == "fail" and result["schema"]["status"] == "fail"
    kinds = {v["kind"] for v in result["schema"]["files"][1]["violations"]}
    assert kinds == {"unseen_category", "nan_or_inf"}


def test_a_leaky_feature_warns(repo):
    copy_base(repo)
    train = pd.read_csv(repo / "base" / "train.csv")
    train["label_copy"] = train["label"] * 2.0
    train.to_csv(repo / "branch" / "train.csv", index=False)
    result = check(repo, schema_path=None)
    assert result["status"] == "warn"
    assert result["leakage"]["flagged"] == [
        {"column": "label_copy", "association": 1.0, "method": "point_biserial"}
    ]
    assert result["schema"]["status"] == "not-configured"


def test_files_without_a_base_are_new(repo):
    copy_base(repo)
    result = check(repo, base_files=None)
    assert result["changes"]["status"] == "no-base"
    entry = result["changes"]["files"][0]
    assert entry["changed"] is True and entry["base_sha256"] is None and entry["rows_added"] is None
    partial = check(repo, base_files={"train": repo / "base" / "train.csv"})
    assert partial["changes"]["status"] == "changed"
    assert partial["changes"]["files"][1]["base_sha256"] is None


def test_a_missing_dvc_tracked_file_says_to_pull_it(repo):
    copy_base(repo)
    (repo / "branch" / "train.csv").unlink()
    (repo / "branch" / "train.csv.dvc").write_text("outs:\n- md5: abc\n  size: 10\n  path: train.csv\n")
    with pytest.raises(DataError, match=r"tracked by DVC .*train.csv.dvc.*dvc pull"):
        check(repo)


def test_dvc_pointer_of_a_file_inside_a_tracked_folder(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data.dvc").write_text("outs:\n- md5: 123.dir\n  path: data\n")
    assert dvc_pointer_for(tmp_path / "data" / "train.csv") == tmp_path / "data.dvc"
    assert read_dvc_pointer(tmp_path / "data.dvc") == [
        {"path": "data", "md5": "123.dir", "size": None, "hash": "md5"}
    ]
    assert "data file not found" in str(missing_data_error(tmp_path / "other.csv"))
    (tmp_path / "bad.dvc").write_text("stages: {}\n")
    with pytest.raises(DataError, match="not a DVC pointer file"):
        read_dvc_pointer(tmp_path / "bad.dvc")


def test_dvc_pull_runs_dvc_and_reports_its_failure(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dvc"
    log = tmp_path / "calls.txt"
    fake.write_text(
        f"#!{sys.executable}\nimport sys\nopen({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "sys.exit(0 if 'ok.dvc' in sys.argv else (print('ERROR: failed to pull data from the cloud', "
        "file=sys.stderr) or 1))\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    dvc_pull(["ok.dvc"], cwd=tmp_path)
    assert log.read_text() == "pull ok.dvc\n"
    with pytest.raises(DataError, match="dvc pull failed: ERROR: failed to pull data from the cloud"):
        dvc_pull(["bad.dvc"], cwd=tmp_path)


def test_fingerprints_say_whether_the_data_changed(tmp_path):
    table(0, 50).to_csv(tmp_path / "a.csv", index=False)
    table(1, 50).to_csv(tmp_path / "b.csv", index=False)
    a, b = fingerprint(tmp_path / "a.csv"), fingerprint(tmp_path / "b.csv")
    assert compare_fingerprints({"train": a}, {"train": a})["status"] == "unchanged"
    changed = compare_fingerprints({"train": a}, {"train": b})
    assert changed["status"] == "changed" and changed["files"][0]["reason"] == "content"
    assert compare_fingerprints(None, {"train": a})["status"] == "unknown"


def test_paths_in_the_result_are_relative_to_the_project_root(repo):
    copy_base(repo)
    result = check(repo, root=repo / "branch")
    assert [f["path"] for f in result["changes"]["files"]] == ["train.csv", "eval.csv"]
    assert [f["path"] for f in result["schema"]["files"]] == ["train.csv", "eval.csv"]
    assert result["schema"]["path"] == "schema.yaml"  # outside the root: its name alone
    assert str(repo) not in json.dumps(result)
