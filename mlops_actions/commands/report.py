"""`mlops-actions report`: render a result file as Markdown (a PR/MR comment), HTML or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mlops_actions.cli import add_env_option
from mlops_actions.errors import MlopsError

FORMATS = ("md", "html", "json")
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


def render(result: dict[str, Any], fmt: str, *, max_chars: int, links: dict[str, str] | None = None) -> str:
    """The text of a validated result document in the format ``md``, ``html`` or ``json``."""
    from mlops_actions.render import render_html, render_markdown

    if fmt == "md":
        return render_markdown(result, max_chars=max_chars, links=links)
    if fmt == "html":
        return render_html({**result, "links": {**result.get("links", {}), **(links or {})}})
    if fmt == "json":
        return json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    raise MlopsError(f"unknown report format '{fmt}', expected one of: {', '.join(FORMATS)}")


def write_atomically(path: Path, text: str) -> None:
    """Write text to path through a temporary file in the same directory, so no reader sees half of it."""
    from mlops_actions.domain.model_io import write_text_atomic

    write_text_atomic(path, text, what="the report")


def run(args: argparse.Namespace) -> int:
    from mlops_actions.render import load_result

    result = load_result(args.result)
    links = {key: url for key, url in (("html_report", args.html_url), ("run_url", args.run_url)) if url}
    text = render(result, args.format, max_chars=args.max_chars, links=links)
    if args.output and args.output != "-":
        write_atomically(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return 0
