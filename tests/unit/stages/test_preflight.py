"""Checks before training: the entrypoint, trusted types, data files and columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_actions.cli import main
from mlops_actions.domain.config import load_config
from mlops_actions.errors import ConfigError
from mlops_actions.stages.preflight import preflight, resolve_type


def edit_config(project: Path, old: str, new: str) -> Path:
    path = project / "mlops.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


def problems_of(project: Path) -> list[str]:
    return preflight(load_config(project / "mlops.yaml")).problems


def test_a_sound_project_has_no_problems_and_names_what_was_checked(tiny_project: Path) -> None:
    report = preflight(load_config(tiny_project / "mlops.yaml"))
    assert report.problems == []
    subjects = [f.subject for f in report.findings]
    assert subjects[:3] == ["train.entrypoint", "data.train", "data.eval"]


def test_an_entrypoint_that_does_not_import_is_named(tiny_project: Path) -> None:
    edit_config(tiny_project, "tiny_model:train_model", "tiny_modle:train_model")
    [problem] = problems_of(tiny_project)
    assert problem.startswith("train.entrypoint: cannot import module 'tiny_modle'")


def test_an_entrypoint_function_that_does_not_exist_is_named(tiny_project: Path) -> None:
    edit_config(tiny_project, "tiny_model:train_model", "tiny_model:fit")
    [problem] = problems_of(tiny_project)
    assert "has no function 'fit'" in problem


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sklearn.preprocessing.StandardScaler", None),
        ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor", None),
        ("sklearn.preprocessing.NoSuchScaler", "module sklearn.preprocessing has no NoSuchScaler"),
        ("no_such_package.Thing", "cannot be imported"),
        ("__main__.log_ratio", "import it from the training script"),
        ("plain", "not a dotted module.Name"),
    ],
    ids=["class", "internal-class", "missing-attribute", "missing-module", "main-module", "undotted"],
)
def test_trusted_type_names_resolve_or_say_why_not(name: str, expected: str | None) -> None:
    problem = resolve_type(name)
    assert problem is None if expected is None else expected in str(problem)


def test_a_trusted_type_that_does_not_resolve_is_a_problem_with_its_key(tiny_project: Path) -> None:
    edit_config(
        tiny_project, "  params: {C: 1.0}\n", "  params: {C: 1.0}\n  trusted_types: [tiny_model.Missing]\n"
    )
    [problem] = problems_of(tiny_project)
    assert problem.startswith(
        "train.trusted_types[0]: 'tiny_model.Missing': module tiny_model has no Missing"
    )


def test_a_missing_data_file_and_a_folder_given_for_a_file_are_named(tiny_project: Path) -> None:
    (tiny_project / "eval.csv").unlink()
    (tiny_project / "eval.csv").mkdir()
    edit_config(tiny_project, "train: train.csv", "train: data/train.csv")
    assert problems_of(tiny_project) == [
        "data.train: data/train.csv: data file not found",
        "data.eval: eval.csv: is a folder, expected a CSV or Parquet file",
    ]


def test_a_column_the_config_names_but_a_file_lacks_is_named_with_the_file(tiny_project: Path) -> None:
    import pandas as pd

    frame = pd.read_csv(tiny_project / "eval.csv").drop(columns=["group"])
    frame.to_csv(tiny_project / "eval.csv", index=False)
    assert problems_of(tiny_project) == ["data.slices[0]: slice column 'group' not found in eval.csv"]


def test_config_validate_takes_the_file_as_an_argument(
    tiny_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "validate", str(tiny_project / "mlops.yaml")]) == 0
    out = capsys.readouterr().out
    assert "valid (model tiny, task binary" in out and "ok  data.eval: eval.csv: 5 columns" in out


def test_config_validate_fails_with_one_line_per_problem(
    tiny_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_config(tiny_project, "target: label", "target: outcome")
    assert main(["config", "validate", str(tiny_project / "mlops.yaml")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"mlops-actions: error: {tiny_project / 'mlops.yaml'}: data.target: target column 'outcome' not found in "
        "train.csv, eval.csv"
    ]


def test_raise_for_problems_is_a_config_error(tiny_project: Path) -> None:
    edit_config(tiny_project, "tiny_model:train_model", "tiny_model:fit")
    with pytest.raises(ConfigError):
        preflight(load_config(tiny_project / "mlops.yaml")).raise_for_problems()


def test_a_project_type_is_resolved_by_reading_its_module_never_by_running_it(tmp_path: Path) -> None:
    canary = tmp_path / "ran"
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text(f"open({str(canary)!r}, 'w').close()\n")
    (tmp_path / "pkg" / "features.py").write_text(
        f"open({str(canary)!r}, 'w').close()\nimport numpy as np\nclass Scaler:\n    pass\nRATE = 2\n"
    )
    assert resolve_type("pkg.features.Scaler", tmp_path) is None
    assert resolve_type("pkg.features.RATE", tmp_path) is None
    assert resolve_type("pkg.features.np", tmp_path) is None
    assert "module pkg.features has no Missing (looked in features.py)" in str(
        resolve_type("pkg.features.Missing", tmp_path)
    )
    assert not canary.exists()
