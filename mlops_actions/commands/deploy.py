"""`mlops-actions deploy`: fetch a released version, start it, smoke- and load-test it, promote or roll back."""

from __future__ import annotations

import argparse

from mlops_actions.cli import add_env_option
from mlops_actions.commands._common import add_config_option, add_platform_option, add_progress_option


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "deploy",
        help="deploy a released version: fetch, start, smoke test, load test, then promote or roll back",
        description="Fetch <model>@vX.Y.Z (or the version an alias names) from the registry with every digest "
        "checked, start it (the built-in server on this runner, or deploy.command), wait until GET /ready "
        "answers, check known eval rows against the answers recorded at release time, load-test it against "
        "loadtest.thresholds, then move 'production' to it; on any failure start the previous version again, "
        "smoke-test it and hand 'production' back (exit code 1). Writes deploy-report.md and "
        "deploy-result.json to the output folder and a deploy record to the registry (docs/deploy.md). With "
        "--dispatch, ask the CI platform to run the deploy workflow for the tag instead (GitHub: "
        "workflow_dispatch; GitLab: a new pipeline with MLOPS_DISPATCH and MLOPS_VERSION_TAG; local: a file "
        "under .mlops/dispatches).",
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
        help="folder the version is fetched into (<output-dir>/deploy/<version>) and the report written to",
    )
    add_env_option(
        parser,
        "--load-duration",
        env="MLOPS_DEPLOY_LOAD_DURATION",
        default=None,
        type=float,
        metavar="S",
        help="seconds the load test runs (default: loadtest.duration_s)",
    )
    parser.add_argument(
        "--no-load", action="store_true", help="smoke-test only, no load test (as deploy.load: false)"
    )
    parser.add_argument(
        "--keep-serving",
        action="store_true",
        help="built-in server: keep the version that passed (or was rolled back to) serving until SIGTERM",
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
    parser.add_argument(
        "--json", action="store_true", help="print the deploy result (or what was dispatched) as JSON"
    )
    add_platform_option(parser)
    add_progress_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os
    import sys

    from mlops_actions.commands._common import platform_of, print_json, progress_of
    from mlops_actions.errors import DeployFailed, MlopsError
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
    if args.load_duration is not None and not args.load_duration > 0:
        raise MlopsError(f"--load-duration {args.load_duration:g}: expected a number of seconds above 0")
    outcome = run_deploy(
        args.config,
        args.output_dir,
        version_tag=tag or None,
        ref=args.ref,
        progress=progress_of(args, platform),
        platform=platform,
        load=False if args.no_load else None,
        load_duration=args.load_duration,
        keep_serving=args.keep_serving,
    )
    if outcome.skipped:
        if args.json:
            print_json({"deployed": False, "skipped": outcome.skipped})
        else:
            print(f"nothing to deploy: {outcome.skipped}")
        return 0
    assert outcome.version is not None and outcome.report is not None
    try:
        result = outcome.result()
        platform.write_outputs(
            {
                "outcome": outcome.report.outcome,
                "version": outcome.version.version,
                "tag": outcome.version.tag,
                "report-path": str(outcome.paths.get("report", "")),
                "result-path": str(outcome.paths.get("result", "")),
            },
            outcome.markdown,
        )
        if args.json:
            print_json(result)
        else:
            if outcome.failure is None:
                print(f"deployed {outcome.version.tag} ({outcome.version.digest}) from {outcome.model_dir}")
            print(f"  {outcome.report.headline}")
            print(f"  report: {outcome.paths.get('report')}")
        if outcome.serving is not None:
            print(
                f"serving {outcome.serving.tag} on {outcome.serving.url} until SIGTERM",
                file=sys.stderr,
                flush=True,
            )
            sys.stdout.flush()
            outcome.serving.serve_until_stopped()
    finally:
        outcome.close()
    if outcome.failure is not None:
        raise DeployFailed(outcome.failure)
    return 0
