"""Options shared by several commands."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mlops_actions.cli import add_env_option

if TYPE_CHECKING:
    from mlops_actions.progress import Progress


def add_config_option(parser: argparse.ArgumentParser) -> None:
    add_env_option(parser, "--config", "-c", env="MLOPS_CONFIG", default="mlops.yaml", help="config file")


def print_json(document: object) -> None:
    import json

    print(json.dumps(document, indent=2, allow_nan=False))


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    """``--quiet``: no progress lines on stderr (env MLOPS_QUIET=true)."""
    from mlops_actions.cli import env_default

    quiet = (env_default("MLOPS_QUIET", "") or "").strip().lower() in ("1", "true", "yes", "on")
    parser.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        default=quiet,
        help="print no progress lines (one per step with the elapsed time) on stderr; env MLOPS_QUIET",
    )


def progress_of(args: argparse.Namespace) -> Progress:
    """The command's Progress: its style decided once from this environment (GitHub, GitLab, plain)."""
    import os

    from mlops_actions.progress import Progress

    return Progress.from_environment(os.environ, quiet=bool(getattr(args, "quiet", False)))
