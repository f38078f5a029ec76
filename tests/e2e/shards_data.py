"""Known data for the sharded data check end to end (GitHub matrix and GitLab ``parallel:``).

A reference table and a current table drawn from the same distributions except two columns (``score``
shifted by 0.8 standard deviations, ``region`` reweighted); the current table is one Parquet file of six row
groups, so three shards get two row groups each. What one job on the whole file says is computed with the
CLI of the environment under test, for the comparison with the merged shards.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

SHARDS = 3
ROW_GROUPS = 6
ROWS_PER_GROUP = 1_500
REFERENCE_ROWS = 6_000
DRIFTED = ["region", "score"]
CURRENT = "data/current.parquet"
REFERENCE_PROFILE = "data/reference-profile.json"


def _table(rows: int, *, seed: int, drifted: bool) -> Any:
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    weights = [0.1, 0.2, 0.3, 0.4] if drifted else [0.4, 0.3, 0.2, 0.1]
    return pa.table(
        {
            "amount": rng.lognormal(3.0, 0.5, rows),
            "age": rng.integers(18, 90, rows),
            "score": rng.normal(0.8 if drifted else 0.0, 1.0, rows),
            "region": rng.choice(["north", "south", "east", "west"], rows, p=weights),
        }
    )


def write_shard_data(repo: Path) -> None:
    """The reference profile and the drifted current Parquet file (ROW_GROUPS row groups) under ``repo``."""
    import pyarrow.parquet as pq

    from mlops_actions.domain.data.profile import build_profile, save_profile

    (repo / "data").mkdir(exist_ok=True)
    reference = repo / "data" / "reference.parquet"
    pq.write_table(_table(REFERENCE_ROWS, seed=1, drifted=False), reference)
    save_profile(build_profile(reference), repo / REFERENCE_PROFILE)
    current = _table(ROW_GROUPS * ROWS_PER_GROUP, seed=2, drifted=True)
    pq.write_table(current, repo / CURRENT, row_group_size=ROWS_PER_GROUP)
    assert pq.ParquetFile(repo / CURRENT).num_row_groups == ROW_GROUPS


def cli(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``mlops-actions ARGS`` of the environment under test."""
    return subprocess.run(
        [str(venv / "bin" / "mlops-actions"), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def one_job(venv: Path, repo: Path, out: Path) -> tuple[dict[str, Any], dict[str, Any], int]:
    """What one job on the whole file gives: its profile on the reference's bins, the drift report, the exit."""
    profile = out / "whole-profile.json"
    done = cli(
        venv, "data", "profile", CURRENT, "--bins-from", REFERENCE_PROFILE, "-o", str(profile), cwd=repo
    )
    assert done.returncode == 0, done.stderr
    return json.loads(profile.read_text()), *drift_json(venv, repo, profile)


def drift_json(venv: Path, repo: Path, current_profile: Path) -> tuple[dict[str, Any], int]:
    """``data drift --json`` of a current profile against the reference profile, and its exit code."""
    done = cli(venv, "data", "drift", REFERENCE_PROFILE, str(current_profile), "--json", cwd=repo)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout), done.returncode


def verdict(report: dict[str, Any]) -> tuple[bool, list[str], list[dict[str, Any]]]:
    """The parts of a drift report that do not name the files: dataset verdict, drifted columns, columns."""
    drifted = sorted(c["column"] for c in report["columns"] if c["drifted"])
    return report["drifted"], drifted, report["columns"]


def assert_close(merged: Any, whole: Any, where: str = "profile") -> None:
    """Counts and every other exact value equal, floats within 1e-9 relative."""
    if isinstance(whole, dict):
        assert isinstance(merged, dict) and set(merged) == set(whole), where
        for key in whole:
            assert_close(merged[key], whole[key], f"{where}.{key}")
    elif isinstance(whole, list):
        assert isinstance(merged, list) and len(merged) == len(whole), where
        for index, (left, right) in enumerate(zip(merged, whole, strict=True)):
            assert_close(left, right, f"{where}[{index}]")
    elif isinstance(whole, float) and not isinstance(merged, bool):
        assert isinstance(merged, int | float), where
        assert math.isclose(merged, whole, rel_tol=1e-9, abs_tol=1e-12), (where, merged, whole)
    else:
        assert merged == whole and type(merged) is type(whole), (where, merged, whole)


def assert_same_profile(merged: dict[str, Any], whole: dict[str, Any]) -> None:
    """The merged shards' profile is the whole file's: rows, every column summary, the correlations."""
    assert merged["rows"] == whole["rows"] == ROW_GROUPS * ROWS_PER_GROUP
    assert_close(merged["columns"], whole["columns"], "columns")
    assert_close(merged["correlation"], whole["correlation"], "correlation")


def assert_parts_split_the_rows(parts: list[dict[str, Any]]) -> None:
    """Each of the SHARDS partial profiles holds a share of the rows, and they add up to the whole."""
    assert len(parts) == SHARDS
    rows = [part["rows"] for part in parts]
    assert all(count > 0 for count in rows), rows
    assert sum(rows) == ROW_GROUPS * ROWS_PER_GROUP
