"""`data profile|validate|drift|merge` on the engine seam (local engine): single files print exactly what the
single-file path prints, shards merge into the whole, a merged profile drifts as its data does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops_actions.cli import main
from mlops_actions.domain.data.drift import drift_files, drift_to_dict
from mlops_actions.domain.data.profile import build_profile, load_profile, profile_to_dict
from mlops_actions.domain.data.render import render_drift_text, render_validation_text
from mlops_actions.domain.data.schema import load_schema
from mlops_actions.domain.data.validate import validate_file

ROWS = 2400


def frame(seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.normal(50 + shift * 10, 10, ROWS)
    income[::50] = np.nan
    return pd.DataFrame(
        {
            "id": np.arange(ROWS),
            "age": rng.integers(18, 90, ROWS),
            "income": income,
            "spend": income * 0.3 + rng.normal(0, 2, ROWS),
            "plan": rng.choice(["basic", "pro", "team"], ROWS, p=[0.5, 0.3 + shift / 10, 0.2 - shift / 10]),
            "label": rng.integers(0, 2, ROWS),
        }
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("engines")
    reference, current = frame(0), frame(1, shift=1.0)
    current.loc[::300, "age"] = 150  # out of the inferred range
    current.loc[[7, 900, 2000], "plan"] = "enterprise"  # unseen categories
    paths = {
        "ref.csv": folder / "ref.csv",
        "ref.parquet": folder / "ref.parquet",
        "cur.csv": folder / "cur.csv",
        "cur.parquet": folder / "cur.parquet",
        "cur": folder / "cur",
        "schema": folder / "schema.yaml",
    }
    reference.to_csv(paths["ref.csv"], index=False)
    reference.to_parquet(paths["ref.parquet"], index=False)
    current.to_csv(paths["cur.csv"], index=False)
    current.to_parquet(paths["cur.parquet"], index=False)
    paths["cur"].mkdir()
    for index, start in enumerate(range(0, ROWS, 400)):
        current.iloc[start : start + 400].to_parquet(paths["cur"] / f"part-{index}.parquet", index=False)
    assert main(["data", "schema", "infer", str(paths["ref.csv"]), "-o", str(paths["schema"])]) == 0
    return paths


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("name", ["ref.csv", "ref.parquet"])
def test_local_engine_profile_of_a_file_is_byte_identical_to_the_single_file_profile(data, name, capsys):
    code, out, _ = run(
        ["data", "profile", str(data[name]), "--engine", "local", "--edge-rows", "500"], capsys
    )
    assert code == 0
    assert (
        out == json.dumps(profile_to_dict(build_profile(data[name], edge_rows=500)), allow_nan=False) + "\n"
    )
    bins = data["schema"].parent / f"bins-{name}.json"
    run(["data", "profile", str(data[name]), "-o", str(bins)], capsys)
    code, out, _ = run(["data", "profile", str(data["cur.csv"]), "--bins-from", str(bins)], capsys)
    expected = build_profile(data["cur.csv"], edges_from=load_profile(bins))
    assert code == 0 and out == json.dumps(profile_to_dict(expected), allow_nan=False) + "\n"


def test_local_engine_validation_of_files_is_byte_identical_to_the_single_file_validation(data, capsys):
    schema = load_schema(data["schema"])
    files = [data["ref.csv"], data["cur.parquet"]]
    results = [validate_file(path, schema) for path in files]
    assert not all(result.passed for result in results)
    args = ["data", "validate", *map(str, files), "--schema", str(data["schema"]), "--engine", "local"]
    code, out, _ = run(args, capsys)
    assert code == 1 and out == render_validation_text(results, str(data["schema"]))
    code, out, _ = run([*args, "--json"], capsys)
    payload = {"status": "fail", "schema": str(data["schema"]), "files": [r.to_dict() for r in results]}
    assert code == 1 and out == json.dumps(payload, indent=2) + "\n"


def test_local_engine_drift_of_files_is_byte_identical_to_the_single_file_drift(data, capsys):
    args = ["data", "drift", str(data["ref.parquet"]), str(data["cur.csv"]), "--exclude", "id"]
    report = drift_files(data["ref.parquet"], data["cur.csv"], exclude=["id"])
    assert report.drifted
    code, out, _ = run([*args, "--engine", "local"], capsys)
    assert code == 1 and out == render_drift_text(report)
    code, out, _ = run([*args, "--json"], capsys)
    assert code == 1 and out == json.dumps(drift_to_dict(report), indent=2, allow_nan=False) + "\n"


def close_to(left: Any, right: Any, where: str = "") -> None:
    """Equal JSON documents, floats within 1e-9 relative, exact values compared as sets."""
    if isinstance(left, dict):
        assert isinstance(right, dict) and set(left) == set(right), where
        for key in left:
            a, b = left[key], right[key]
            if key == "values" and a is not None and b is not None:
                a, b = sorted(a), sorted(b)
            close_to(a, b, f"{where}.{key}")
    elif isinstance(left, list):
        assert isinstance(right, list) and len(left) == len(right), where
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            close_to(a, b, f"{where}[{index}]")
    elif isinstance(left, float):
        assert right == pytest.approx(left, rel=1e-9, abs=1e-9), where
    else:
        assert left == right, where


def profile_shards(data: dict[str, Path], folder: Path, capsys: Any, *extra: str) -> list[Path]:
    parts = []
    for index in (1, 2, 3):
        part = folder / f"part-{index}.json"
        args = ["data", "profile", str(data["cur"]), "--shard", f"{index}/3", "-o", str(part), *extra]
        code, _, err = run(args, capsys)
        assert code == 0 and f"wrote {part}" in err
        parts.append(part)
    return parts


def test_shards_1_2_3_of_3_merged_equal_the_profile_of_the_whole(data, tmp_path, capsys):
    parts = profile_shards(data, tmp_path, capsys)
    documents = [json.loads(part.read_text()) for part in parts]
    assert [d["shard"] for d in documents] == ["1/3", "2/3", "3/3"]
    assert {d["dataset"] for d in documents} == {str(data["cur"])}
    assert [d["rows"] for d in documents] == [800, 800, 800]
    merged = tmp_path / "merged.json"
    code, _, _ = run(["data", "merge", *map(str, reversed(parts)), "-o", str(merged)], capsys)
    assert code == 0
    whole = profile_to_dict(build_profile(data["cur.parquet"]))
    whole["sources"] = [str(data["cur"])]
    close_to(json.loads(merged.read_text()), whole)
    code, out, _ = run(["data", "profile", str(data["cur"])], capsys)
    assert code == 0
    close_to(json.loads(out), whole)


def test_drift_of_merged_shards_gives_the_report_of_the_drift_of_the_file(data, tmp_path, capsys):
    reference = tmp_path / "reference.json"
    assert run(["data", "profile", str(data["ref.csv"]), "-o", str(reference)], capsys)[0] == 0
    parts = profile_shards(data, tmp_path, capsys, "--bins-from", str(reference))
    merged = tmp_path / "current-merged.json"
    assert run(["data", "merge", *map(str, parts), "-o", str(merged)], capsys)[0] == 0
    code, out, _ = run(["data", "drift", str(reference), str(merged), "--json", "--exclude", "id"], capsys)
    file_code, file_out, _ = run(
        ["data", "drift", str(data["ref.csv"]), str(data["cur.csv"]), "--json", "--exclude", "id"], capsys
    )
    report, of_file = json.loads(out), json.loads(file_out)
    assert code == file_code == 1
    assert report.pop("current")["path"] == str(merged)
    assert report.pop("reference")["path"] == str(reference)
    of_file.pop("current"), of_file.pop("reference")
    close_to(report, of_file)
    drifted = [c["column"] for c in report["columns"] if c["drifted"]]
    assert drifted and drifted == [c["column"] for c in of_file["columns"] if c["drifted"]]


def test_merge_names_the_missing_shard_and_the_repeated_one(data, tmp_path, capsys):
    parts = profile_shards(data, tmp_path, capsys)
    code, _, err = run(["data", "merge", str(parts[0]), str(parts[2])], capsys)
    assert code == 2 and err.strip() == (
        "mlops-actions: error: shard 2/3 missing: merge every shard 1..3 exactly once"
    )
    code, _, err = run(["data", "merge", *map(str, parts), str(parts[1])], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"shard 2/3 appears twice: {parts[1]} and {parts[1]}" in err


def test_merge_of_shards_on_different_bins_is_the_one_line_bins_error(data, tmp_path, capsys):
    parts = profile_shards(data, tmp_path, capsys)
    other = tmp_path / "other-bins.json"
    bins = tmp_path / "bins.json"
    run(["data", "profile", str(data["ref.csv"]), "-o", str(bins)], capsys)
    args = ["data", "profile", str(data["cur"]), "--shard", "2/3", "-o", str(other), "--bins-from", str(bins)]
    assert run(args, capsys)[0] == 0
    code, _, err = run(["data", "merge", str(parts[0]), str(other), str(parts[2])], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "has different bins" in err and "--bins-from" in err


@pytest.mark.parametrize("partitions", ["1", "7", "64"])
def test_partitions_give_the_same_validation_and_drift_verdicts(data, partitions, capsys):
    validate = ["data", "validate", str(data["cur.csv"]), "--schema", str(data["schema"]), "--json"]
    code, out, _ = run(validate, capsys)
    parted_code, parted, _ = run([*validate, "--partitions", partitions], capsys)
    assert code == parted_code == 1 and json.loads(parted) == json.loads(out)
    drift = ["data", "drift", str(data["ref.csv"]), str(data["cur.csv"]), "--json"]
    code, out, _ = run(drift, capsys)
    parted_code, parted, _ = run([*drift, "--partitions", partitions], capsys)
    assert code == parted_code
    close_to(json.loads(parted), json.loads(out))


def test_the_engine_comes_from_the_environment_and_is_closed_after_a_failure(data, capsys, monkeypatch):
    import mlops_actions.engines.base as base
    from mlops_actions.engines.local import LocalEngine
    from mlops_actions.errors import DataError

    opened = []

    class Failing(LocalEngine):
        closed = False

        def run(self, dataset: Any, job: Any, *, shard: Any = None) -> Any:
            raise DataError("worker lost")

        def close(self) -> None:
            self.closed = True

    def open_engine(options: Any) -> Any:
        opened.append(Failing(options))
        return opened[-1]

    monkeypatch.setattr(base, "open_engine", open_engine)
    monkeypatch.setenv("MLOPS_ENGINE", "local")
    code, _, err = run(["data", "profile", str(data["cur"]), "--partitions", "2"], capsys)
    assert code == 2 and "worker lost" in err
    assert [(e.options.name, e.options.partitions, e.closed) for e in opened] == [("local", 2, True)]


def test_bad_engine_options_are_one_line_usage_errors(data, capsys, monkeypatch):
    code, _, err = run(["data", "profile", str(data["ref.csv"]), "--partitions", "0"], capsys)
    assert code == 2 and "--partitions must be at least 1, got 0" in err
    code, _, err = run(["data", "profile", str(data["ref.csv"]), "--shard", "4/3"], capsys)
    assert code == 2 and "--shard '4/3'" in err
    monkeypatch.setenv("MLOPS_ENGINE", "ray")
    code, _, err = run(["data", "validate", str(data["ref.csv"]), "--schema", str(data["schema"])], capsys)
    assert code == 2 and "--engine 'ray'" in err


def test_help_names_the_engines_and_shards(capsys):
    for command in (["profile"], ["validate"], ["drift", "a", "b"]):
        with pytest.raises(SystemExit):
            main(["data", command[0], "--help"])
        out = capsys.readouterr().out
        assert "--engine" in out and "MLOPS_ENGINE" in out and "--partitions" in out
        assert "--dask-scheduler" in out and "--spark-master" in out
    with pytest.raises(SystemExit):
        main(["data", "profile", "--help"])
    assert "--shard" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["data", "merge", "--help"])
    assert "every shard 1..N exactly once" in capsys.readouterr().out


def test_data_merge_of_whole_profiles_prints_what_data_profile_merge_prints(data, tmp_path, capsys):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    run(["data", "profile", str(data["cur.csv"]), "-o", str(first)], capsys)
    run(["data", "profile", str(data["cur.parquet"]), "-o", str(second), "--bins-from", str(first)], capsys)
    code, out, _ = run(["data", "merge", str(first), str(second)], capsys)
    old_code, old_out, _ = run(["data", "profile", "merge", str(first), str(second)], capsys)
    assert code == old_code == 0 and out == old_out
    assert json.loads(out)["rows"] == 2 * ROWS
