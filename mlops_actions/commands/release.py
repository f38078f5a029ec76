"""`mlops-actions release`: the production-branch stage."""

from __future__ import annotations

import argparse

from mlops_actions.cli import add_env_option
from mlops_actions.commands._common import add_config_option


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "release",
        help="train and gate HEAD against production, tag <model>@v<semver>, publish it and move 'production'",
    )
    add_config_option(parser)
    add_env_option(
        parser,
        "--output-dir",
        "-o",
        env="MLOPS_OUTPUT_DIR",
        default="mlops-out",
        help="folder for the release files",
    )
    add_env_option(
        parser,
        "--bump",
        env="MLOPS_BUMP",
        default=None,
        choices=["major", "minor", "patch"],
        help="version bump (default: the HEAD commit's 'Release-Bump:' trailer, else minor)",
    )
    parser.add_argument("--json", action="store_true", help="print the published version as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlops_actions.commands._common import print_json
    from mlops_actions.stages.release import run_release

    outcome = run_release(args.config, args.output_dir, bump=args.bump)
    version = outcome.version
    if args.json:
        print_json({**version.as_dict(), "created": outcome.created})
    elif outcome.created:
        print(f"released {version.tag} ({version.digest}) and moved 'production' to it")
    else:
        print(f"commit {(version.commit or '')[:12]} is already released as {version.tag}; nothing to do")
    return 0
