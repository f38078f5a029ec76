"""The rows a model is trained and evaluated on: reading, checking the target, the deterministic split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.config import Config
from mlops_actions.data.io import fingerprint, read_table
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
    missing = int(frame[target].isna().sum())
    if missing:
        raise DataError(f"{source}: target column {target!r} has {missing} missing values, expected none")
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
    """Read the training and evaluation rows the config names, checking the target in both."""
    train_path = config.train_data
    train = read_table(train_path)
    check_target(train, train_path, config)
    fingerprints = {"train": fingerprint(train_path, train)}
    if config.eval_data is not None:
        evaluation = read_table(config.eval_data)
        check_target(evaluation, config.eval_data, config)
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
    return Datasets(train=train, eval=evaluation, fingerprints=fingerprints, split=split)
