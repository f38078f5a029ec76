"""The `mlops-actions data` commands end to end on temporary files: output, files written, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from mlops_actions.cli import main


def write_data(folder, seed=0, rows=1500, shift=0.0, name="train.csv"):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "age": rng.integers(18, 90, rows),
            "income": rng.normal(50 + shift * 10, 10, rows),
            "plan": rng.choice(["basic", "pro"], rows),
            "label": rng.integers(0, 2, rows),
        }
    )
    path = folder / name
    if name.endswith(".parquet"):
        pytest.importorskip(
            "pyarrow", reason="pyarrow is not installed (pip install 'mlops-actions[parquet]')"
        )
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    return path


def run(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_infer_then_validate_passes(tmp_path, capsys):
    data = write_data(tmp_path)
    schema = tmp_path / "schema.yaml"
    code, _, err = run(["data", "schema", "infer", str(data), "-o", str(schema), "--target", "label"], capsys)
    assert code == 0 and "wrote" in err
    parsed = yaml.safe_load(schema.read_text())
    assert parsed["version"] == 1 and parsed["columns"]["label"]["role"] == "target"
    assert parsed["columns"]["id"]["role"] == "id"
    code, out, _ = run(["data", "validate", str(data), "--schema", str(schema)], capsys)
    assert code == 0 and "PASS" in out


def test_validate_exits_1_and_names_each_violation(tmp_path, capsys):
    data = write_data(tmp_path)
    schema = tmp_path / "schema.yaml"
    run(["data", "schema", "infer", str(data), "-o", str(schema)], capsys)
    bad = pd.read_csv(data)
    bad.loc[0, "age"] = 500
    bad["plan"] = bad["plan"].replace({"pro": "platinum"})
    bad = bad.drop(columns=["label"]).assign(new=1)
    pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'mlops-actions[parquet]')")
    bad.to_parquet(tmp_path / "bad.parquet")
    code, out, _ = run(
        ["data", "validate", str(tmp_path / "bad.parquet"), "--schema", str(schema), "--json"], capsys
    )
    assert code == 1
    payload = json.loads(out)
    kinds = {(v["column"], v["kind"]) for v in payload["files"][0]["violations"]}
    assert kinds == {
        ("age", "out_of_range"),
        ("plan", "unseen_category"),
        ("label", "missing_column"),
        ("new", "new_column"),
    }
    assert payload["status"] == "fail"


def test_validate_exits_2_on_unreadable_input(tmp_path, capsys):
    data = write_data(tmp_path)
    schema = tmp_path / "schema.yaml"
    run(["data", "schema", "infer", str(data), "-o", str(schema)], capsys)
    (tmp_path / "broken.parquet").write_bytes(b"garbage")
    code, _, err = run(
        ["data", "validate", str(tmp_path / "broken.parquet"), "--schema", str(schema)], capsys
    )
    assert code == 2 and "cannot read parquet" in err
    code, _, err = run(["data", "validate", str(data), "--schema", str(tmp_path / "none.yaml")], capsys)
    assert code == 2 and "schema file not found" in err


def test_schema_comes_from_the_environment(tmp_path, capsys, monkeypatch):
    data = write_data(tmp_path)
    schema = tmp_path / "custom.yaml"
    run(["data", "schema", "infer", str(data), "-o", str(schema)], capsys)
    monkeypatch.setenv("MLOPS_DATA_SCHEMA", str(schema))
    code, out, _ = run(["data", "validate", str(data)], capsys)
    assert code == 0 and "custom.yaml" in out


def test_drift_json_lists_columns_and_exits_1_on_dataset_drift(tmp_path, capsys):
    reference = write_data(tmp_path, seed=0, name="ref.parquet")
    current = write_data(tmp_path, seed=1, shift=2.0, name="cur.csv")
    code, out, _ = run(
        [
            "data",
            "drift",
            str(reference),
            str(current),
            "--json",
            "--id-column",
            "id",
            "--thresholds",
            "drift_share=0.2",
        ],
        capsys,
    )
    payload = json.loads(out)
    assert code == 1 and payload["drifted"] is True
    columns = {c["column"]: c for c in payload["columns"]}
    assert set(columns) == {"age", "income", "plan", "label"}
    assert columns["income"]["drifted"] is True and columns["income"]["method"] == "psi"
    for column in payload["columns"]:
        assert {"column", "kind", "method", "score", "threshold", "drifted"} <= set(column)


def test_drift_text_report_and_no_drift_exit_0(tmp_path, capsys):
    reference = write_data(tmp_path, seed=0, name="ref.csv")
    current = write_data(tmp_path, seed=1, name="cur.csv")
    code, out, _ = run(["data", "drift", str(reference), str(current), "--exclude", "id"], capsys)
    assert code == 0
    assert "dataset: no drift" in out and "largest correlation changes" in out


def test_bad_threshold_is_a_usage_error(tmp_path, capsys):
    reference = write_data(tmp_path, name="ref.csv")
    code, _, err = run(["data", "drift", str(reference), str(reference), "--thresholds", "psy=1"], capsys)
    assert code == 2 and "unknown drift threshold 'psy'" in err


def test_profiles_of_shards_merge_into_the_profile_of_the_whole(tmp_path, capsys):
    whole = pd.read_csv(write_data(tmp_path, rows=3000, name="all.csv"))
    whole.iloc[:1200].to_csv(tmp_path / "s1.csv", index=False)
    whole.iloc[1200:].to_csv(tmp_path / "s2.csv", index=False)
    assert run(["data", "profile", str(tmp_path / "s1.csv"), "-o", str(tmp_path / "p1.json")], capsys)[0] == 0
    bins = ["--bins-from", str(tmp_path / "p1.json")]
    assert (
        run(["data", "profile", str(tmp_path / "s2.csv"), "-o", str(tmp_path / "p2.json"), *bins], capsys)[0]
        == 0
    )
    assert (
        run(["data", "profile", str(tmp_path / "all.csv"), "-o", str(tmp_path / "pa.json"), *bins], capsys)[0]
        == 0
    )
    code, _, _ = run(
        [
            "data",
            "profile",
            "merge",
            str(tmp_path / "p1.json"),
            str(tmp_path / "p2.json"),
            "-o",
            str(tmp_path / "m.json"),
        ],
        capsys,
    )
    assert code == 0
    merged = json.loads((tmp_path / "m.json").read_text())
    whole_profile = json.loads((tmp_path / "pa.json").read_text())
    assert merged["rows"] == whole_profile["rows"] == 3000
    for name, column in whole_profile["columns"].items():
        assert merged["columns"][name]["count"] == column["count"]
        if column["kind"] == "numeric":
            assert merged["columns"][name]["bin_counts"] == column["bin_counts"]
            assert merged["columns"][name]["mean"] == pytest.approx(column["mean"])
        else:
            assert merged["columns"][name]["counts"] == column["counts"]


def test_merging_shards_with_different_bins_is_refused(tmp_path, capsys):
    write_data(tmp_path, seed=0, name="a.csv")
    write_data(tmp_path, seed=1, shift=3, name="b.csv")
    run(["data", "profile", str(tmp_path / "a.csv"), "-o", str(tmp_path / "a.json")], capsys)
    run(["data", "profile", str(tmp_path / "b.csv"), "-o", str(tmp_path / "b.json")], capsys)
    code, _, err = run(
        ["data", "profile", "merge", str(tmp_path / "a.json"), str(tmp_path / "b.json")], capsys
    )
    assert code == 2 and "--bins-from" in err
    assert not (tmp_path / "m.json").exists()


def test_the_installed_command_runs_with_exit_codes(tmp_path):
    data = write_data(tmp_path)
    schema = tmp_path / "schema.yaml"
    command = [sys.executable, "-m", "mlops_actions"]
    infer = subprocess.run(
        [*command, "data", "schema", "infer", str(data), "-o", str(schema)], capture_output=True
    )
    assert infer.returncode == 0, infer.stderr
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = subprocess.run(
        [*command, "data", "validate", str(empty), "--schema", str(schema)], capture_output=True
    )
    assert result.returncode == 2 and b"empty" in result.stderr
    help_text = subprocess.run([*command, "data", "drift", "--help"], capture_output=True, text=True)
    assert help_text.returncode == 0 and "MLOPS_DRIFT_THRESHOLDS" in help_text.stdout
