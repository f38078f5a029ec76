"""`mlops-actions deploy`: fetch a released version, check its digest, run the config's deploy command."""

from __future__ import annotations

import argparse

from mlops_actions.cli import add_env_option
from mlops_actions.commands._common import add_config_option, add_platform_option, add_progress_option


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "deploy",
        help="fetch a released version by tag (or alias), verify its digest and run deploy.command",
        description="Fetch <model>@vX.Y.Z (or the version an alias names) from the registry, verify every "
        "digest, load the model, and run deploy.command from the config. With --dispatch, ask the CI platform "
        "to run the deploy workflow for the tag instead (GitHub: workflow_dispatch; GitLab: a new pipeline "
        "with MLOPS_DISPATCH and MLOPS_VERSION_TAG; local: a file under .mlops/dispatches).",
    )
    add_config_option(parser)
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--version-tag",
        default=None,
        help="version to deploy, <model>@v<MAJOR.MINOR.PATCH>; a tag of another model is skipped (exit 0); "
        "env MLOPS_VERSION_TAG",
    )
    which.add_argument(
        "--ref", default=None, help="alias or version number to deploy instead of a tag (default: production)"
    )
    add_env_option(
        parser,
        "--output-dir",
        "-o",
        env="MLOPS_OUTPUT_DIR",
        default="mlops-out",
        help="folder the version is fetched into (<output-dir>/deploy/<version>)",
    )
    add_env_option(
        parser,
        "--dispatch",
        env="MLOPS_DEPLOY_WORKFLOW",
        default=None,
        metavar="WORKFLOW",
        help="do not deploy here: start this workflow (file name, e.g. mlops-deploy.yml) with the input "
        "version-tag",
    )
    parser.add_argument(
        "--git-ref",
        default=None,
        help="branch the dispatched workflow runs on (default: the job's branch, as the platform tells it)",
    )
    parser.add_argument("--json", action="store_true", help="print what was deployed (or dispatched) as JSON")
    add_platform_option(parser)
    add_progress_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from mlops_actions.commands._common import platform_of, print_json, progress_of
    from mlops_actions.errors import MlopsError
    from mlops_actions.stages.deploy import dispatch_deploy, run_deploy

    platform = platform_of(args)
    tag = args.version_tag or (os.environ.get("MLOPS_VERSION_TAG", "").strip() if args.ref is None else "")
    if args.dispatch:
        if not tag:
            raise MlopsError("deploy --dispatch needs --version-tag (or MLOPS_VERSION_TAG)")
        sent = dispatch_deploy(args.dispatch, tag, git_ref=args.git_ref, platform=platform)
        if args.json:
            print_json({"dispatched": True, **sent})
        else:
            print(
                f"asked {sent['repository']} to run {sent['workflow']} on {sent['ref']} for {sent['version_tag']}"
            )
        return 0
    outcome = run_deploy(
        args.config,
        args.output_dir,
        version_tag=tag or None,
        ref=args.ref,
        progress=progress_of(args, platform),
    )
    if outcome.skipped:
        if args.json:
            print_json({"deployed": False, "skipped": outcome.skipped})
        else:
            print(f"nothing to deploy: {outcome.skipped}")
        return 0
    assert outcome.version is not None
    if args.json:
        print_json({"deployed": True, **outcome.version.as_dict(), "model_dir": str(outcome.model_dir)})
    else:
        print(f"deployed {outcome.version.tag} ({outcome.version.digest}) from {outcome.model_dir}")
    return 0
