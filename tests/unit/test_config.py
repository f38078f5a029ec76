from __future__ import annotations

from pathlib import Path

import pytest

from mlops_actions.config import CONFIG_SCHEMA, load_config, parse_config
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
