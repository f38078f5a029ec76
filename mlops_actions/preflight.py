"""Checks that need no training: the entrypoint imports, trusted types resolve, data files and columns exist.

``mlops-actions config validate`` prints them and ``check``/``release`` run them first, so a project that cannot
train or load its model is told what to change before anything trains.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

from mlops_actions.config import Config
from mlops_actions.errors import ConfigError, MlopsError

MAIN_MODULE_FIX = (
    "define it in an importable module of the project (e.g. features.py) and import it from the training script "
    "(running the script with 'python -m' does not help: it still runs as __main__)"
)


@dataclass(frozen=True)
class Finding:
    """One check: what was checked (``subject``), whether it holds, and what was found."""

    subject: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Preflight:
    config_path: Path
    findings: tuple[Finding, ...]

    @property
    def problems(self) -> list[str]:
        return [f"{f.subject}: {f.detail}" for f in self.findings if not f.ok]

    def raise_for_problems(self) -> None:
        """A ConfigError listing every failed check, one line each."""
        if self.problems:
            raise ConfigError([f"{self.config_path}: {problem}" for problem in self.problems])


def resolve_type(name: str) -> str | None:
    """Why the dotted ``module.Name`` cannot be imported, or None when it resolves."""
    if name.startswith("__main__."):
        return f"{name!r} lives in the training script run as a program, so it cannot be imported: {MAIN_MODULE_FIX}"
    parts = name.split(".")
    if len(parts) < 2 or not all(parts):
        return f"{name!r} is not a dotted module.Name"
    not_found: ModuleNotFoundError | None = None
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            target: object = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name and module_name.startswith(error.name):
                not_found = not_found or error
                continue  # a shorter prefix may be the module
            return f"{name!r} cannot be imported: {error}"
        except Exception as error:
            return f"{name!r}: importing {module_name} raised {type(error).__name__}: {error}"
        for attribute in parts[split:]:
            if not hasattr(target, attribute):
                return f"{name!r}: module {module_name} has no {'.'.join(parts[split:])}"
            target = getattr(target, attribute)
        return None
    return f"{name!r} cannot be imported: {not_found}"


def _entrypoint(config: Config) -> Finding:
    if not config.train_entrypoint:
        return Finding("train.command", True, f"runs {config.train_command!r}")
    from mlops_actions.training import _import_entrypoint

    try:
        _import_entrypoint(config.train_entrypoint, config.root)
    except MlopsError as error:
        return Finding("train.entrypoint", False, str(error).removeprefix("train.entrypoint: "))
    return Finding("train.entrypoint", True, f"{config.train_entrypoint} imports")


def _trusted_types(config: Config) -> list[Finding]:
    if str(config.root) not in sys.path:
        sys.path.insert(0, str(config.root))
    findings = []
    for index, name in enumerate(config.trusted_types):
        problem = resolve_type(name)
        findings.append(
            Finding(f"train.trusted_types[{index}]", problem is None, problem or f"{name} resolves")
        )
    return findings


def _columns_of(path: Path) -> list[str]:
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    import pandas as pd

    return [str(c) for c in pd.read_csv(path, nrows=0).columns]


def _data(config: Config) -> list[Finding]:
    roles = {
        "data.train": config.train_data,
        "data.eval": config.eval_data,
        "data.schema": config.schema_path,
    }
    findings: list[Finding] = []
    columns: dict[str, list[str]] = {}
    for key, path in roles.items():
        if path is None:
            continue
        shown = _shown(path, config.root)
        if path.is_dir():
            findings.append(Finding(key, False, f"{shown} is a folder, expected a file"))
        elif not path.is_file():
            findings.append(Finding(key, False, f"{shown} not found"))
        elif key != "data.schema":
            try:
                columns[key] = _columns_of(path)
            except Exception as error:
                findings.append(Finding(key, False, f"{shown}: cannot read its header: {error}"))
                continue
            findings.append(Finding(key, True, f"{shown}: {len(columns[key])} columns"))
    named = [("data.target", config.target)]
    named += [("data.id", config.id_column)] if config.id_column else []
    named += [(f"data.slices[{i}]", c) for i, c in enumerate(config.slices)]
    named += [(f"data.features[{i}]", c) for i, c in enumerate(config.features or ())]
    for key, column in named:
        lacking = [_shown(roles[role], config.root) for role, found in columns.items() if column not in found]
        if lacking:
            findings.append(Finding(key, False, f"column {column!r} not found in {', '.join(lacking)}"))
    return findings


def _shown(path: Path | None, root: Path) -> str:
    try:
        return Path(path or "").resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def preflight(config: Config) -> Preflight:
    """Every check that needs no training, as findings (metric names were checked when the config loaded)."""
    findings = [
        _entrypoint(config),
        *_trusted_types(config),
        *_data(config),
        Finding("metrics", True, f"{', '.join(config.metrics)} apply to task {config.task!r}"),
    ]
    return Preflight(config_path=config.path, findings=tuple(findings))
