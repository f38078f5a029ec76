"""`mlops-actions check`: the PR stage in one command."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_actions.cli import add_env_option, print_error
from mlops_actions.commands._common import (
    add_config_option,
    add_forge_option,
    add_platform_option,
    add_progress_option,
)
from mlops_actions.errors import MlopsError

if TYPE_CHECKING:
    from mlops_actions.platforms.base import Platform
    from mlops_actions.progress import Progress
    from mlops_actions.stages.check import CheckOutcome

HELP = (
    "run the project's tests, train the candidate, resolve the baseline, validate the data, compare with "
    "confidence intervals, gate, write mlops-result.json and the reports, and post the sticky comment"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check", help="the PR stage: " + HELP.split(", and post")[0], description=HELP
    )
    add_config_option(parser)
    add_env_option(
        parser, "--output-dir", "-o", env="MLOPS_OUTPUT_DIR", default="mlops-out", help="output folder"
    )
    add_forge_option(
        parser,
        help="where the comment goes (auto: the platform's own comment when this job's token may write on "
        "the pull/merge request, else none with the reason printed)",
    )
    add_env_option(
        parser,
        "--baseline",
        env="MLOPS_BASELINE",
        default=None,
        choices=["config", "auto", "registry", "retrain", "none"],
        help="baseline source (default, or config: baseline.source from the config)",
    )
    add_env_option(
        parser, "--base-ref", env="MLOPS_BASE_REF", default=None, help="target branch ref for retrain"
    )
    add_env_option(
        parser,
        "--comment-dir",
        env="MLOPS_COMMENT_DIR",
        default=".mlops/comments",
        help="local forge: folder of the sticky comment files",
    )
    add_env_option(
        parser,
        "--plan",
        env="MLOPS_PLAN",
        default=None,
        metavar="FILE",
        help="the JSON of mlops-actions configs --json: the models it skipped go into the result and the "
        "comment (not checked in this PR, and why)",
    )
    add_platform_option(parser)
    add_progress_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from mlops_actions.commands._common import platform_of, progress_of
    from mlops_actions.domain.changes import read_plan, skipped_config
    from mlops_actions.errors import ForgeError, PathError
    from mlops_actions.stages.check import clear_output, run_check

    platform = platform_of(args, comment_dir=args.comment_dir)
    progress = progress_of(args, platform)
    output_dir = Path(args.output_dir)
    clear_output(output_dir)
    skipped_models: list[dict[str, str]] = []
    try:
        try:
            skipped_models = read_plan(args.plan) if args.plan else []
            itself = skipped_config(skipped_models, args.config)
            if itself is not None:  # a matrix over every config (GitLab): this model's inputs did not change
                print(f"skipped: {itself['model']} ({itself['reason']})")
                return 0
            outcome = run_check(
                args.config,
                output_dir,
                baseline_source=None if args.baseline == "config" else args.baseline,
                base_ref=args.base_ref,
                progress=progress,
                platform=platform,
                skipped_models=skipped_models,
            )
        except OSError as error:  # a path no writer named: reported like any other error of the check
            raise PathError.of(error) from None
    except (
        MlopsError
    ) as error:  # an error (a refused baseline...) leaves no candidate model without its result
        clear_output(output_dir)
        if error.exit_code == 2:
            _report_error(args, output_dir, error, progress, platform, skipped_models)
        raise
    result = outcome.result
    exit_code = 0 if outcome.passed else 1
    try:
        _publish(args, outcome, progress, platform)
    except ForgeError as error:
        print_error(error)
        exit_code = 2
    verdict = result["verdict"].upper()
    print(
        f"{result['model']['name']}: {verdict} (baseline: {result['baseline']['source']}) -> {outcome.paths['result']}",
        file=sys.stderr,
    )
    for warning in result.get("warnings") or []:
        print(f"  ⚠ {warning}", file=sys.stderr)
    for reason in result["reasons"]:
        print(f"  - {reason}", file=sys.stderr)
    return exit_code


def _publish(args: argparse.Namespace, outcome: CheckOutcome, progress: Progress, platform: Platform) -> None:
    """The platform's job summary and reports, then the sticky comment when the decision says so."""
    import sys

    from mlops_actions.platforms.policy import comment_decision

    result = outcome.result
    platform.publish_job_summary(result, outcome.markdown, outcome.paths)
    decision = comment_decision(platform, args.forge)
    if not decision.post:
        if args.forge != "none":
            print(f"mlops-actions: no comment: {decision.reason}", file=sys.stderr)
        return
    target = _comment_platform(args, platform)
    with progress.step("posting") as step:
        posted = target.post_sticky_comment(outcome.markdown, key=result["model"]["name"])
        step.done(f"comment {posted.action}")
    print(f"comment {posted.action}: {posted.location}", file=sys.stderr)


def _comment_platform(args: argparse.Namespace, platform: Platform) -> Platform:
    """The platform whose comment ``--forge`` names (auto: the one the job runs on)."""
    import os

    from mlops_actions.platforms import detect_platform

    if args.forge in ("auto", platform.name):
        return platform
    return detect_platform(os.environ, args.forge, comment_dir=args.comment_dir)


def _report_error(
    args: argparse.Namespace,
    output_dir: Path,
    error: MlopsError,
    progress: Progress,
    platform: Platform,
    skipped_models: list[dict[str, str]],
) -> None:
    """Write the error result and post it like a verdict; a failure here is a warning, never the error shown."""
    import sys

    from mlops_actions.domain.secrets import scrub
    from mlops_actions.stages.check import error_outcome

    what = "the error result was not written"
    try:
        outcome = error_outcome(
            args.config,
            output_dir,
            error,
            progress=progress,
            platform=platform,
            skipped_models=skipped_models,
        )
        what = "the error result was not published"
        _publish(args, outcome, progress, platform)
    except (MlopsError, OSError) as failure:
        reason = " ".join(scrub(str(failure)).split()) or type(failure).__name__
        print(f"mlops-actions: warning: {what}: {reason}", file=sys.stderr)
