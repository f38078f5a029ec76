"""`mlops-actions monitor --labels` on a log the real server wrote: labels that came back in two files (the
second later, in another format) join the logged rows by data.id; the metrics and their change against the
release-time eval metrics are reported, a model the labels prove worse fails, a bad label file exits 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.func.test_monitor_cli import monitor, served_log  # noqa: F401  (the fixture: a served log)


def write_labels(project: Path, folder: Path, *, flip: bool = False) -> Path:
    """The training rows' labels: the first half as CSV, the rest later as JSON Lines."""
    with open(project / "train.csv", newline="") as handle:
        rows = [{"row_id": int(r["row_id"]), "label": int(r["label"])} for r in csv.DictReader(handle)]
    if flip:
        rows = [{**r, "label": 1 - r["label"]} for r in rows]
    folder.mkdir()
    half = len(rows) // 2
    with open(folder / "labels-1.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["row_id", "label"])
        writer.writeheader()
        writer.writerows(rows[:half])
    (folder / "labels-2.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[half:]))
    return folder


def performance(document: dict) -> dict:
    [window] = document["windows"]
    return next(f for f in window["findings"] if f["check"] == "performance")


def test_labels_in_two_files_give_the_windows_metrics_against_release(served_log, capsys):  # noqa: F811
    project = served_log.parent
    labels = write_labels(project, project / "labels")
    out = project / "mon"
    code = monitor(
        project, "--logs", str(served_log), "--ref", "production", "--labels", str(labels), "--out", str(out)
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    document = json.loads((out / "monitor.json").read_text())
    found = performance(document)
    assert found["status"] == "ok" and found["figures"]["mode"] == "measured"
    assert found["figures"]["labelled_rows"] == 600
    auc = found["figures"]["metrics"]["roc_auc"]
    assert auc["low"] <= auc["value"] <= auc["high"] and auc["release"] is not None
    assert auc["change"] == pytest.approx(auc["value"] - auc["release"])
    assert document["performance_basis"].startswith("600 logged rows labelled from 2 label file(s)")
    assert "joined by row_id" in document["performance_basis"]
    assert document["prediction_drift_reference"].startswith(
        "the release-time eval outputs (eval-outputs.json"
    )
    assert "- measured roc_auc (last window): " in printed and "| performance |" in printed


def test_labels_that_prove_the_model_worse_fail_the_run(served_log, capsys):  # noqa: F811
    project = served_log.parent
    labels = write_labels(project, project / "labels", flip=True)
    assert monitor(project, "--logs", str(served_log), "--labels", str(labels), "--json") == 1
    found = performance(json.loads(capsys.readouterr().out))
    assert found["status"] == "fail" and found["problems"][0].startswith("roc_auc ")


def test_a_label_file_without_the_target_is_one_line_and_exit_code_2(served_log, capsys):  # noqa: F811
    project = served_log.parent
    bad = project / "bad.csv"
    bad.write_text("row_id,outcome\n1,0\n")
    assert monitor(project, "--logs", str(served_log), "--labels", str(bad)) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlops-actions: error: ") and len(err.strip().splitlines()) == 1
    assert f"{bad}: no label column 'label' (data.target)" in err
