"""`mlops-actions check`: the PR stage in one command."""

from __future__ import annotations

import argparse

from mlops_actions.cli import add_env_option, print_error
from mlops_actions.commands._common import add_config_option

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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os
    import sys
    from pathlib import Path

    from mlops_actions.errors import ForgeError, MlopsError
    from mlops_actions.stages.check import clear_output, run_check

    output_dir = Path(args.output_dir)
    clear_output(output_dir)
    try:
        outcome = run_check(args.config, output_dir, baseline_source=args.baseline, base_ref=args.base_ref)
    except MlopsError:  # an error (a refused baseline...) leaves no candidate model without its result
        clear_output(output_dir)
        raise
    result = outcome.result
    exit_code = 0 if outcome.passed else 1
    if os.environ.get("GITHUB_ACTIONS") == "true":
        from mlops_actions.github_artifacts import candidate_name_of
        from mlops_actions.github_env import append_outputs, publish_job_outputs

        publish_job_outputs(result, outcome.markdown, outcome.paths)
        append_outputs({"candidate-artifact": candidate_name_of(result, outcome.paths["model"]) or ""})
    markdown = outcome.markdown
    if os.environ.get("GITLAB_CI") == "true":
        from mlops_actions.gitlab_env import publish_job_reports

        markdown = publish_job_reports(result, outcome.markdown, outcome.paths)
    if args.forge != "none":
        from mlops_actions.forges import get_forge

        try:
            forge = get_forge(args.forge, local_dir=args.comment_dir)
            posted = forge.post_sticky_comment(markdown, key=result["model"]["name"])
            print(f"comment {posted.action}: {posted.location}", file=sys.stderr)
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
