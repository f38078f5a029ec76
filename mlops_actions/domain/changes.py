"""Many models in one repository: which files are a model's inputs, and which models a change touches.

Every glob here is POSIX and relative to the repository root. ``*`` and ``?`` stay inside one path segment,
``[...]`` is a character class, and a ``**`` segment matches any number of segments (none included), as in
``models/a/**`` or ``**/features.py``. A trailing ``/`` means the folder and everything under it.
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from mlops_actions.domain.config import Config

GLOB_CHARACTERS = frozenset("*?[")
NO_BASE = "no base to compare"
SHOWN_PATHS = 3  # changed files named in a reason
SHOWN_INPUTS = 4  # inputs named in the reason of a model that did not change


@dataclass(frozen=True)
class ModelPlan:
    """One model of the repository: its config (repository-relative), whether a change touched its inputs,
    and why (the changed files, or the inputs nothing touched)."""

    config: str
    model: str
    changed: bool
    reason: str
    inputs: tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.config, "model": self.model, "changed": self.changed, "reason": self.reason}


def is_glob(text: str) -> bool:
    """Whether ``text`` holds a glob character (``*``, ``?`` or ``[``)."""
    return any(character in GLOB_CHARACTERS for character in text)


def _segment_regex(segment: str) -> str:
    """One path segment's glob as a regular expression that never crosses a ``/``."""
    out, i = [], 0
    while i < len(segment):
        character = segment[i]
        if character == "*":
            out.append("[^/]*")
        elif character == "?":
            out.append("[^/]")
        elif character == "[":
            end = segment.find("]", i + 2 if segment[i + 1 : i + 2] in ("!", "^", "]") else i + 1)
            if end == -1:
                out.append(re.escape(character))
            else:
                body = segment[i + 1 : end]
                negated = body[:1] in ("!", "^")
                body = body[1:] if negated else body
                out.append(f"[{'^/' if negated else ''}{body.replace(chr(92), chr(92) * 2)}]")
                i = end
        else:
            out.append(re.escape(character))
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=512)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """The compiled regular expression of a repository glob (see the module's docstring)."""
    text = pattern.replace("\\", "/")
    if text.endswith("/"):
        text += "**"
    parts = [part for part in text.split("/") if part not in ("", ".")]
    regex = ""
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
        else:
            regex += _segment_regex(part) + ("" if last else "/")
    return re.compile(regex)


def glob_match(pattern: str, path: str) -> bool:
    """Whether the repository-relative POSIX ``path`` matches the glob ``pattern``."""
    text = path.replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    return glob_regex(pattern).fullmatch(text) is not None


def _relative(path: Path, root: Path) -> str:
    """``path`` as a POSIX path relative to ``root`` (``..`` segments when it lies outside)."""
    return Path(os.path.relpath(path, root)).as_posix()


def _joined(folder: str, pattern: str) -> str:
    """``pattern``, relative to ``folder``, as a normalised glob relative to the root ``folder`` lies in."""
    joined = posixpath.normpath(posixpath.join(folder, pattern.replace("\\", "/")))
    return joined + "/**" if pattern.endswith("/") else joined


def _path_globs(value: str, base: Path) -> list[str]:
    """The globs (relative to ``base``) of a path a config names: a folder means everything under it; a
    URI (``s3://...``) is nothing in the repository."""
    if "://" in value:
        return []
    value = value.replace("\\", "/")
    if is_glob(value):
        return [value]
    if (base / value).is_dir():
        return [value.rstrip("/") + "/**"]
    return [value]


def _command_globs(command: str | None, base: Path) -> list[str]:
    """The files and folders a shell command names that exist beside the config (``python train.py``,
    ``python -m pkg.train``, ``pytest tests/``)."""
    if not command:
        return []
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    globs: list[str] = []
    for index, word in enumerate(words):
        if index > 0 and words[index - 1] == "-m":
            globs += _module_globs(word, base, known=False)
            continue
        word = word.split("=", 1)[1] if word.startswith("-") and "=" in word else word
        if not word or word.startswith("-") or "{" in word or "://" in word or word.startswith("$"):
            continue
        try:
            exists = (base / word).exists()
        except (OSError, ValueError):
            continue
        if exists and not Path(word).is_absolute():
            globs += _path_globs(word, base)
    return globs


def _module_globs(module: str, base: Path, *, known: bool = True) -> list[str]:
    """The files of a module (``pkg.train``) beside the config: its top-level package folder, or its file;
    a module that is not there (``python -m pytest``) is nothing unless ``known`` (the train entrypoint)."""
    top = module.split(".")[0]
    if not top.isidentifier():
        return []
    if (base / top).is_dir():
        return [f"{top}/**"]
    return [f"{top}.py"] if known or (base / f"{top}.py").is_file() else []


def model_inputs(config: Config, repo_root: str | Path | None = None) -> list[str]:
    """The globs, relative to ``repo_root`` (default: the config's folder), whose changes mean ``config``'s
    model must be checked: the config file itself, every path it names (data.train, data.eval, data.schema,
    the train entrypoint's module, files named by train.command, tests.command and deploy.command) and its
    ``watch:`` globs. In order, without repeats."""
    from mlops_actions.domain.config import DATA_PATH_KEYS

    base = config.root
    root = Path(repo_root).resolve() if repo_root is not None else base
    folder = _relative(base, root)
    data = config.raw.get("data", {})
    local: list[str] = [config.path.name]
    for key in DATA_PATH_KEYS:
        if isinstance(data.get(key), str):
            local += _path_globs(data[key], base)
    if config.train_entrypoint:
        local += _module_globs(config.train_entrypoint.split(":")[0], base)
    local += _command_globs(config.train_command, base)
    local += _command_globs(config.tests_command, base)
    local += _command_globs(config.deploy.command, base)
    local += list(config.watch)
    return list(dict.fromkeys(_joined(folder, glob) for glob in local))


def _listed(items: Sequence[str], shown: int) -> str:
    head = ", ".join(items[:shown])
    return head if len(items) <= shown else f"{head}, and {len(items) - shown} more"


def plan_models(
    configs: Iterable[Config],
    changed_files: Sequence[str] | None,
    repo_root: str | Path,
    *,
    cwd: str | Path | None = None,
) -> list[ModelPlan]:
    """Which models ``changed_files`` (repository-relative POSIX paths; None: no base to compare with, so
    every model is changed) touch. One plan per config, in the configs' order, its config path relative to
    ``cwd`` (default: the repository root), where the jobs that check it run; two configs naming the same
    model are a ConfigError naming both files."""
    root = Path(repo_root).resolve()
    here = Path(cwd).resolve() if cwd is not None else root
    plans: list[ModelPlan] = []
    seen: dict[str, str] = {}
    for config in configs:
        where = _relative(config.path, here)
        if config.model_name in seen:
            raise ConfigError(
                f"{where}: model.name {config.model_name!r} is also the model of {seen[config.model_name]}; "
                "each model of the repository needs its own name"
            )
        seen[config.model_name] = where
        inputs = model_inputs(config, root)
        if changed_files is None:
            plans.append(ModelPlan(where, config.model_name, True, NO_BASE, tuple(inputs)))
            continue
        touched = [path for path in changed_files if any(glob_match(glob, path) for glob in inputs)]
        if touched:
            reason = f"changed: {_listed(touched, SHOWN_PATHS)}"
        else:
            shown = ", ".join(inputs[:SHOWN_INPUTS]) + (", ..." if len(inputs) > SHOWN_INPUTS else "")
            reason = f"no input changed: {shown}"
        plans.append(ModelPlan(where, config.model_name, bool(touched), reason, tuple(inputs)))
    return plans


def split_patterns(patterns: Sequence[str]) -> list[str]:
    """Config patterns from several arguments, or one whitespace- or newline-separated string (a workflow
    input), or both."""
    return [word for pattern in patterns for word in pattern.split()]


def expand_configs(patterns: Sequence[str], cwd: str | Path) -> list[Path]:
    """The config files that ``patterns`` (paths or globs, relative to ``cwd``; default ``mlops.yaml``)
    name: sorted, without repeats. A pattern that matches no file is a UsageError naming it."""
    base = Path(cwd)
    found: set[Path] = set()
    for pattern in split_patterns(patterns) or ["mlops.yaml"]:
        path = Path(pattern)
        if not is_glob(pattern):
            if not (base / path).is_file():
                raise UsageError(f"config {pattern!r}: no such file (in {base})")
            found.add(base / path)
            continue
        if path.is_absolute():
            anchor, rest = Path(path.anchor), Path(*path.parts[1:]).as_posix()
        else:
            anchor, rest = base, path.as_posix()
        matches = [match for match in anchor.glob(rest) if match.is_file()]
        if not matches:
            raise UsageError(f"configs {pattern!r}: no file matches (in {base})")
        found.update(matches)
    return sorted({Path(os.path.normpath(path)) for path in found})


NULL_COMMIT = re.compile(r"0{40}|0{64}")


def plan_repository(
    patterns: Sequence[str], cwd: str | Path, *, changed_since: str | None = None, timeout: float = 60.0
) -> list[ModelPlan]:
    """The plans of the configs ``patterns`` name (see ``expand_configs``): each model changed or not since
    HEAD's merge base with ``changed_since`` (None: every model, there being no base to compare)."""
    from mlops_actions.domain.config import load_config
    from mlops_actions.domain.lineage import changed_files, git

    base = Path(cwd)
    configs = [load_config(path) for path in expand_configs(patterns, base)]
    top = git(["rev-parse", "--show-toplevel"], base, check=False, timeout=timeout)
    if changed_since is not None and NULL_COMMIT.fullmatch(changed_since):
        changed_since = None  # a branch's first push (GitHub's `before`, GitLab's CI_COMMIT_BEFORE_SHA)
    if changed_since is None:
        return plan_models(configs, None, top or base, cwd=base)
    if not top:
        raise UsageError(f"--changed-since {changed_since!r}: {base} is not in a git repository")
    return plan_models(configs, changed_files(changed_since, base, timeout=timeout), top, cwd=base)


def read_plan(path: str | Path) -> list[dict[str, str]]:
    """The ``skipped`` models of a plan file (``mlops-actions configs --json``): config, model and reason of
    each; a UsageError names the file when it is not such a document."""
    import json

    where = f"--plan {path}"
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{where}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise UsageError(f"{where}: not a JSON document ({' '.join(str(error).split())[:200]})") from None
    skipped = document.get("skipped") if isinstance(document, dict) else None
    if not isinstance(skipped, list):
        raise UsageError(f"{where}: expected the JSON of mlops-actions configs --json, with a 'skipped' list")
    entries = []
    for index, item in enumerate(skipped):
        if not (
            isinstance(item, dict) and all(isinstance(item.get(key), str) for key in ("model", "reason"))
        ):
            raise UsageError(f"{where}: skipped[{index}]: expected an object with a model and a reason")
        entries.append({key: str(item[key]) for key in ("config", "model", "reason") if key in item})
    return entries


def skipped_entries(skipped: Iterable[Mapping[str, str]], model: str) -> dict[str, list[dict[str, str]]]:
    """The result's ``skipped_models`` (the other models not checked, ``model`` itself left out), or nothing
    when there are none."""
    entries = [dict(item) for item in skipped if item.get("model") != model]
    return {"skipped_models": entries} if entries else {}


def skipped_config(
    skipped: Iterable[Mapping[str, str]], config: str | Path, cwd: str | Path = "."
) -> dict[str, str] | None:
    """The plan's entry for ``config`` itself when the plan skipped it (none of its model's inputs changed),
    else None. Paths compare after resolving them against ``cwd``."""
    target = (Path(cwd) / config).resolve()
    for item in skipped:
        if item.get("config") and (Path(cwd) / item["config"]).resolve() == target:
            return dict(item)
    return None
