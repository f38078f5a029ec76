"""Many models in one repository: `mlops-actions configs` on a temporary git repository with two models,
and `check --plan` naming the model it did not check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlops_actions.cli import main
from tests.conftest import TINY_CONFIG, TINY_MODEL, init_repo, run_git, write_tiny_data


def write_model(folder: Path, name: str) -> None:
    folder.mkdir(parents=True)
    (folder / "tiny_model.py").write_text(TINY_MODEL)
    (folder / "mlops.yaml").write_text(TINY_CONFIG.replace("name: tiny", f"name: {name}"))
    write_tiny_data(folder, rows=240)


@pytest.fixture(scope="module")
def _two_models_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("two-models") / "repo"
    write_model(repo / "models" / "a", "a")
    (repo / "models" / "b").mkdir(parents=True)
    shutil.copytree(repo / "models" / "a", repo / "models" / "b", dirs_exist_ok=True)
    config = repo / "models" / "b" / "mlops.yaml"
    config.write_text(config.read_text().replace("name: a", "name: b") + "watch: [lib/**]\n")
    (repo / "models" / "b" / "lib").mkdir()
    (repo / "models" / "b" / "lib" / "util.py").write_text("WEIGHT = 1\n")
    (repo / ".gitignore").write_text(".registry/\nmlops-out/\n.mlops/\n__pycache__/\nplan.json\n")
    return init_repo(repo)


@pytest.fixture
def two_models(_two_models_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with models a and b on main, and a branch whose commit changes a's training data."""
    repo = tmp_path / "repo"
    shutil.copytree(_two_models_template, repo, symlinks=True)
    run_git(repo, "checkout", "-q", "-b", "more-data")
    data = repo / "models" / "a" / "train.csv"
    lines = data.read_text().splitlines()
    data.write_text("\n".join([*lines, lines[-1]]) + "\n")
    run_git(repo, "commit", "-q", "-am", "one more row for a")
    monkeypatch.chdir(repo)
    return repo


def configs_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    capsys.readouterr()
    assert main(["configs", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_model_whose_data_changed_is_checked_and_the_other_skipped_with_the_reason(
    two_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = configs_json(capsys, "models/*/mlops.yaml", "--changed-since", "main")
    assert document["matrix"] == {"include": [{"config": "models/a/mlops.yaml", "model": "a"}]}
    assert document["models"][0] == {
        "config": "models/a/mlops.yaml",
        "model": "a",
        "changed": True,
        "reason": "changed: models/a/train.csv",
    }
    [skipped] = document["skipped"]
    assert skipped["model"] == "b" and skipped["config"] == "models/b/mlops.yaml"
    assert skipped["reason"].startswith("no input changed: models/b/mlops.yaml, models/b/train.csv")


def test_without_a_base_every_model_is_checked(two_models: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = configs_json(capsys, "models/a/mlops.yaml models/b/mlops.yaml")
    assert [entry["model"] for entry in document["matrix"]["include"]] == ["a", "b"]
    assert {entry["reason"] for entry in document["models"]} == {"no base to compare"}


def test_the_patterns_and_the_ref_can_come_from_the_workflows_variables(
    two_models: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_CONFIGS", "models/b/mlops.yaml\nmodels/a/mlops.yaml\n")
    monkeypatch.setenv("MLOPS_CHANGED_SINCE", run_git(two_models, "rev-parse", "main"))
    document = configs_json(capsys)
    assert [entry["model"] for entry in document["models"]] == ["a", "b"]
    assert [entry["model"] for entry in document["skipped"]] == ["b"]


def test_a_watched_file_moved_away_counts_for_the_model_it_left(
    two_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_git(two_models, "mv", "models/b/lib/util.py", "util.py")
    run_git(two_models, "commit", "-q", "-m", "move b's helper to the top")
    document = configs_json(capsys, "models/*/mlops.yaml", "--changed-since", "main")
    [b] = [entry for entry in document["models"] if entry["model"] == "b"]
    assert b["changed"] and b["reason"] == "changed: models/b/lib/util.py"


def test_the_matrix_and_the_skipped_are_step_outputs_on_github(
    two_models: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = two_models.parent / "github-output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    assert main(["configs", "models/*/mlops.yaml", "--changed-since", "main", "--platform", "github"]) == 0
    lines = outputs.read_text().splitlines()
    values = {line.split("<<")[0]: lines[index + 1] for index, line in enumerate(lines) if "<<" in line}
    assert json.loads(values["matrix"]) == {"include": [{"config": "models/a/mlops.yaml", "model": "a"}]}
    assert [entry["model"] for entry in json.loads(values["skipped"])] == ["b"]
    assert values["count"] == "1"


def test_a_ref_that_does_not_exist_is_a_one_line_error_naming_it(
    two_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["configs", "models/*/mlops.yaml", "--changed-since", "no-such-branch"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "'no-such-branch'" in line


def test_two_configs_of_one_model_are_a_one_line_error(
    two_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = two_models / "models" / "b" / "mlops.yaml"
    config.write_text(config.read_text().replace("name: b", "name: a"))
    assert main(["configs", "models/*/mlops.yaml"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "models/a/mlops.yaml" in line and "models/b/mlops.yaml" in line


def test_check_with_the_plan_names_the_model_not_checked_in_the_report_and_the_result(
    two_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = configs_json(capsys, "models/*/mlops.yaml", "--changed-since", "main")
    (two_models / "plan.json").write_text(json.dumps(document))
    code = main(
        [
            "check",
            "--config",
            "models/a/mlops.yaml",
            "--plan",
            "plan.json",
            "--baseline",
            "none",
            "--output-dir",
            "mlops-out",
            "--comment-dir",
            ".mlops/comments",
            "--quiet",
        ]
    )
    assert code == 0
    result = json.loads((two_models / "mlops-out" / "mlops-result.json").read_text())
    assert result["skipped_models"] == document["skipped"]
    line = f"Not checked in this PR: `b` ({document['skipped'][0]['reason']})".replace("*", "\\*")
    assert line in (two_models / "mlops-out" / "report.md").read_text().splitlines()
    assert line in (two_models / ".mlops" / "comments" / "a.md").read_text().splitlines()
