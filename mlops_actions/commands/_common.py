"""Options shared by several commands."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mlops_actions.cli import add_env_option

if TYPE_CHECKING:
    from mlops_actions.engines.base import EngineOptions
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


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """``--engine`` (env MLOPS_ENGINE, default local), ``--dask-scheduler``, ``--spark-master`` and
    ``--partitions``: where the rows are read and summarised (see ``engines/base.py``)."""
    add_env_option(
        parser,
        "--engine",
        env="MLOPS_ENGINE",
        default="local",
        choices=("local", "dask", "spark"),
        help="where the rows are read and summarised: local (this machine, chunk by chunk), "
        "dask (a Dask cluster, pip install 'mlops-actions[dask]') or spark ('mlops-actions[spark]')",
    )
    add_env_option(
        parser,
        "--dask-scheduler",
        env="MLOPS_DASK_SCHEDULER",
        metavar="ADDRESS",
        help="Dask scheduler to connect to, e.g. tcp://10.0.0.5:8786 (default: a local cluster)",
    )
    add_env_option(
        parser,
        "--spark-master",
        env="MLOPS_SPARK_MASTER",
        metavar="URL",
        help="Spark master URL, e.g. spark://host:7077 or local[4] (default: the active SparkSession, "
        "else a local one)",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        metavar="N",
        help="cut the rows into N partitions (any N gives the same answer; default: the reader's)",
    )


def engine_options(args: argparse.Namespace) -> EngineOptions:
    """The EngineOptions of ``add_engine_options``'s arguments; a UsageError for a bad ``--partitions``."""
    from mlops_actions.engines.base import EngineOptions
    from mlops_actions.errors import UsageError

    if args.partitions is not None and args.partitions < 1:
        raise UsageError(f"--partitions must be at least 1, got {args.partitions}")
    return EngineOptions(
        name=args.engine,
        dask_scheduler=args.dask_scheduler or None,
        spark_master=args.spark_master or None,
        partitions=args.partitions,
    )
