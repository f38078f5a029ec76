"""Every YAML example of docs/gate.md is valid config: merged into the example project's config, it validates."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from mlops_actions.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]
DOC = REPO_ROOT / "docs" / "gate.md"
EXAMPLE = REPO_ROOT / "example_project"


def _yaml_examples() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_gate_doc_has_yaml_examples() -> None:
    assert len(_yaml_examples()) >= 4


@pytest.mark.parametrize("index", range(len(_yaml_examples())))
def test_gate_doc_yaml_example_validates_in_a_full_config(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    example = yaml.safe_load(_yaml_examples()[index])
    config = yaml.safe_load((EXAMPLE / "mlops.yaml").read_text(encoding="utf-8"))
    config.update(example)  # each example replaces whole top-level sections
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".mlops", "mlops-out", "__pycache__"))
    (project / "mlops.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "path", list(sys.path))
    code = main(["config", "validate", str(project / "mlops.yaml")])
    assert code == 0, capsys.readouterr().err
