"""`mlops-actions check`: the PR stage in one command."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_actions.cli import add_env_option, print_error
from mlops_actions.errors import MlopsError

if TYPE_CHECKING:
    from mlops_actions.progress import Progress
    from mlops_actions.stages.check import CheckOutcome
from mlops_actions.commands._common import add_config_option, add_progress_option

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
    add_env_option(
        parser,
        "--forge",
        env="MLOPS_FORGE",
        default="auto",
        choices=["auto", "local", "github", "gitlab", "none"],
        help="where the comment goes (auto: github on GitHub Actions, gitlab on GitLab CI, else local)",
    )
    add_env_option(
        parser,
        "--baseline",
        env="MLOPS_BASELINE",
        default=None,
        choices=["auto", "registry", "retrain", "none"],
        help="baseline source (default: baseline.source from the config)",
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
    add_progress_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from mlops_actions.commands._common import progress_of
    from mlops_actions.errors import ForgeError, PathError
    from mlops_actions.stages.check import clear_output, run_check

    progress = progress_of(args)
    output_dir = Path(args.output_dir)
    clear_output(output_dir)
    try:
        try:
            outcome = run_check(
                args.config,
                output_dir,
                baseline_source=args.baseline,
                base_ref=args.base_ref,
                progress=progress,
            )
        except OSError as error:  # a path no writer named: reported like any other error of the check
            raise PathError.of(error) from None
    except (
        MlopsError
    ) as error:  # an error (a refused baseline...) leaves no candidate model without its result
        clear_output(output_dir)
        if error.exit_code == 2:
            _report_error(args, output_dir, error, progress)
        raise
    result = outcome.result
    exit_code = 0 if outcome.passed else 1
    try:
        _publish(args, outcome, progress)
    except ForgeError as error:
        print_error(error)
        exit_code = 2
    verdict = result["verdict"].upper()
    print(
        f"{result['model']['name']}: {verdict} (baseline: {result['baseline']['source']}) -> {outcome.paths['result']}",
        file=sys.stderr,
    )
    for reason in result["reasons"]:
        print(f"  - {reason}", file=sys.stderr)
    return exit_code


def _publish(args: argparse.Namespace, outcome: CheckOutcome, progress: Progress) -> None:
    """The job outputs of GitHub Actions or GitLab CI, then the sticky comment (unless ``--forge none``)."""
    import os
    import sys

    result = outcome.result
    if os.environ.get("GITHUB_ACTIONS") == "true":
        from mlops_actions.platforms.github.artifacts import candidate_name_of
        from mlops_actions.platforms.github.job import append_outputs, publish_job_outputs

        publish_job_outputs(result, outcome.markdown, outcome.paths)
        model = outcome.paths.get("model")
        append_outputs({"candidate-artifact": (candidate_name_of(result, model) if model else None) or ""})
    markdown = outcome.markdown
    if os.environ.get("GITLAB_CI") == "true":
        from mlops_actions.platforms.gitlab.job import publish_job_reports

        markdown = publish_job_reports(result, outcome.markdown, outcome.paths)
    if args.forge != "none":
        from mlops_actions.platforms import get_forge

        with progress.step("posting") as step:
            forge = get_forge(args.forge, local_dir=args.comment_dir)
            posted = forge.post_sticky_comment(markdown, key=result["model"]["name"])
            step.done(f"comment {posted.action}")
        print(f"comment {posted.action}: {posted.location}", file=sys.stderr)


def _report_error(args: argparse.Namespace, output_dir: Path, error: MlopsError, progress: Progress) -> None:
    """Write the error result and post it like a verdict; a failure here is a warning, never the error shown."""
    import sys

    from mlops_actions.domain.secrets import scrub
    from mlops_actions.stages.check import error_outcome

    what = "the error result was not written"
    try:
        outcome = error_outcome(args.config, output_dir, error, progress=progress)
        what = "the error result was not published"
        _publish(args, outcome, progress)
    except (MlopsError, OSError) as failure:
        reason = " ".join(scrub(str(failure)).split()) or type(failure).__name__
        print(f"mlops-actions: warning: {what}: {reason}", file=sys.stderr)
