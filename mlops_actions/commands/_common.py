"""Options shared by several commands."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mlops_actions.cli import add_env_option

if TYPE_CHECKING:
    from mlops_actions.platforms.base import Platform
    from mlops_actions.progress import Progress


def forge_name(value: str) -> str:
    """A ``--forge`` value: auto, none, a built-in platform's name or ``package.module:Class``."""
    if value in ("auto", "none"):
        return value
    from mlops_actions.platforms import BUILT_IN, CLASS_PATH

    if value in BUILT_IN or CLASS_PATH.match(value):
        return value
    raise argparse.ArgumentTypeError(
        f"expected auto, none, {', '.join(BUILT_IN)} or package.module:Class, got {value[:80]!r}"
    )


def add_forge_option(parser: argparse.ArgumentParser, *, help: str) -> None:
    """``--forge`` (env MLOPS_FORGE, default auto): where the sticky comment goes."""
    add_env_option(
        parser,
        "--forge",
        env="MLOPS_FORGE",
        default="auto",
        type=forge_name,
        metavar="{auto,none,PLATFORM}",
        help=help + "; PLATFORM: github, gitlab, local or package.module:Class",
    )


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


def add_platform_option(parser: argparse.ArgumentParser) -> None:
    """``--platform``: the CI platform, detected from the environment unless named (env MLOPS_PLATFORM)."""
    add_env_option(
        parser,
        "--platform",
        env="MLOPS_PLATFORM",
        default=None,
        help="CI platform: github, gitlab, local, or package.module:Class for a platform of your own "
        "(default: detected; GitHub Actions, GitLab CI, else local)",
    )


def platform_of(args: argparse.Namespace, **options: object) -> Platform:
    """The platform the command runs on, detected once (or the one ``--platform`` names)."""
    import os

    from mlops_actions.platforms import detect_platform

    return detect_platform(os.environ, getattr(args, "platform", None), **options)


def progress_of(args: argparse.Namespace, platform: Platform | None = None) -> Progress:
    """The command's Progress: its style from the platform (GitHub groups, GitLab sections, else plain),
    or from this environment when no platform was detected."""
    import os

    from mlops_actions.progress import Progress

    quiet = bool(getattr(args, "quiet", False))
    if platform is None:
        return Progress.from_environment(os.environ, quiet=quiet)
    return Progress.for_platform(platform.name, quiet=quiet)
