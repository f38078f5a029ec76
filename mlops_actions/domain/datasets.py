"""The rows a model is trained and evaluated on: reading, checking the target, the deterministic split."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.domain.config import Config
from mlops_actions.domain.data.io import fingerprint, read_table
from mlops_actions.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass
class Datasets:
    train: pd.DataFrame
    eval: pd.DataFrame
    fingerprints: dict[str, dict[str, Any]]  # role -> fingerprint of the file it came from
    split: str | None  # how eval rows were chosen when split from the training file


def check_target(frame: pd.DataFrame, source: Path | str, config: Config) -> None:
    """The target column exists, has no missing values, and suits the task."""
    target = config.target
    if target not in frame.columns:
        raise DataError(
            f"{source}: target column {target!r} not found (data.target), columns are: "
            f"{', '.join(map(str, frame.columns[:20]))}"
        )
    missing_rows = frame[target].isna().to_numpy().nonzero()[0]
    if len(missing_rows):
        raise DataError(
            f"{source}: target column {target!r} has {len(missing_rows)} missing "
            f"{'value' if len(missing_rows) == 1 else 'values'} "
            f"(first at {_row_name(frame, missing_rows[0], config)}), expected none"
        )
    if config.task == "regression":
        import pandas as pd

        if not pd.api.types.is_numeric_dtype(frame[target]):
            raise DataError(f"{source}: target column {target!r} must be numeric for task 'regression'")
    else:
        classes = frame[target].nunique()
        if config.task == "binary" and classes > 2:
            raise DataError(
                f"{source}: target column {target!r} has {classes} classes, expected 2 for task 'binary'"
            )


NUMERIC_SCHEMA_DTYPES = ("int", "float")
OTHERWISE_NUMERIC_SHARE = 0.9  # a text column whose values are numbers but for a few is a numeric column


def _row_name(frame: pd.DataFrame, position: int, config: Config) -> str:
    """'row 17' (1-based data row of the file), with the row's id when data.id names one."""
    name = f"row {position + 1}"
    if config.id_column and config.id_column in frame.columns:
        name += f" ({config.id_column} {frame[config.id_column].iloc[position]})"
    return name


def _as_numbers(values: pd.Series) -> pd.Series:
    import pandas as pd

    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return pd.to_numeric(values.astype(object), errors="coerce")
    return values.astype(float)


def numeric_columns(config: Config, train: pd.DataFrame, train_source: Path | str) -> dict[str, str]:
    """The columns whose values must be numbers, each with where that comes from.

    From the data schema when the config names one (dtype int or float); otherwise the columns of the
    training data that are numeric, or whose non-missing values are numbers but for a few.
    """
    import pandas as pd

    if config.schema_path is not None:
        from mlops_actions.domain.data.schema import load_schema

        schema = load_schema(config.schema_path)
        return {
            name: f"the schema {config.schema_path}"
            for name, column in schema.columns.items()
            if column.dtype in NUMERIC_SCHEMA_DTYPES
        }
    found: dict[str, str] = {}
    for name in train.columns:
        values = train[name]
        if pd.api.types.is_bool_dtype(values):
            continue
        if not pd.api.types.is_numeric_dtype(values):
            present = values.dropna()
            parsed = int(_as_numbers(present).notna().sum())
            if not len(present) or parsed < OTHERWISE_NUMERIC_SHARE * len(present):
                continue
        found[str(name)] = str(train_source)
    return found


def check_values(frame: pd.DataFrame, source: Path | str, config: Config, numeric: Mapping[str, str]) -> None:
    """Every number the estimator will see is one: features and target hold no text in a numeric column and
    no inf; a DataError names the file, column, row and value."""
    import numpy as np
    import pandas as pd

    checked = [c for c in [*feature_columns(frame, config, source), config.target] if c in frame.columns]
    for column in dict.fromkeys(checked):
        values = frame[column]
        stored_as_numbers = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if column not in numeric and not stored_as_numbers:
            continue
        numbers = _as_numbers(values)
        not_numbers = (values.notna() & numbers.isna()).to_numpy().nonzero()[0]
        if len(not_numbers):
            row = not_numbers[0]
            raise DataError(
                f"{source}: column {column!r} {_row_name(frame, row, config)}: value "
                f"{str(values.iloc[row])!r} is not a number (the column is numeric in {numeric[column]})"
            )
        infinite = np.isinf(numbers.to_numpy(dtype=float, na_value=np.nan)).nonzero()[0]
        if len(infinite):
            row = infinite[0]
            raise DataError(
                f"{source}: column {column!r} {_row_name(frame, row, config)}: value {str(values.iloc[row])!r} "
                "is not a finite number, expected finite values in features and target"
            )


def check_unique_ids(frame: pd.DataFrame, source: Path | str, config: Config) -> None:
    """Every evaluation row has an id (data.id) and no id is used twice: rows are paired by id."""
    column = config.id_column
    if not column or column not in frame.columns:
        return
    ids = frame[column]
    missing = ids.isna().to_numpy().nonzero()[0]
    if len(missing):
        raise DataError(
            f"{source}: id column {column!r} (data.id) row {missing[0] + 1}: value is missing, "
            "expected an id in every row"
        )
    repeated = ids.duplicated(keep=False).to_numpy().nonzero()[0]
    if len(repeated):
        first = repeated[0]
        second = next(r for r in repeated[1:] if ids.iloc[r] == ids.iloc[first])
        raise DataError(
            f"{source}: id column {column!r} (data.id) value {str(ids.iloc[first])!r} is in rows {first + 1} "
            f"and {second + 1}, expected each id once"
        )


def check_training_classes(frame: pd.DataFrame, source: Path | str, config: Config) -> None:
    """A classifier needs at least two classes in the rows it is trained on."""
    if not config.is_classification:
        return
    classes = frame[config.target].dropna().unique()
    if len(classes) < 2:
        shown = ", ".join(repr(c.item() if hasattr(c, "item") else c) for c in classes) or "none"
        raise DataError(
            f"{source}: target column {config.target!r} has a single class ({shown}) in the training rows, "
            f"expected at least 2 for task {config.task!r}"
        )


def check_rows(
    frame: pd.DataFrame,
    source: Path | str,
    config: Config,
    numeric: Mapping[str, str],
    *,
    evaluation: bool,
) -> None:
    """Every check of a data file's rows made before an estimator sees them (train, check, evaluate, release):
    the target, numbers in numeric columns, finite values, and unique ids in evaluation rows."""
    check_values(frame, source, config, numeric)
    check_target(frame, source, config)
    if evaluation:
        check_unique_ids(frame, source, config)


def check_rows_to_score(frame: pd.DataFrame, source: Path | str, config: Config) -> None:
    """``check_rows`` for evaluation rows given on their own (evaluate --data), numeric columns as for training."""
    numeric = numeric_columns(config, read_table(config.train_data), config.train_data)
    check_rows(frame, source, config, numeric, evaluation=True)


def feature_columns(frame: pd.DataFrame, config: Config, source: Path | str) -> list[str]:
    """The configured features (data.features), or every column but the target and the id."""
    if config.features is not None:
        missing = [c for c in config.features if c not in frame.columns]
        if missing:
            raise DataError(f"{source}: feature columns not found (data.features): {', '.join(missing)}")
        return list(config.features)
    excluded = {config.target, config.id_column}
    return [str(c) for c in frame.columns if c not in excluded]


def row_keys(frame: pd.DataFrame, config: Config) -> np.ndarray:
    """A stable key per row: the id column when configured, else the row's position."""
    import numpy as np

    if config.id_column:
        if config.id_column not in frame.columns:
            raise DataError(f"id column {config.id_column!r} not found (data.id)")
        return frame[config.id_column].astype(str).to_numpy(dtype=np.str_)
    return np.arange(len(frame)).astype(np.str_)


def hash_split_mask(frame: pd.DataFrame, config: Config) -> np.ndarray:
    """True for eval rows: a seeded hash of the id (or the whole row) below data.split.eval_fraction."""
    import numpy as np
    import pandas as pd

    key = f"{config.split_seed:016d}"[-16:]
    if config.id_column and config.id_column in frame.columns:
        hashed = pd.util.hash_pandas_object(frame[config.id_column].astype(str), index=False, hash_key=key)
    else:
        hashed = pd.util.hash_pandas_object(frame, index=False, hash_key=key)
    unit = hashed.to_numpy(dtype=np.uint64) / float(2**64)
    return np.asarray(unit < config.split_fraction)


def load_datasets(config: Config) -> Datasets:
    """Read the training and evaluation rows the config names; ``check_rows`` refuses bad rows in either."""
    train_path = config.train_data
    train = read_table(train_path)
    numeric = numeric_columns(config, train, train_path)
    check_rows(train, train_path, config, numeric, evaluation=config.eval_data is None)
    fingerprints = {"train": fingerprint(train_path, train)}
    if config.eval_data is not None:
        evaluation = read_table(config.eval_data)
        check_rows(evaluation, config.eval_data, config, numeric, evaluation=True)
        fingerprints["eval"] = fingerprint(config.eval_data, evaluation)
        split = None
    else:
        mask = hash_split_mask(train, config)
        evaluation = train[mask].reset_index(drop=True)
        train = train[~mask].reset_index(drop=True)
        if evaluation.empty or train.empty:
            raise DataError(
                f"{train_path}: data.split.eval_fraction {config.split_fraction} leaves no "
                f"{'eval' if evaluation.empty else 'training'} rows"
            )
        split = f"hash of {config.id_column or 'row content'}, seed {config.split_seed}, eval fraction {config.split_fraction}"
    if config.id_column and config.id_column not in evaluation.columns:
        raise DataError(
            f"{config.eval_data or train_path}: id column {config.id_column!r} not found (data.id)"
        )
    for column in config.slices:
        if column not in evaluation.columns:
            raise DataError(
                f"{config.eval_data or train_path}: slice column {column!r} not found (data.slices)"
            )
    check_training_classes(train, train_path, config)
    return Datasets(train=train, eval=evaluation, fingerprints=fingerprints, split=split)
