"""`mlops-actions doctor`: the checks before training, then a trial training on a sample of rows whose model is
loaded back through the safe loader, and what that model needs trusted."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from mlops_actions.domain.config import Config
from mlops_actions.errors import MlopsError
from mlops_actions.stages.preflight import Preflight, preflight

SAMPLE_ROWS = 400


@dataclass(frozen=True)
class NeededType:
    """A type the trial model holds beyond what skops trusts by itself, and who trusts it."""

    name: str
    trusted_by: str  # "train.trusted_types" or "stock scikit-learn list"


@dataclass(frozen=True)
class DoctorReport:
    preflight: Preflight
    sample_rows: int = 0
    train_seconds: float | None = None
    needed_types: tuple[NeededType, ...] = ()
    problem: str | None = None  # why the trial training or loading failed, one line

    @property
    def healthy(self) -> bool:
        return not self.preflight.problems and self.problem is None


def _sample(frame: object, config: Config, rows: int) -> object:
    """The first rows, keeping every class of a classification target present."""
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    if not config.is_classification or config.target not in frame.columns:
        return frame.head(rows)
    per_class = max(rows // max(frame[config.target].nunique(), 1), 20)
    return frame.groupby(config.target, group_keys=False, sort=False).head(per_class).sort_index()


def _needed_types(model_file: Path, config: Config) -> tuple[NeededType, ...]:
    import skops.io as sio

    from mlops_actions.domain.trusted_defaults import STOCK_TRUSTED_TYPES

    # the model loaded back, so every type it holds is trusted by one of the two
    return tuple(
        NeededType(name, "stock scikit-learn list" if name in STOCK_TRUSTED_TYPES else "train.trusted_types")
        for name in sorted(sio.get_untrusted_types(file=model_file))
    )


def run_doctor(config: Config, *, sample_rows: int = SAMPLE_ROWS) -> DoctorReport:
    """Preflight, then train on ``sample_rows`` rows (in a scratch folder of the project, removed after) and load
    the model back through the safe loader (digest checked). Nothing of the project is changed."""
    from mlops_actions.domain.data.io import read_table
    from mlops_actions.domain.model_io import MODEL_FILE
    from mlops_actions.domain.training import train

    checks = preflight(config)
    if checks.problems:
        return DoctorReport(preflight=checks)
    scratch = config.root / ".mlops"
    made_scratch = not scratch.exists()
    scratch.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(dir=scratch, prefix="doctor-"))
    try:
        train_rows = _sample(read_table(config.train_data), config, sample_rows)
        train_rows.to_csv(workdir / "train.csv", index=False)  # type: ignore[attr-defined]
        trial = replace(config, train_data=workdir / "train.csv")
        if config.eval_data is not None:
            read_table(config.eval_data).head(sample_rows).to_csv(workdir / "eval.csv", index=False)
            trial = replace(trial, eval_data=workdir / "eval.csv")
        started = time.perf_counter()
        try:
            trained = train(trial, workdir / "model")
        except MlopsError as error:
            return DoctorReport(
                preflight=checks,
                sample_rows=len(train_rows),  # type: ignore[arg-type]
                problem=str(error).splitlines()[0],
            )
        return DoctorReport(
            preflight=checks,
            sample_rows=len(train_rows),  # type: ignore[arg-type]
            train_seconds=time.perf_counter() - started,
            needed_types=_needed_types(trained.directory / MODEL_FILE, config),
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if made_scratch:
            shutil.rmtree(scratch, ignore_errors=True)
