"""Data the estimator must never see: text in a numeric column, infinities, a one-class or missing target,
duplicate or missing ids. Each is refused before training with one line naming the file, column, row and value,
exit 2, and nothing written."""

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

SCHEMA = textwrap.dedent(
    """\
    version: 1
    columns:
      row_id: {dtype: int, role: id}
      x1: {dtype: float}
      x2: {dtype: float}
      group: {dtype: category, categories: [a, b, c]}
      label: {dtype: int, role: target}
    """
)

EVAL_FIRST_ID = 600  # write_tiny_data numbers the eval rows on from the 600 training rows


def _set_cells(file: str, column: str, values: dict[int, str]) -> Callable[[Path], None]:
    """Overwrite cells of a data file, by 1-based data row, keeping every other cell's text as it was."""

    def edit(project: Path) -> None:
        import pandas as pd

        path = project / file
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        for row, value in values.items():
            frame.loc[row - 1, column] = value
        frame.to_csv(path, index=False)

    return edit


def _one_class_target(project: Path) -> None:
    import pandas as pd

    path = project / "train.csv"
    frame = pd.read_csv(path)
    frame["label"] = 1
    frame.to_csv(path, index=False)


def _edit_config(project: Path, old: str, new: str) -> None:
    config = project / "mlops.yaml"
    text = config.read_text()
    assert old in text, old
    config.write_text(text.replace(old, new, 1))


def _with_schema(edit: Callable[[Path], None]) -> Callable[[Path], None]:
    def prepare(project: Path) -> None:
        (project / "schema.yaml").write_text(SCHEMA)
        _edit_config(project, "  target: label\n", "  target: label\n  schema: schema.yaml\n")
        edit(project)

    return prepare


def _split_instead_of_eval(edit: Callable[[Path], None]) -> Callable[[Path], None]:
    def prepare(project: Path) -> None:
        _edit_config(project, "  eval: eval.csv\n", "  split: {eval_fraction: 0.25}\n")
        edit(project)

    return prepare


@dataclass(frozen=True)
class Case:
    command: str
    prepare: Callable[[Path], None]
    contains: tuple[str, ...]


CASES: dict[str, Case] = {
    "decimal-comma-in-eval": Case(
        "train",
        _set_cells("eval.csv", "x1", {17: "12,5"}),
        (
            f"eval.csv: column 'x1' row 17 (row_id {EVAL_FIRST_ID + 16}): value '12,5' is not a number "
            "(the column is numeric in ",
            "train.csv)",
        ),
    ),
    "word-in-an-otherwise-numeric-training-column": Case(
        "train",
        _set_cells("train.csv", "x2", {5: "abc"}),
        ("train.csv: column 'x2' row 5 (row_id 4): value 'abc' is not a number (the column is numeric in ",),
    ),
    "text-in-a-column-the-schema-says-is-numeric": Case(
        "train",
        _with_schema(_set_cells("eval.csv", "x1", {2: "twelve"})),
        (
            f"eval.csv: column 'x1' row 2 (row_id {EVAL_FIRST_ID + 1}): value 'twelve' is not a number "
            "(the column is numeric in the schema ",
            "schema.yaml)",
        ),
    ),
    "inf-in-an-eval-feature": Case(
        "train",
        _set_cells("eval.csv", "x1", {3: "inf"}),
        (f"eval.csv: column 'x1' row 3 (row_id {EVAL_FIRST_ID + 2}): value 'inf' is not a finite number",),
    ),
    "minus-inf-in-a-training-feature": Case(
        "check",
        _set_cells("train.csv", "x2", {8: "-inf"}),
        ("train.csv: column 'x2' row 8 (row_id 7): value '-inf' is not a finite number",),
    ),
    "inf-in-the-target": Case(
        "train",
        _set_cells("train.csv", "label", {2: "inf"}),
        ("train.csv: column 'label' row 2 (row_id 1): value 'inf' is not a finite number",),
    ),
    "one-class-target": Case(
        "train",
        _one_class_target,
        (
            "train.csv: target column 'label' has a single class (1) in the training rows, "
            "expected at least 2 for task 'binary'",
        ),
    ),
    "empty-target-in-eval": Case(
        "check",
        _set_cells("eval.csv", "label", {9: ""}),
        (
            f"eval.csv: target column 'label' has 1 missing value (first at row 9 (row_id {EVAL_FIRST_ID + 8})), "
            "expected none",
        ),
    ),
    "missing-marker-target-in-train": Case(
        "train",
        _set_cells("train.csv", "label", {30: "n/a", 31: "NaN"}),
        (
            "train.csv: target column 'label' has 2 missing values (first at row 30 (row_id 29)), expected none",
        ),
    ),
    "duplicate-ids-in-eval": Case(
        "train",
        _set_cells("eval.csv", "row_id", {10: str(EVAL_FIRST_ID + 3)}),
        (
            f"eval.csv: id column 'row_id' (data.id) value '{EVAL_FIRST_ID + 3}' is in rows 4 and 10, "
            "expected each id once",
        ),
    ),
    "missing-id-in-eval": Case(
        "check",
        _set_cells("eval.csv", "row_id", {6: ""}),
        ("eval.csv: id column 'row_id' (data.id) row 6: value is missing, expected an id in every row",),
    ),
    "duplicate-ids-in-the-file-split-into-eval": Case(
        "train",
        _split_instead_of_eval(_set_cells("train.csv", "row_id", {3: "0"})),
        ("train.csv: id column 'row_id' (data.id) value '0' is in rows 1 and 3, expected each id once",),
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_rows_are_refused_before_the_estimator_sees_them(
    tiny_project: Path, canary: Path, case: Case
) -> None:
    env = train_with_a_marker(tiny_project, canary)
    case.prepare(tiny_project)
    assert_refused_before_training(tiny_project, canary, [case.command], case.contains, env=env)


def test_evaluate_on_a_given_file_checks_its_rows_like_training_does(tiny_project: Path) -> None:
    trained = run_cli(["train", "-o", "model"], cwd=tiny_project)
    assert trained.code == 0, trained.stderr
    _set_cells("eval.csv", "x2", {12: "1.2.3"})(tiny_project)
    before = tree_snapshot(tiny_project)
    run = run_cli(["evaluate", "-m", "model", "-d", "eval.csv", "-o", "scored"], cwd=tiny_project)
    assert_one_line_error(
        run,
        code=2,
        contains=[
            f"eval.csv: column 'x2' row 12 (row_id {EVAL_FIRST_ID + 11}): value '1.2.3' is not a number",
            "(the column is numeric in ",
        ],
    )
    assert not (tiny_project / "scored").exists()
    assert_nothing_written(before, tiny_project)
