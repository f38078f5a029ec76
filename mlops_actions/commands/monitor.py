"""`mlops-actions monitor`: check prediction logs, window by window, against the release-time profile."""

from __future__ import annotations

import argparse

from mlops_actions.cli import add_env_option
from mlops_actions.commands._common import add_config_option

HELP = (
    "check prediction logs per time window: NaN outputs, schema, out-of-range inputs, input and output drift"
)
MONITOR_JSON, MONITOR_MD = "monitor.json", "monitor.md"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "monitor",
        help=HELP,
        description=HELP
        + ", against the version's training-data profile stored at release (or --reference). "
        "Exit 0 when no check fails, 1 when one does, 2 on bad input. See docs/monitoring.md.",
    )
    add_config_option(parser)
    add_env_option(
        parser,
        "--logs",
        env="MLOPS_PREDICTION_LOGS",
        required=False,
        help="prediction log file, folder or glob (JSON Lines, CSV or Parquet)",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--ref", default=None, help="alias or version whose profile is the reference (default: production)"
    )
    which.add_argument(
        "--version-tag", default=None, help="version whose profile is the reference, <model>@vX.Y.Z"
    )
    which.add_argument(
        "--reference", default=None, help="a profile file as the reference (data profile output)"
    )
    add_env_option(
        parser, "--window", env="MLOPS_MONITOR_WINDOW", default="1d", help="window length: 30m, 1h, 1d, 7d"
    )
    add_env_option(
        parser, "--since", env="MLOPS_MONITOR_SINCE", help="only rows at or after this ISO 8601 time"
    )
    add_env_option(
        parser,
        "--labels",
        env="MLOPS_MONITOR_LABELS",
        help="label file, folder or glob (CSV, JSON Lines or Parquet): rows of request_id or data.id, and "
        "the target; joined to the logged rows for the performance check",
    )
    parser.add_argument(
        "--json", action="store_true", help="print monitor.json instead of the Markdown report"
    )
    add_env_option(
        parser, "--out", env="MLOPS_OUTPUT_DIR", default=None, help="write monitor.json and monitor.md here"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from mlops_actions.commands._common import print_json
    from mlops_actions.domain.config import load_config
    from mlops_actions.domain.model_io import write_json_atomic, write_text_atomic
    from mlops_actions.errors import UsageError
    from mlops_actions.monitoring.reference import reference_from_file, reference_from_registry
    from mlops_actions.monitoring.run import run_monitor
    from mlops_actions.render.monitor import render_monitor_markdown

    if not args.logs:
        raise UsageError(
            "monitor: --logs is required (a prediction log file, folder or glob; env MLOPS_PREDICTION_LOGS)"
        )
    config = load_config(args.config)
    if args.reference:
        reference = reference_from_file(args.reference)
    else:
        reference = reference_from_registry(config, ref=args.ref, version_tag=args.version_tag)
    labels = None
    if args.labels:
        from mlops_actions.monitoring.labels import read_labels

        labels = read_labels(args.labels, config)
    result = run_monitor(config, args.logs, reference, window=args.window, since=args.since, labels=labels)
    document = result.to_dict()
    markdown = render_monitor_markdown(document)
    if args.out:
        out = Path(args.out)
        write_json_atomic(out / MONITOR_JSON, document)
        write_text_atomic(out / MONITOR_MD, markdown, what=str(out / MONITOR_MD))
    if args.json:
        print_json(document)
    else:
        sys.stdout.write(markdown)
    return 1 if result.failed else 0
