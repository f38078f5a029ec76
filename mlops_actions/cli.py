"""Entry point: argument parsing, MLOPS_* environment defaults, exit codes, one-line errors.

Every command lives in ``mlops_actions/commands/<name>.py`` and exposes ``register(subparsers)``.
Command modules import only the standard library at import time, so ``--help`` starts fast;
heavy libraries are imported inside the functions that need them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from mlops_actions import __version__
from mlops_actions.errors import MlopsError

COMMAND_MODULES = (
    "config",
    "doctor",
    "train",
    "evaluate",
    "cross_fit",
    "compare",
    "report",
    "check",
    "release",
    "deploy",
    "comment",
    "widgets",
    "registry",
    "data",
    "serve",
    "loadtest",
    "monitor",
    "runs",
    "configs",
)


def env_default(variable: str, default: str | None = None) -> str | None:
    """The value of an MLOPS_* environment variable, or the default when it is unset or empty."""
    value = os.environ.get(variable, "")
    return value if value != "" else default


def add_env_option(
    parser: argparse.ArgumentParser,
    *flags: str,
    env: str,
    default: str | None = None,
    help: str,
    **kwargs: object,
) -> None:
    """Add an option whose default comes from an environment variable named in its help."""
    shown = f" (default: {default})" if default is not None else ""
    parser.add_argument(
        *flags,
        default=env_default(env, default),
        help=f"{help}{shown}; env {env}",
        **kwargs,  # type: ignore[arg-type]
    )


def print_error(error: MlopsError) -> None:
    """Print ``error`` as ``mlops-actions: error: <line>`` lines on stderr, every secret replaced by ***."""
    from mlops_actions.domain.secrets import scrub

    for line in scrub(str(error)).splitlines() or [type(error).__name__]:
        print(f"mlops-actions: error: {line}", file=sys.stderr)


def print_scrubbed_traceback(kind: type[BaseException], error: BaseException, trace: Any) -> None:
    """``sys.excepthook`` of the CLI: an unexpected error's traceback, every secret replaced by ***."""
    import traceback

    from mlops_actions.domain.secrets import scrub

    sys.stderr.write(scrub("".join(traceback.format_exception(kind, error, trace))))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops-actions",
        description="Train, compare with the baseline, gate, report and release ML models in CI.",
    )
    parser.add_argument("--version", action="version", version=f"mlops-actions {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"mlops_actions.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    sys.excepthook = print_scrubbed_traceback  # a bug's traceback may quote user output or a token
    try:
        try:
            return int(args.func(args) or 0)
        except OSError as error:  # a path no writer named: still one line naming the file
            from mlops_actions.errors import PathError

            raise PathError.of(error) from None
    except MlopsError as error:
        print_error(error)
        return error.exit_code
    except KeyboardInterrupt:
        print("mlops-actions: interrupted", file=sys.stderr)
        return 130
