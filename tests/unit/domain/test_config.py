from __future__ import annotations

from pathlib import Path

import pytest

from mlops_actions.domain.config import CONFIG_SCHEMA, load_config, parse_config
from mlops_actions.errors import ConfigError

MINIMAL = {
    "version": 1,
    "model": {"name": "credit", "task": "binary"},
    "train": {"entrypoint": "pkg.mod:fit"},
    "data": {"train": "train.csv", "target": "y"},
}


def problems_of(doc: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(doc, Path("mlops.yaml"))
    return caught.value.problems


def test_minimal_config_gets_task_defaults() -> None:
    config = parse_config(MINIMAL, Path("mlops.yaml"))
    assert config.primary_metric == "roc_auc"
    assert config.decision == "interval"
    assert config.rules[0].metric == "roc_auc" and config.rules[0].allowed_change == 0.0
    assert config.baseline_source == "auto" and config.registry_backend == "local"
    assert "log_loss" in config.metrics and "rmse" not in config.metrics


def test_regression_defaults_to_rmse() -> None:
    doc = {**MINIMAL, "model": {"name": "price", "task": "regression"}}
    config = parse_config(doc, Path("mlops.yaml"))
    assert config.primary_metric == "rmse"
    assert set(config.metrics) == {"rmse", "mae", "r2", "mape"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"version": 2}, "mlops.yaml: version: expected 1, got 2"),
        ({"model": {"name": "Bad Name", "task": "binary"}}, "model.name: 'Bad Name' does not match"),
        (
            {"model": {"name": "x", "task": "ranking"}},
            "model.task: expected one of binary, multiclass, regression",
        ),
        ({"metrics": {"primary": "rmse"}}, "metrics.primary: metric 'rmse' does not apply to task 'binary'"),
        ({"metrics": {"primary": "auc"}}, "metrics.primary: unknown metric 'auc', expected one of accuracy"),
        ({"train": {}}, "train: expected exactly one of 'command' or 'entrypoint'"),
        ({"train": {"command": "x", "entrypoint": "a:b"}}, "train: expected exactly one of"),
        ({"gate": {"decision": "vibes"}}, "gate.decision: expected one of interval, point, strict"),
        ({"gate": {"rules": [{"metric": "roc_auc"}]}}, "gate.rules[0]: expected at least one of min, max"),
        ({"gate": {"rules": [{"metric": "roc_auc", "min": "high"}]}}, "gate.rules[0].min: expected number"),
        ({"surprise": 1}, "(top level): unknown key 'surprise'"),
    ],
)
def test_invalid_config_names_key_and_expectation(change: dict, expected: str) -> None:
    problems = problems_of({**MINIMAL, **change})
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("mlops.yaml: ") for p in problems)


def test_missing_required_key_is_named() -> None:
    doc = {k: v for k, v in MINIMAL.items() if k != "data"}
    assert problems_of(doc) == ["mlops.yaml: data: required key is missing"]


def test_every_problem_gets_its_own_line() -> None:
    doc = {**MINIMAL, "gate": {"decision": "x", "resamples": 5}}
    assert len(problems_of(doc)) == 2


def test_malformed_yaml_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "mlops.yaml"
    path.write_text("version: 1\nmodel: {name: x, task: binary\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:") and "invalid YAML" in message
    assert "\n" not in message


def test_missing_config_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "mlops.yaml"
    path.parent.mkdir()
    path.write_text(
        "version: 1\nmodel: {name: x, task: binary}\ntrain: {command: 'true'}\n"
        "data: {train: data/t.csv, target: y, schema: data/schema.yaml}\n"
    )
    config = load_config(path)
    assert config.train_data == path.parent.resolve() / "data" / "t.csv"
    assert config.schema_path == path.parent.resolve() / "data" / "schema.yaml"


def test_schema_is_valid_json_schema() -> None:
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(CONFIG_SCHEMA)


def _with_rule(task: str, **rule: object) -> dict:
    return {**MINIMAL, "model": {"name": "m", "task": task}, "gate": {"rules": [rule]}}


@pytest.mark.parametrize(
    ("task", "rule", "expected"),
    [
        (
            "binary",
            {"metric": "roc_auc", "min": 70},
            "gate.rules[0].min: 70 is outside the range of roc_auc, expected a value in [0, 1]",
        ),
        (
            "binary",
            {"metric": "accuracy", "min": 1.5},
            "gate.rules[0].min: 1.5 is outside the range of accuracy, expected a value in [0, 1]",
        ),
        (
            "binary",
            {"metric": "log_loss", "max": -1},
            "gate.rules[0].max: -1 is outside the range of log_loss, expected a value in [0, inf)",
        ),
        (
            "binary",
            {"metric": "brier", "max": 1.5},
            "gate.rules[0].max: 1.5 is outside the range of brier, expected a value in [0, 1]",
        ),
        (
            "regression",
            {"metric": "r2", "min": 1.2},
            "gate.rules[0].min: 1.2 is outside the range of r2, expected a value in (-inf, 1]",
        ),
        (
            "binary",
            {"metric": "roc_auc", "allowed_change": -2},
            "gate.rules[0].allowed_change: -2 is larger than the whole range of roc_auc [0, 1], "
            "expected a change between -1 and 1",
        ),
        (
            "binary",
            {"metric": "f1", "allowed_change": 1.5},
            "gate.rules[0].allowed_change: 1.5 is larger than the whole range of f1",
        ),
        (
            "binary",
            {"metric": "roc_auc", "min": 0.9, "max": 0.8},
            "gate.rules[0]: min 0.9 is above max 0.8, so no value passes; expected min <= max",
        ),
        (
            "binary",
            {"metric": "accuracy", "allowed_change_relative": -1.5},
            "gate.rules[0].allowed_change_relative: -1.5 accepts any value of accuracy",
        ),
        (
            "regression",
            {"metric": "rmse", "allowed_change_relative": 1.5},
            "gate.rules[0].allowed_change_relative: 1.5 asks rmse to fall below 0, expected a value of at most 1",
        ),
        (
            "binary",
            {"metric": "roc_auc", "min": float("nan")},
            "gate.rules[0].min: expected a finite number, got nan",
        ),
        (
            "regression",
            {"metric": "mae", "max": float("inf")},
            "gate.rules[0].max: expected a finite number, got inf",
        ),
    ],
    ids=[
        "auc-min-70",
        "accuracy-min-1.5",
        "log-loss-max-negative",
        "binary-brier-above-1",
        "r2-above-1",
        "auc-change-beyond-range",
        "f1-demanded-gain-beyond-range",
        "min-above-max",
        "relative-drop-beyond-100pct",
        "relative-gain-below-zero",
        "nan-bound",
        "inf-bound",
    ],
)
def test_a_threshold_no_value_of_the_metric_can_meet_or_miss_is_a_config_error(
    task: str, rule: dict, expected: str
) -> None:
    problems = problems_of(_with_rule(task, **rule))
    assert len(problems) == 1 and problems[0].startswith(f"mlops.yaml: {expected}"), problems


@pytest.mark.parametrize(
    ("task", "rule"),
    [
        ("binary", {"metric": "roc_auc", "min": 0, "max": 1, "allowed_change": -1}),
        ("binary", {"metric": "log_loss", "max": 25.0, "allowed_change": -3}),
        ("multiclass", {"metric": "brier", "max": 1.5}),
        ("regression", {"metric": "r2", "min": -4.0, "allowed_change_relative": -3}),
        ("regression", {"metric": "mape", "allowed_change_relative": 0.5}),
        ("binary", {"metric": "accuracy", "allowed_change_relative": 2}),
    ],
    ids=["auc-full-range", "log-loss-unbounded", "multiclass-brier-up-to-2", "r2-negative", "mape", "gain"],
)
def test_thresholds_inside_the_metric_range_are_accepted(task: str, rule: dict) -> None:
    config = parse_config(_with_rule(task, **rule), Path("mlops.yaml"))
    assert config.rules[0].metric == rule["metric"]


def test_the_target_or_id_listed_as_a_feature_is_a_config_error() -> None:
    doc = {**MINIMAL, "data": {**MINIMAL["data"], "id": "key", "features": ["a", "y", "key"]}}
    assert problems_of(doc) == [
        "mlops.yaml: data.features[1]: the target column 'y' cannot be a feature",
        "mlops.yaml: data.features[2]: the id column 'key' cannot be a feature",
    ]


@pytest.mark.parametrize(
    ("key", "value"),
    [("train", "../outside.csv"), ("eval", "/etc/passwd"), ("schema", "data/../../schema.yaml")],
)
def test_a_data_path_outside_the_config_folder_is_refused_unless_allowed(
    tmp_path: Path, key: str, value: str
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    doc = {**MINIMAL, "data": {**MINIMAL["data"], key: value}}
    with pytest.raises(ConfigError) as caught:
        parse_config(doc, project / "mlops.yaml")
    [problem] = caught.value.problems
    assert f"data.{key}: {value!r} resolves outside the project folder {project}" in problem
    assert "set data.allow_outside_project: true to allow it" in problem
    allowed = {**doc, "data": {**doc["data"], "allow_outside_project": True}}
    assert parse_config(allowed, project / "mlops.yaml").root == project


def test_a_symlink_out_of_the_project_is_a_path_outside_it(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (tmp_path / "elsewhere.csv").write_text("y\n1\n")
    (project / "data" / "train.csv").symlink_to(tmp_path / "elsewhere.csv")
    doc = {**MINIMAL, "data": {**MINIMAL["data"], "train": "data/train.csv"}}
    with pytest.raises(
        ConfigError, match=r"data.train: 'data/train.csv' resolves outside the project folder"
    ):
        parse_config(doc, project / "mlops.yaml")


def test_a_config_with_a_key_named_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "mlops.yaml"
    path.write_text(
        "version: 1\nmodel: {name: m, task: binary}\ntrain: {entrypoint: 'a:b'}\n"
        "data: {train: t.csv, target: y}\ngate:\n  rules:\n    - metric: roc_auc\n      min: 0.7\n"
        "      allowed_change: 0\n      min: 0.1\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [f"{path}: duplicate key 'gate.rules[0].min' at lines 8 and 10"]


def problems_of_at(doc: object, folder: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(doc, folder / "mlops.yaml")
    return caught.value.problems


def test_a_local_registry_path_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "registry").write_text("")
    doc = {**MINIMAL, "registry": {"backend": "local", "path": "registry"}}
    assert problems_of_at(doc, tmp_path) == [
        f"{tmp_path / 'mlops.yaml'}: registry.path: 'registry' is a file, expected a folder for the local registry"
    ]
    (tmp_path / "registry").unlink()
    (tmp_path / "registry").mkdir()
    assert parse_config(doc, tmp_path / "mlops.yaml").registry_options["path"] == "registry"


def test_drift_thresholds_are_checked_with_the_config_not_after_training() -> None:
    doc = {**MINIMAL, "data": {**MINIMAL["data"], "drift_thresholds": {"psi": -1, "psii": 0.1}}}
    assert problems_of(doc) == [
        "mlops.yaml: data.drift_thresholds: drift threshold 'psi' must be a non-negative number, got -1"
    ]
    doc["data"]["drift_thresholds"] = {"psi": 0.3}
    assert parse_config(doc, Path("mlops.yaml")).drift_thresholds == {"psi": 0.3}


@pytest.mark.parametrize(
    ("repeats", "expected"),
    [
        (0, "mlops.yaml: gate.repeats: 0 is less than the minimum of 1"),
        ("two", "mlops.yaml: gate.repeats: expected integer, got str 'two'"),
        (11, "mlops.yaml: gate.repeats: 11 is greater than the maximum of 10"),
    ],
)
def test_gate_repeats_must_be_a_whole_number_of_repetitions_from_1_to_10(
    repeats: object, expected: str
) -> None:
    assert problems_of({**MINIMAL, "gate": {"evaluation": "cross_fit", "repeats": repeats}}) == [expected]


def test_cross_fitting_repeats_twice_unless_gate_repeats_says_otherwise() -> None:
    assert parse_config({**MINIMAL, "gate": {"evaluation": "cross_fit"}}, Path("mlops.yaml")).repeats == 2
    once = {**MINIMAL, "gate": {"evaluation": "cross_fit", "repeats": 1}}
    assert parse_config(once, Path("mlops.yaml")).repeats == 1
