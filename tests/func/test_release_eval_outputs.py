"""A release stores the eval set's outputs (``eval-outputs.json``) beside ``smoke.json``: in the manifest
with its sha256, small, with the release-time metrics, score histograms and the calibration summary."""

from __future__ import annotations

import hashlib
import json

from mlops_actions.cli import main
from mlops_actions.monitoring.performance import EVAL_OUTPUTS_FILE, load_eval_outputs


def test_the_release_stores_the_eval_outputs_in_its_manifest(tiny_project):
    config = tiny_project / "mlops.yaml"
    assert main(["release", "--config", str(config), "--output-dir", str(tiny_project / "mlops-out")]) == 0
    folder = tiny_project / ".registry" / "tiny" / "versions" / "1.0.0"
    manifest = json.loads((folder / "manifest.json").read_text())
    stored = (folder / EVAL_OUTPUTS_FILE).read_bytes()
    assert manifest["files"][EVAL_OUTPUTS_FILE] == "sha256:" + hashlib.sha256(stored).hexdigest()
    assert len(stored) < 20_000
    outputs = load_eval_outputs(folder / EVAL_OUTPUTS_FILE)
    assert (outputs.task, outputs.classes, outputs.rows) == ("binary", ["0", "1"], 300)
    assert set(outputs.dtypes) == {"prediction", "proba_0", "proba_1"}
    assert set(outputs.metrics) == {"roc_auc", "accuracy", "log_loss", "brier"}
    auc = outputs.metrics["roc_auc"]
    assert auc["low"] <= auc["value"] <= auc["high"]
    assert outputs.calibration is not None and outputs.calibration.rows == 300
    assert 0 <= outputs.calibration.ece < 0.2
    assert (
        sum(outputs.score_histograms["classes"]["1"]["true"])
        + sum(outputs.score_histograms["classes"]["1"]["other"])
        == 300
    )
