"""`mlops-actions report`: render a result file as Markdown (a PR/MR comment), HTML or JSON."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mlops_actions.cli import add_env_option
from mlops_actions.render.report import FORMATS

HELP = "Render mlops-result.json as Markdown (PR/MR comment), a self-contained HTML page, or JSON."


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("report", help=HELP, description=HELP)
    parser.add_argument("result", metavar="RESULT", help="the result file (mlops-result.json)")
    add_env_option(
        parser,
        "--format",
        env="MLOPS_REPORT_FORMAT",
        default="md",
        choices=FORMATS,
        help="output format: md, html or json (the validated result re-printed)",
    )
    add_env_option(
        parser,
        "-o",
        "--output",
        env="MLOPS_REPORT_OUTPUT",
        help="file to write, replaced atomically (default: standard output)",
    )
    add_env_option(
        parser,
        "--max-chars",
        env="MLOPS_REPORT_MAX_CHARS",
        default="60000",
        type=positive_int,
        help="longest Markdown report; longer parts are shortened first",
    )
    add_env_option(
        parser,
        "--html-url",
        env="MLOPS_REPORT_HTML_URL",
        help="URL of the full HTML report, linked from the Markdown report",
    )
    add_env_option(
        parser,
        "--run-url",
        env="MLOPS_RUN_URL",
        help="URL of the CI run, linked from the reports",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlops_actions.render import load_result
    from mlops_actions.render.report import report, write_report

    links = {key: url for key, url in (("html_report", args.html_url), ("run_url", args.run_url)) if url}
    text = report(load_result(args.result), max_chars=args.max_chars, links=links).text(args.format)
    if args.output and args.output != "-":
        write_report(args.output, text)
    else:
        sys.stdout.write(text)
    return 0
