"""`mlops-actions configs`: the models of a repository, and which ones a change touched."""

from __future__ import annotations

import argparse

from mlops_actions.cli import add_env_option
from mlops_actions.commands._common import add_platform_option


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "configs",
        help="list the models of this repository (config files or globs) and which ones a change touched",
        description="A model is changed when a file it depends on differs between HEAD and its merge base "
        "with --changed-since: its config, the paths the config names (data, schema, the training code, "
        "the tests and deploy commands' files) and its watch: globs. Prints a table, or the JSON the "
        "workflows fan out on (--json); also writes the step outputs matrix, skipped and count.",
    )
    parser.add_argument(
        "patterns",
        nargs="*",
        metavar="PATTERN",
        help="config files or globs (models/*/mlops.yaml), relative to the current folder; several, or one "
        "whitespace- or newline-separated string (default: MLOPS_CONFIGS, else mlops.yaml)",
    )
    add_env_option(
        parser,
        "--changed-since",
        env="MLOPS_CHANGED_SINCE",
        metavar="REF",
        help="only models whose inputs changed since HEAD's merge base with REF (a branch, tag or commit) "
        "are to be checked (default: every model)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the models, the matrix and the skipped as JSON"
    )
    add_platform_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mlops_actions.cli import env_default
    from mlops_actions.commands._common import platform_of, print_json
    from mlops_actions.domain.changes import plan_repository
    from mlops_actions.render.models import models_document, models_outputs, models_text, skipped_summary

    patterns = list(args.patterns) or [env_default("MLOPS_CONFIGS", "") or ""]
    plans = plan_repository(patterns, Path.cwd(), changed_since=args.changed_since or None)
    if args.json:
        print_json(models_document(plans))
    else:
        print(models_text(plans))
    platform_of(args).write_outputs(models_outputs(plans), skipped_summary(plans))
    return 0
