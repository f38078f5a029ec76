"""``mlops-actions widgets``: the JUnit and dotenv reports of a ``mlops-result.json`` for CI widgets.

``mlops-actions check`` writes them itself on GitLab CI; this command writes them from any result file,
e.g. in a job that did not run the check, or to look at them locally.
"""

from __future__ import annotations

import argparse

HELP = (
    "write the JUnit report (one test case per gate rule and data check) and the dotenv report (verdict "
    "and key metrics) of a mlops-result.json, for GitLab's merge request widgets"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from mlops_actions.cli import add_env_option

    parser = subparsers.add_parser("widgets", help=HELP, description=HELP)
    add_env_option(
        parser,
        "--result",
        env="MLOPS_RESULT",
        default="mlops-out/mlops-result.json",
        help="result file written by check",
    )
    parser.add_argument(
        "--output-dir",
        "-o",
        default=None,
        help="folder for mlops-junit.xml and mlops.env (default: the result file's folder)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from mlops_actions.platforms.gitlab.job import report_links, write_job_reports
    from mlops_actions.render import load_result

    result_path = Path(args.result)
    result = load_result(result_path)
    folder = Path(args.output_dir) if args.output_dir else result_path.parent
    html = result_path.parent / "report.html"
    links = report_links({"html": str(html.resolve())}, os.environ) if html.is_file() else {}
    written = write_job_reports(result, folder, links)
    print(f"wrote {written['junit']} and {written['dotenv']}")
    return 0
