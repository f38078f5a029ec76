"""Which files are a model's inputs, which models a change touched, and which configs a pattern names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops_actions.domain.changes import (
    NO_BASE,
    expand_configs,
    glob_match,
    model_inputs,
    plan_models,
    read_plan,
    skipped_entries,
)
from mlops_actions.domain.config import Config, parse_config
from mlops_actions.errors import ConfigError, UsageError


def write_config(folder: Path, name: str, **sections: Any) -> Config:
    """A config named ``name`` in ``folder`` (its data files created), parsed."""
    doc: dict[str, Any] = {
        "version": 1,
        "model": {"name": name, "task": "binary"},
        "train": {"entrypoint": "train:fit"},
        "data": {"train": "data/train.csv", "target": "y"},
    }
    doc.update(sections)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mlops.yaml").write_text(json.dumps(doc), encoding="utf-8")
    return parse_config(doc, folder / "mlops.yaml")


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("models/a/**", "models/a/train.py", True),
        ("models/a/**", "models/a/data/deep/x.csv", True),
        ("models/a/**", "models/ab/train.py", False),
        ("**/features.py", "features.py", True),
        ("**/features.py", "lib/shared/features.py", True),
        ("src/**/util.py", "src/util.py", True),
        ("src/**/util.py", "src/a/b/util.py", True),
        ("src/*.py", "src/a/util.py", False),
        ("src/*.py", "src/util.py", True),
        ("data/train-?.csv", "data/train-1.csv", True),
        ("data/train-?.csv", "data/train-12.csv", False),
        ("data/[ab].csv", "data/a.csv", True),
        ("data/[!ab].csv", "data/c.csv", True),
        ("data/[!ab].csv", "data/a.csv", False),
        ("shared/", "shared/x/y.py", True),
        ("mlops.yaml", "mlops.yaml", True),
        ("mlops.yaml", "models/a/mlops.yaml", False),
        ("a+b(c).csv", "a+b(c).csv", True),
    ],
)
def test_globs_match_within_a_segment_and_double_stars_across_any_number(pattern, path, matches) -> None:
    assert glob_match(pattern, path) is matches


def test_a_models_inputs_are_its_config_the_paths_it_names_and_its_watch_globs(tmp_path: Path) -> None:
    folder = tmp_path / "models" / "a"
    (folder / "tests").mkdir(parents=True)
    (folder / "train.py").write_text("", encoding="utf-8")
    (folder / "deploy.sh").write_text("", encoding="utf-8")
    config = write_config(
        folder,
        "a",
        data={
            "train": "data/train.csv",
            "eval": "data/eval.csv",
            "schema": "data/schema.yaml",
            "target": "y",
        },
        tests={"command": "python -m pytest -q tests --junitxml {junit}"},
        deploy={"command": "sh deploy.sh {version}"},
        watch=["../../lib/features/**", "requirements.txt"],
    )
    assert model_inputs(config, tmp_path) == [
        "models/a/mlops.yaml",
        "models/a/data/train.csv",
        "models/a/data/eval.csv",
        "models/a/data/schema.yaml",
        "models/a/train.py",
        "models/a/tests/**",
        "models/a/deploy.sh",
        "lib/features/**",
        "models/a/requirements.txt",
    ]


def test_without_a_repository_root_the_inputs_are_relative_to_the_configs_folder(tmp_path: Path) -> None:
    config = write_config(tmp_path, "a")
    assert model_inputs(config) == ["mlops.yaml", "data/train.csv", "train.py"]


def test_a_train_command_names_its_script_and_a_python_m_module_its_package(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "fit.py").write_text("", encoding="utf-8")
    script = write_config(tmp_path, "a", train={"command": "python scripts/fit.py --out {model}"})
    module = write_config(tmp_path, "a", train={"command": "python -m pkg.fit --out={model}"})
    assert "scripts/fit.py" in model_inputs(script)
    assert "pkg/**" in model_inputs(module)


def test_a_data_folder_counts_with_everything_under_it_and_a_uri_counts_as_nothing(tmp_path: Path) -> None:
    (tmp_path / "data" / "parts").mkdir(parents=True)
    config = write_config(
        tmp_path, "a", data={"train": "data/parts", "eval": "s3://bucket/eval.csv", "target": "y"}
    )
    inputs = model_inputs(config)
    assert "data/parts/**" in inputs
    assert not [glob for glob in inputs if "bucket" in glob]


def test_a_change_to_data_outside_the_config_folder_marks_the_model_changed(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "models" / "a",
        "a",
        data={"train": "../../shared/train.csv", "target": "y", "allow_outside_project": True},
    )
    [plan] = plan_models([config], ["shared/train.csv"], tmp_path)
    assert plan.changed and plan.reason == "changed: shared/train.csv"
    assert plan.config == "models/a/mlops.yaml"


def test_only_the_model_whose_inputs_changed_is_changed_the_other_says_what_it_watched(
    tmp_path: Path,
) -> None:
    a = write_config(tmp_path / "models" / "a", "a")
    b = write_config(tmp_path / "models" / "b", "b", watch=["features/**"])
    plans = plan_models([a, b], ["models/a/data/train.csv", "README.md"], tmp_path)
    assert [(plan.model, plan.changed) for plan in plans] == [("a", True), ("b", False)]
    assert plans[0].reason == "changed: models/a/data/train.csv"
    assert plans[1].reason == (
        "no input changed: models/b/mlops.yaml, models/b/data/train.csv, models/b/train.py, models/b/features/**"
    )


def test_a_watch_glob_marks_the_model_changed(tmp_path: Path) -> None:
    config = write_config(tmp_path, "a", watch=["lib/**/*.py"])
    [plan] = plan_models([config], ["lib/deep/util.py"], tmp_path)
    assert plan.changed and plan.reason == "changed: lib/deep/util.py"


def test_a_renamed_input_counts_by_its_old_path_too(tmp_path: Path) -> None:
    config = write_config(tmp_path / "models" / "a", "a")
    # a rename listed as both paths (git diff --no-renames): the file left the model's folder
    [plan] = plan_models([config], ["archive/train.py", "models/a/train.py"], tmp_path)
    assert plan.changed and plan.reason == "changed: models/a/train.py"


def test_the_reason_names_a_few_changed_files_and_counts_the_rest(tmp_path: Path) -> None:
    config = write_config(tmp_path, "a", watch=["src/**"])
    changed = [f"src/{index}.py" for index in range(5)]
    [plan] = plan_models([config], changed, tmp_path)
    assert plan.reason == "changed: src/0.py, src/1.py, src/2.py, and 2 more"


def test_without_a_base_every_model_is_changed(tmp_path: Path) -> None:
    a = write_config(tmp_path / "a", "a")
    b = write_config(tmp_path / "b", "b")
    plans = plan_models([a, b], None, tmp_path)
    assert all(plan.changed and plan.reason == NO_BASE for plan in plans)


def test_two_configs_of_one_model_name_are_an_error_naming_both_files(tmp_path: Path) -> None:
    a = write_config(tmp_path / "models" / "a", "churn")
    b = write_config(tmp_path / "models" / "b", "churn")
    with pytest.raises(ConfigError) as caught:
        plan_models([a, b], None, tmp_path)
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    assert "models/a/mlops.yaml" in message and "models/b/mlops.yaml" in message


def test_the_config_path_is_relative_to_the_folder_the_jobs_run_in(tmp_path: Path) -> None:
    config = write_config(tmp_path / "project" / "models" / "a", "a")
    [plan] = plan_models([config], ["project/models/a/train.py"], tmp_path, cwd=tmp_path / "project")
    assert plan.config == "models/a/mlops.yaml" and plan.changed


def make_configs(root: Path, *relative: str) -> None:
    for path in relative:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("", encoding="utf-8")


def test_patterns_come_as_several_arguments_or_one_whitespace_separated_string(tmp_path: Path) -> None:
    make_configs(tmp_path, "models/b/mlops.yaml", "models/a/mlops.yaml", "mlops.yaml")
    expected = [tmp_path / "mlops.yaml", tmp_path / "models/a/mlops.yaml", tmp_path / "models/b/mlops.yaml"]
    assert expand_configs(["models/*/mlops.yaml", "mlops.yaml"], tmp_path) == expected
    assert expand_configs(["models/*/mlops.yaml\nmlops.yaml  models/a/mlops.yaml"], tmp_path) == expected


def test_no_pattern_means_the_mlops_yaml_of_the_current_folder(tmp_path: Path) -> None:
    make_configs(tmp_path, "mlops.yaml")
    assert expand_configs([], tmp_path) == [tmp_path / "mlops.yaml"]
    assert expand_configs([""], tmp_path) == [tmp_path / "mlops.yaml"]


def test_double_star_patterns_find_configs_at_any_depth(tmp_path: Path) -> None:
    make_configs(tmp_path, "a/mlops.yaml", "teams/x/b/mlops.yaml")
    assert expand_configs(["**/mlops.yaml"], tmp_path) == [
        tmp_path / "a/mlops.yaml",
        tmp_path / "teams/x/b/mlops.yaml",
    ]


@pytest.mark.parametrize("pattern", ["models/*/mlops.yaml", "missing.yaml"])
def test_a_pattern_that_names_no_file_is_a_one_line_error_naming_it(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(UsageError) as caught:
        expand_configs([pattern], tmp_path)
    assert pattern in str(caught.value) and len(str(caught.value).splitlines()) == 1
    assert caught.value.exit_code == 2


def test_a_plan_file_gives_its_skipped_models(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    skipped = [{"config": "models/b/mlops.yaml", "model": "b", "reason": "no input changed: models/b/**"}]
    plan.write_text(
        json.dumps({"models": [], "matrix": {"include": []}, "skipped": skipped}), encoding="utf-8"
    )
    assert read_plan(plan) == skipped


@pytest.mark.parametrize("text", ["not json", "[]", '{"skipped": [{"model": "b"}]}'])
def test_a_plan_file_that_is_not_a_plan_is_a_one_line_error_naming_it(tmp_path: Path, text: str) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        read_plan(plan)
    assert str(plan) in str(caught.value) and len(str(caught.value).splitlines()) == 1


def test_the_checked_model_is_never_listed_among_the_skipped() -> None:
    skipped = [{"model": "a", "reason": "r"}, {"model": "b", "reason": "r"}]
    assert skipped_entries(skipped, "a") == {"skipped_models": [{"model": "b", "reason": "r"}]}
    assert skipped_entries([{"model": "a", "reason": "r"}], "a") == {}
