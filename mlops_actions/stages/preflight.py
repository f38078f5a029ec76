"""Checks that need no training: the entrypoint imports, trusted types resolve, data files and columns exist.

``mlops-actions config validate`` prints them and ``check``/``release`` run them first, so a project that cannot
train or load its model is told what to change before anything trains.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from mlops_actions.domain.config import Config
from mlops_actions.domain.training import MAIN_MODULE_FIX
from mlops_actions.errors import ConfigError, MlopsError


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


def _project_module_file(module_name: str, root: Path) -> Path | None:
    """The source file of ``module_name`` when it is the project's own code under ``root``, found without
    importing (so without running) anything; None when it is not found there."""
    from importlib.machinery import PathFinder

    parts = module_name.split(".")
    search: list[str] | None = [str(root)]
    spec = None
    for depth in range(len(parts)):
        spec = PathFinder.find_spec(".".join(parts[: depth + 1]), search)
        if spec is None:
            return None
        search = list(spec.submodule_search_locations or [])
    origin = Path(spec.origin) if spec is not None and spec.origin else None
    return origin if origin is not None and origin.suffix == ".py" else None


def _defines(source_file: Path, name: str) -> bool:
    """Whether the module's top level defines, assigns or imports ``name`` (read, not run)."""
    import ast

    tree = ast.parse(source_file.read_text(encoding="utf-8"), filename=str(source_file))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
            (alias.asname or alias.name.split(".")[0]) == name for alias in node.names
        ):
            return True
    return False


def resolve_type(name: str, project_root: Path | None = None) -> str | None:
    """Why the dotted ``module.Name`` cannot be imported, or None when it resolves.

    The project's own modules (under ``project_root``) are read, not imported: resolving a name runs none of
    the code of the change being checked. Installed libraries are imported.
    """
    if name.startswith("__main__."):
        return f"{name!r} lives in the training script run as a program, so it cannot be imported: {MAIN_MODULE_FIX}"
    parts = name.split(".")
    if len(parts) < 2 or not all(parts):
        return f"{name!r} is not a dotted module.Name"
    not_found: ModuleNotFoundError | None = None
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        source = _project_module_file(module_name, project_root) if project_root is not None else None
        if source is not None:
            try:
                defined = _defines(source, parts[split])
            except (SyntaxError, UnicodeDecodeError, OSError) as error:
                return f"{name!r}: {source.name} cannot be read: {error}"
            if not defined:
                return f"{name!r}: module {module_name} has no {parts[split]} (looked in {source.name})"
            return None
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
    from mlops_actions.domain.training import _import_entrypoint

    try:
        _import_entrypoint(config.train_entrypoint, config.root)
    except MlopsError as error:
        return Finding("train.entrypoint", False, str(error).removeprefix("train.entrypoint: "))
    return Finding("train.entrypoint", True, f"{config.train_entrypoint} imports")


def _trusted_types(config: Config) -> list[Finding]:
    findings = []
    for index, name in enumerate(config.trusted_types):
        problem = resolve_type(name, config.root)
        findings.append(
            Finding(f"train.trusted_types[{index}]", problem is None, problem or f"{name} resolves")
        )
    return findings


COLUMN_ROLES = {"data.target": "target", "data.id": "id", "data.slices": "slice", "data.features": "feature"}


def _data(config: Config) -> list[Finding]:
    """The data files exist and can be read (the data layer's own errors), and hold the columns named."""
    from mlops_actions.domain.data.chunks import read_header
    from mlops_actions.errors import DataError

    findings: list[Finding] = []
    columns: dict[Path, list[str]] = {}
    for key, path in (("data.train", config.train_data), ("data.eval", config.eval_data)):
        if path is None:
            continue
        try:
            columns[path] = read_header(path)
        except DataError as error:  # the data layer's own words, with the path as the project sees it
            findings.append(Finding(key, False, str(error).replace(str(path), _shown(path, config.root))))
            continue
        findings.append(Finding(key, True, f"{_shown(path, config.root)}: {len(columns[path])} columns"))
    schema = config.schema_path
    if schema is not None and not schema.is_file():
        why = "is a folder, expected a schema file" if schema.is_dir() else "schema file not found"
        findings.append(Finding("data.schema", False, f"{_shown(schema, config.root)}: {why}"))
    named = [("data.target", config.target)]
    named += [("data.id", config.id_column)] if config.id_column else []
    named += [(f"data.slices[{i}]", c) for i, c in enumerate(config.slices)]
    named += [(f"data.features[{i}]", c) for i, c in enumerate(config.features or ())]
    for key, column in named:
        role = COLUMN_ROLES[key.split("[")[0]]
        lacking = [_shown(path, config.root) for path, found in columns.items() if column not in found]
        if lacking:
            findings.append(
                Finding(key, False, f"{role} column {column!r} not found in {', '.join(lacking)}")
            )
    return findings


def _shown(path: Path | None, root: Path) -> str:
    try:
        return Path(path or "").resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def preflight(config: Config) -> Preflight:
    """Every check that needs no training, as findings (metric names were checked when the config loaded)."""
    from mlops_actions.domain.secrets import user_code_environment

    with user_code_environment(config, "train"):  # importing the entrypoint runs the project's own code
        entrypoint = _entrypoint(config)
    findings = [
        entrypoint,
        *_trusted_types(config),
        *_data(config),
        Finding("metrics", True, f"{', '.join(config.metrics)} apply to task {config.task!r}"),
    ]
    return Preflight(config_path=config.path, findings=tuple(findings))
