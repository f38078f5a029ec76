"""`mlops-actions loadtest`: load a served model with the config's profile and judge its thresholds."""

from __future__ import annotations

import argparse

from mlops_actions.cli import add_env_option
from mlops_actions.commands._common import add_config_option, add_platform_option, add_progress_option

JSON_FILE = "loadtest.json"
MARKDOWN_FILE = "loadtest.md"


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text[:40]!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"expected more than 0 and at most 3600 seconds, got {text[:40]!r}")
    return value


def _user_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of users, got {text[:40]!r}") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"expected between 1 and 1000 users, got {value}")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "loadtest",
        help="load a model server (POST /predict) with the config's profile and judge its thresholds",
        description="Send POST /predict requests to URL with loadtest.users concurrent users for "
        "loadtest.duration_s seconds (or loadtest.max_requests requests), their rows drawn from the eval data "
        "per loadtest.mix, and judge loadtest.thresholds (p95_ms, p99_ms, error_rate, min_rps). Writes "
        f"{JSON_FILE} and {MARKDOWN_FILE} into --out and the job summary. Exit 0: passed; 1: a threshold "
        "failed; 2: the load could not run. Needs mlops-actions[loadtest]. See docs/loadtest.md.",
    )
    add_env_option(
        parser,
        "--url",
        env="MLOPS_LOADTEST_URL",
        default=None,
        help="base URL of the model server, e.g. http://127.0.0.1:8080",
    )
    add_config_option(parser)
    parser.add_argument(
        "--duration",
        type=_positive_number,
        default=None,
        metavar="S",
        help="run time in seconds (default: loadtest.duration_s)",
    )
    parser.add_argument(
        "--users",
        type=_user_count,
        default=None,
        metavar="N",
        help="concurrent users (default: loadtest.users)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of Markdown")
    add_env_option(
        parser,
        "--out",
        "--output-dir",
        "-o",
        env="MLOPS_OUTPUT_DIR",
        default="mlops-out",
        help=f"folder {JSON_FILE} and {MARKDOWN_FILE} are written to",
    )
    add_platform_option(parser)
    add_progress_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from mlops_actions.commands._common import platform_of, print_json, progress_of
    from mlops_actions.domain.config import load_config
    from mlops_actions.domain.model_io import write_json_atomic, write_text_atomic
    from mlops_actions.errors import UsageError
    from mlops_actions.render.loadtest import loadtest_markdown
    from mlops_actions.serving.loadtest import check_url, request_rows, run_load_test

    if not args.url:
        raise UsageError("loadtest needs --url (or MLOPS_LOADTEST_URL), e.g. http://127.0.0.1:8080")
    check_url(args.url)
    config = load_config(args.config)
    settings = config.loadtest
    if args.users is not None:
        settings = dataclasses.replace(settings, users=args.users)
    platform = platform_of(args)
    progress = progress_of(args, platform)
    duration = args.duration if args.duration is not None else settings.duration_s
    with progress.step(f"load test: {settings.users} users for {duration:g} s on {args.url}") as step:
        rows = request_rows(config)
        result = run_load_test(args.url, settings, rows, duration_s=duration)
        step.done(f"{'passed' if result.passed else 'failed'}, {result.requests} requests")
    markdown = loadtest_markdown(result, args.url)
    out = Path(args.out)
    json_path, markdown_path = out / JSON_FILE, out / MARKDOWN_FILE
    document = {"url": args.url, **result.as_dict()}
    write_json_atomic(json_path, document)
    write_text_atomic(markdown_path, markdown, what="the load test report")
    platform.write_outputs(
        {
            "loadtest-passed": str(result.passed).lower(),
            "loadtest-result-path": str(json_path),
            "loadtest-report-path": str(markdown_path),
        },
        markdown,
    )
    if args.json:
        print_json(document)
    else:
        print(markdown, end="")
    return 0 if result.passed else 1
