"""`mlops-actions runs list|show`: the recorded runs through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_actions.cli import main
from mlops_actions.metadata.sqlite import SqliteStore
from tests.conftest import REPO_ROOT
from tests.metadata_contract import sample_record

CONFIG = """\
version: 1
model: {name: churn, task: binary}
train: {entrypoint: "pkg.mod:fit"}
data: {train: train.csv, target: y}
metrics: {primary: accuracy}
"""

CHECK = sample_record(id="c" * 32, started_at="2026-12-01T09:00:00Z", pr=7, version=None)
RELEASE = sample_record(
    id="d" * 32,
    stage="release",
    verdict="released",
    started_at="2026-12-01T10:00:00Z",
    pr=None,
    version="1.3.0",
)
OTHER_MODEL = sample_record(id="e" * 32, model="fraud", started_at="2026-12-01T11:00:00Z")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "mlops.yaml").write_text(CONFIG)
    store = SqliteStore(tmp_path / ".mlops/registry/metadata.sqlite")
    for record in (RELEASE, OTHER_MODEL, CHECK):
        store.append(record)
    store.close()
    return tmp_path


def runs(project: Path, action: str, *args: str) -> int:
    return main(["runs", action, "--config", str(project / "mlops.yaml"), *args])


def test_runs_list_shows_every_recorded_run_oldest_first_with_its_primary_metric(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert runs(project, "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "started", "stage", "model", "verdict", "version/PR", "metric"]
    assert lines[1].split()[:6] == ["cccccccc", "2026-12-01T09:00:00Z", "check", "churn", "pass", "PR"]
    assert "accuracy 0.9100 [0.8800, 0.9300]" in lines[1]
    assert lines[2].split()[:6] == [
        "dddddddd",
        "2026-12-01T10:00:00Z",
        "release",
        "churn",
        "released",
        "1.3.0",
    ]
    assert lines[3].split()[3] == "fraud"
    assert len(lines) == 4


def test_runs_list_filters_by_model_stage_and_limit_as_json(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert runs(project, "list", "--model", "churn", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["store"].startswith("sqlite store ")
    assert listed["records"] == [CHECK.as_dict(), RELEASE.as_dict()]
    assert listed["warnings"] == []
    assert runs(project, "list", "--stage", "check", "--json") == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)["records"]] == [CHECK.id, OTHER_MODEL.id]
    assert runs(project, "list", "--limit", "1", "--json") == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)["records"]] == [OTHER_MODEL.id]


def test_runs_show_prints_every_field_of_the_run_a_prefix_names(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert runs(project, "show", "ddd") == 0
    shown = capsys.readouterr().out
    for expected in (
        RELEASE.id,
        "release",
        "released",
        "1.3.0",
        RELEASE.commit,
        "registry",
        "accuracy",
        "0.9100",
    ):
        assert expected in shown
    assert "https://ci.example.invalid/run/1" in shown and "sha256" in shown and "café" in shown
    assert runs(project, "show", "d" * 32, "--json") == 0
    assert json.loads(capsys.readouterr().out) == RELEASE.as_dict()


def test_an_unknown_run_id_is_a_one_line_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert runs(project, "show", "0123") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "error: sqlite store" in err and "no recorded run has an id starting with '0123'" in err


def test_a_store_with_an_unreadable_row_still_lists_the_others_and_warns(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    with sqlite3.connect(project / ".mlops/registry/metadata.sqlite") as connection:
        connection.execute("UPDATE runs SET record = '{\"cut' WHERE id = ?", (RELEASE.id,))
    assert runs(project, "list", "--json") == 0
    captured = capsys.readouterr()
    assert [r["id"] for r in json.loads(captured.out)["records"]] == [CHECK.id, OTHER_MODEL.id]
    assert f"run {RELEASE.id}: skipped: " in captured.err


def test_a_store_that_is_off_is_a_one_line_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "mlops.yaml").write_text(CONFIG + 'metadata: {backend: "off"}\n')
    assert runs(project, "list") == 2
    assert "metadata.backend is off" in capsys.readouterr().err


def test_a_database_that_is_not_sqlite_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "mlops.yaml").write_text(CONFIG + "metadata: {backend: sqlite, path: runs.db}\n")
    (tmp_path / "runs.db").write_text("this is not a database\n" * 100)
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_actions", "runs", "list", "--config", str(tmp_path / "mlops.yaml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not a usable metadata database" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_bad_limit_or_stage_is_a_usage_error(project: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        runs(project, "list", "--limit", "0")
    assert exited.value.code == 2
    with pytest.raises(SystemExit) as exited:
        runs(project, "list", "--stage", "train")
    assert exited.value.code == 2
