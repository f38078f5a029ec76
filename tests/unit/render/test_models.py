"""The models of a repository as a table, a JSON document and step outputs."""

from __future__ import annotations

import json

from mlops_actions.domain.changes import ModelPlan
from mlops_actions.render.models import models_document, models_outputs, models_text, skipped_summary

PLANS = [
    ModelPlan("models/a/mlops.yaml", "a", True, "changed: models/a/train.py"),
    ModelPlan("models/b/mlops.yaml", "b", False, "no input changed: models/b/mlops.yaml"),
]


def test_the_document_lists_every_model_and_fans_out_on_the_changed_ones() -> None:
    assert models_document(PLANS) == {
        "models": [
            {
                "config": "models/a/mlops.yaml",
                "model": "a",
                "changed": True,
                "reason": "changed: models/a/train.py",
            },
            {
                "config": "models/b/mlops.yaml",
                "model": "b",
                "changed": False,
                "reason": "no input changed: models/b/mlops.yaml",
            },
        ],
        "matrix": {"include": [{"config": "models/a/mlops.yaml", "model": "a"}]},
        "skipped": [
            {"config": "models/b/mlops.yaml", "model": "b", "reason": "no input changed: models/b/mlops.yaml"}
        ],
    }


def test_the_step_outputs_are_compact_json_and_the_count_of_models_to_check() -> None:
    outputs = models_outputs(PLANS)
    assert json.loads(outputs["matrix"]) == {"include": [{"config": "models/a/mlops.yaml", "model": "a"}]}
    assert json.loads(outputs["skipped"])[0]["model"] == "b"
    assert outputs["count"] == "1"
    assert "\n" not in outputs["matrix"] + outputs["skipped"]


def test_the_table_has_a_line_per_model_and_the_count() -> None:
    lines = models_text(PLANS).splitlines()
    assert lines[0].split() == ["MODEL", "CHECK", "CONFIG", "REASON"]
    assert lines[1].split()[:3] == ["a", "yes", "models/a/mlops.yaml"]
    assert lines[2].split()[:3] == ["b", "skip", "models/b/mlops.yaml"]
    assert lines[-1] == "1 of 2 models to check"


def test_the_job_summary_names_the_models_not_checked() -> None:
    assert skipped_summary(PLANS) == "- not checked: `b` (no input changed: models/b/mlops.yaml)\n"
    assert skipped_summary(PLANS[:1]) == ""
