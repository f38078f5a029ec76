"""The config means what it says: keys named twice, impossible thresholds, data paths out of the project,
a registry path that is a file, a fetch into an existing path. Each is one line, exit 2, nothing run or written."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.hostile.conftest import (
    assert_nothing_written,
    assert_one_line_error,
    assert_refused_before_training,
    run_cli,
    train_with_a_marker,
    tree_snapshot,
)


def _edit_config(project: Path, old: str, new: str) -> None:
    config = project / "mlops.yaml"
    text = config.read_text()
    assert old in text, old
    config.write_text(text.replace(old, new, 1))


def _rule(text: str) -> Callable[[Path], None]:
    """Replace the gate rule of the tiny config (roc_auc, min 0.6, allowed_change -0.01)."""
    rule = "    - metric: roc_auc\n      min: 0.6\n      allowed_change: -0.01\n"
    return lambda project: _edit_config(project, rule, textwrap.indent(textwrap.dedent(text), "    "))


def _data_key(key: str, value: str) -> Callable[[Path], None]:
    old = {"train": "train: train.csv", "eval": "eval: eval.csv"}.get(key)

    def edit(project: Path) -> None:
        if old:
            _edit_config(project, f"  {old}\n", f"  {key}: {value}\n")
        else:
            _edit_config(project, "  target: label\n", f"  target: label\n  {key}: {value}\n")

    return edit


def _outside_file(project: Path, name: str) -> Path:
    outside = project.parent / name
    outside.write_text((project / "eval.csv").read_text())
    return outside


def _eval_symlinked_out(project: Path) -> None:
    (project / "linked").mkdir()
    (project / "linked" / "eval.csv").symlink_to(_outside_file(project, "outside-eval.csv"))
    _edit_config(project, "  eval: eval.csv\n", "  eval: linked/eval.csv\n")


def _eval_absolute_out(project: Path) -> None:
    outside = _outside_file(project, "absolute-eval.csv")
    _edit_config(project, "  eval: eval.csv\n", f"  eval: {outside}\n")


def _schema_with_duplicate_key(project: Path) -> None:
    (project / "schema.yaml").write_text(
        "version: 1\ncolumns:\n  x1:\n    dtype: float\n    nullable: false\n    dtype: string\n"
    )
    _data_key("schema", "schema.yaml")(project)


def _registry_is_a_file(project: Path) -> None:
    (project / "registry-file").write_text("not a folder\n")
    _edit_config(project, "  path: .registry\n", "  path: registry-file\n")


@dataclass(frozen=True)
class Case:
    command: tuple[str, ...]
    prepare: Callable[[Path], None]
    contains: tuple[str, ...]


CASES: dict[str, Case] = {
    "duplicate-top-level-key": Case(
        ("config", "validate"),
        lambda p: _edit_config(p, "version: 1\n", "version: 1\nversion: 1\n"),
        ("mlops.yaml: duplicate key 'version' at lines 1 and 2",),
    ),
    "duplicate-key-in-a-rule": Case(
        ("train",),
        _rule("- metric: roc_auc\n  min: 0.6\n  allowed_change: -0.01\n  min: 0.1\n"),
        ("mlops.yaml: duplicate key 'gate.rules[0].min' at lines 21 and 23",),
    ),
    "duplicate-data-key-in-flow-style": Case(
        ("train",),
        lambda p: _edit_config(p, "  slices: [group]\n", "  slices: [group]\n  target: row_id\n"),
        ("mlops.yaml: duplicate key 'data.target' at lines 11 and 14",),
    ),
    "duplicate-key-in-the-schema-file": Case(
        ("train",),
        _schema_with_duplicate_key,
        ("schema.yaml: duplicate key 'columns.x1.dtype' at lines 4 and 6",),
    ),
    "auc-min-70": Case(
        ("train",),
        _rule("- metric: roc_auc\n  min: 70\n"),
        ("gate.rules[0].min: 70 is outside the range of roc_auc, expected a value in [0, 1]",),
    ),
    "log-loss-max-negative": Case(
        ("config", "validate"),
        _rule("- metric: log_loss\n  max: -1\n"),
        ("gate.rules[0].max: -1 is outside the range of log_loss, expected a value in [0, inf)",),
    ),
    "accuracy-min-1.5": Case(
        ("check",),
        _rule("- metric: accuracy\n  min: 1.5\n"),
        ("gate.rules[0].min: 1.5 is outside the range of accuracy, expected a value in [0, 1]",),
    ),
    "auc-change-beyond-range": Case(
        ("train",),
        _rule("- metric: roc_auc\n  allowed_change: -2\n"),
        ("gate.rules[0].allowed_change: -2 is larger than the whole range of roc_auc [0, 1]",),
    ),
    "min-above-max": Case(
        ("train",),
        _rule("- metric: brier\n  min: 0.3\n  max: 0.2\n"),
        ("gate.rules[0]: min 0.3 is above max 0.2, so no value passes; expected min <= max",),
    ),
    "nan-bound": Case(
        ("config", "validate"),
        _rule("- metric: roc_auc\n  min: .nan\n"),
        ("gate.rules[0].min: expected a finite number, got nan",),
    ),
    "target-listed-as-feature": Case(
        ("train",),
        _data_key("features", "[x1, x2, label]"),
        ("data.features[2]: the target column 'label' cannot be a feature",),
    ),
    "misspelt-drift-threshold": Case(
        ("check",),
        _data_key("drift_thresholds", "{psi_treshold: 0.3}"),
        ("data.drift_thresholds: unknown drift threshold 'psi_treshold', expected one of psi,",),
    ),
    "train-path-with-dotdot": Case(
        ("train",),
        lambda p: (_outside_file(p, "outside-train.csv"), _data_key("train", "../outside-train.csv")(p)),
        ("data.train: '../outside-train.csv' resolves outside the project folder", "allow_outside_project"),
    ),
    "eval-absolute-path": Case(
        ("check",),
        _eval_absolute_out,
        ("data.eval: ", "absolute-eval.csv' resolves outside the project folder"),
    ),
    "eval-symlink-out": Case(
        ("train",),
        _eval_symlinked_out,
        ("data.eval: 'linked/eval.csv' resolves outside the project folder", "outside-eval.csv"),
    ),
    "schema-path-out": Case(
        ("config", "validate"),
        _data_key("schema", "data/../../schema.yaml"),
        ("data.schema: 'data/../../schema.yaml' resolves outside the project folder",),
    ),
    "train-path-is-a-folder": Case(
        ("train",),
        lambda p: ((p / "data" / "train.csv").mkdir(parents=True), _data_key("train", "data/train.csv")(p)),
        ("data/train.csv: is a folder, expected a CSV or Parquet file",),
    ),
    "registry-path-is-a-file": Case(
        ("history",),
        _registry_is_a_file,
        ("mlops.yaml: registry.path: 'registry-file' is a file, expected a folder for the local registry",),
    ),
    "registry-path-is-a-file-before-check-trains": Case(
        ("check",),
        _registry_is_a_file,
        ("mlops.yaml: registry.path: 'registry-file' is a file, expected a folder for the local registry",),
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_a_config_that_cannot_mean_what_it_says_is_one_line_and_runs_nothing(
    tiny_project: Path, canary: Path, case: Case
) -> None:
    env = train_with_a_marker(tiny_project, canary)
    case.prepare(tiny_project)
    assert_refused_before_training(tiny_project, canary, case.command, case.contains, env=env)


def test_a_path_outside_the_project_is_used_when_the_config_allows_it(tiny_project: Path) -> None:
    _outside_file(tiny_project, "outside-eval.csv")
    _edit_config(
        tiny_project, "  eval: eval.csv\n", "  eval: ../outside-eval.csv\n  allow_outside_project: true\n"
    )
    run = run_cli(["config", "validate"], cwd=tiny_project)
    assert run.code == 0, run.stderr
    assert "valid (model tiny" in run.stdout


def test_the_tiny_config_these_cases_start_from_is_valid(tiny_project: Path) -> None:
    run = run_cli(["config", "validate"], cwd=tiny_project)
    assert run.code == 0, run.stderr


def test_a_registry_folder_from_the_environment_that_is_a_file_is_one_line(tiny_project: Path) -> None:
    (tiny_project / "registry-file").write_text("not a folder\n")
    before = tree_snapshot(tiny_project)
    run = run_cli(
        ["history"], cwd=tiny_project, env={"MLOPS_REGISTRY_PATH": str(tiny_project / "registry-file")}
    )
    assert_one_line_error(
        run,
        code=2,
        contains=[f"MLOPS_REGISTRY_PATH: {tiny_project / 'registry-file'} is a file, expected a folder"],
    )
    assert_nothing_written(before, tiny_project)


@pytest.mark.parametrize("existing", ["folder", "file"])
def test_fetch_into_an_existing_path_is_refused_and_leaves_it_alone(
    tiny_project: Path, existing: str
) -> None:
    destination = tiny_project / "deployed"
    if existing == "folder":
        destination.mkdir()
        (destination / "model.skops").write_bytes(b"the model in service")
    else:
        destination.write_bytes(b"a file in the way")
    before = tree_snapshot(tiny_project)
    run = run_cli(["fetch", "production", "-o", str(destination)], cwd=tiny_project)
    assert_one_line_error(
        run,
        code=2,
        contains=[
            f"{destination}: already exists (a {existing}), expected a new folder to fetch 'production'"
        ],
    )
    assert_nothing_written(before, tiny_project)
