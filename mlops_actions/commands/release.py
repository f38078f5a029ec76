"""`mlops-actions release`: the production-branch stage."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mlops_actions.cli import add_env_option
from mlops_actions.commands._common import add_config_option, add_platform_option, add_progress_option

if TYPE_CHECKING:
    from mlops_actions.platforms.base import Platform
    from mlops_actions.stages.release import ReleaseOutcome


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "release",
        help="gate HEAD's model against production, tag <model>@v<semver>, publish it and move 'production'",
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
        choices=["commit", "major", "minor", "patch"],
        help="version bump (default, or commit: the HEAD commit's 'Release-Bump:' trailer, else the merged pull "
        "request's release:major/minor/patch label, else minor)",
    )
    add_env_option(
        parser,
        "--candidate",
        env="MLOPS_CANDIDATE_DIR",
        default=None,
        help="output folder of the pull request's check whose model is promoted when it has HEAD's tree, the "
        "same data and libraries, and was gated against the current production version (default: --output-dir)",
    )
    add_env_option(
        parser,
        "--candidate-source",
        env="MLOPS_CANDIDATE_SOURCE",
        default="folder",
        choices=["folder", "github-artifact", "none"],
        help="where the pull request's checked model comes from: the --candidate folder, the PR workflow's "
        "artifact for HEAD's tree (GitHub Actions, needs `actions: read`), or none (always train)",
    )
    add_env_option(
        parser,
        "--plan",
        env="MLOPS_PLAN",
        default=None,
        metavar="FILE",
        help="the JSON of mlops-actions configs --json: when it skipped this config (none of the model's inputs "
        "changed), release nothing and say so",
    )
    add_platform_option(parser)
    parser.add_argument("--json", action="store_true", help="print the published version as JSON")
    add_progress_option(parser)
    parser.set_defaults(func=run)


def _publish_outputs(outcome: ReleaseOutcome, platform: Platform) -> None:
    """The release's step outputs and job summary lines, where the platform has them."""
    version = outcome.version
    outputs = {
        "version": version.version,
        "tag": version.tag,
        "digest": version.digest,
        "created": str(outcome.created).lower(),
        "production": str("production" in version.aliases).lower(),
    }
    lines = [f"## Release {version.tag}", "", f"- digest `{version.digest}`", f"- commit `{version.commit}`"]
    lines += [f"- {note}" for note in outcome.notes]
    platform.write_outputs(outputs, "\n".join(lines) + "\n")


def run(args: argparse.Namespace) -> int:
    import sys

    from mlops_actions.commands._common import platform_of, print_json, progress_of
    from mlops_actions.domain.changes import read_plan, skipped_config
    from mlops_actions.stages.release import run_release

    itself = skipped_config(read_plan(args.plan), args.config) if args.plan else None
    if itself is not None:  # a matrix over every config (GitLab): this model's inputs did not change
        print(f"skipped: {itself['model']} ({itself['reason']})")
        return 0
    platform = platform_of(args)
    outcome = run_release(
        args.config,
        args.output_dir,
        bump=None if args.bump == "commit" else args.bump,
        candidate_dir=args.candidate,
        candidate_source=args.candidate_source,
        progress=progress_of(args, platform),
        platform=platform,
    )
    version = outcome.version
    _publish_outputs(outcome, platform)
    for note in outcome.notes:
        print(f"mlops-actions: note: {note}", file=sys.stderr)
    if args.json:
        print_json(
            {
                **version.as_dict(),
                "created": outcome.created,
                "source": outcome.source,
                "production_moved": outcome.production_moved,
            }
        )
    elif outcome.created:
        where = "moved 'production' to it" if outcome.production_moved else "left 'production' where it was"
        print(f"released {version.tag} ({version.digest}, {outcome.source} model) and {where}")
        why = outcome.lineage.get("model_source_reason")
        if why:
            print(f"  {outcome.source} because {why}")
    else:
        done = "moved 'production' to it" if outcome.production_moved else "nothing left to do"
        print(f"commit {(version.commit or '')[:12]} is already released as {version.tag}; {done}")
    return 0
