"""`mlops-actions monitor`: check prediction logs, window by window, against the release-time profile."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from mlops_actions.cli import add_env_option
from mlops_actions.commands._common import add_config_option, add_engine_options

if TYPE_CHECKING:
    from mlops_actions.domain.config import Config
    from mlops_actions.engines.base import Engine

HELP = (
    "check prediction logs per time window: NaN outputs, schema, out-of-range inputs, input and output drift"
)
MONITOR_JSON, MONITOR_MD, MONITOR_HTML = "monitor.json", "monitor.md", "monitor.html"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "monitor",
        help=HELP,
        description=HELP
        + ", against the version's training-data profile stored at release (or --reference). "
        "Exit 0 when no check fails, 1 when one does, 2 on bad input or when --alert cannot reach the "
        "forge. See docs/monitoring.md.",
    )
    add_config_option(parser)
    add_env_option(
        parser,
        "--logs",
        env="MLOPS_PREDICTION_LOGS",
        required=False,
        help="prediction log file, folder or glob (JSON Lines, CSV or Parquet), or a URI (s3://, gs://, "
        "abfs://, hdfs://) or a Delta table with --engine",
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
        "--logs-command",
        env="MLOPS_LOGS_COMMAND",
        help="shell command that fetches the logs first (run without the forge's tokens or secrets)",
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
    parser.add_argument(
        "--no-record",
        action="store_true",
        help="do not store this run's window states with the version in the registry, nor the run in the "
        "metadata store (the trend still shows the stored ones)",
    )
    add_env_option(
        parser,
        "--out",
        env="MLOPS_OUTPUT_DIR",
        default=None,
        help="write monitor.json, monitor.md and monitor.html here",
    )
    add_engine_options(parser)
    add_alert_options(parser)
    parser.set_defaults(func=run)


def add_alert_options(parser: argparse.ArgumentParser) -> None:
    """``--alert`` and ``--dispatch-retrain`` (env MLOPS_MONITOR_ALERT / MLOPS_MONITOR_RETRAIN), ``--platform``."""
    from mlops_actions.cli import env_default
    from mlops_actions.commands._common import add_platform_option

    def flag(variable: str) -> bool:
        return (env_default(variable, "") or "").strip().lower() in ("1", "true", "yes", "on")

    parser.add_argument(
        "--alert",
        action="store_true",
        default=flag("MLOPS_MONITOR_ALERT"),
        help="keep the model's monitor issue: open or update it while a check fails, close it when they "
        "pass; env MLOPS_MONITOR_ALERT",
    )
    parser.add_argument(
        "--dispatch-retrain",
        action="store_true",
        default=flag("MLOPS_MONITOR_RETRAIN"),
        help="start monitor.retrain.workflow after monitor.retrain.after_windows breaching windows in a row, "
        "once per breach (recorded in the monitor issue, which it keeps too); env MLOPS_MONITOR_RETRAIN",
    )
    add_platform_option(parser)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from mlops_actions.commands._common import print_json
    from mlops_actions.domain.config import load_config
    from mlops_actions.domain.model_io import write_json_atomic, write_text_atomic
    from mlops_actions.errors import UsageError
    from mlops_actions.render.monitor import render_monitor_markdown
    from mlops_actions.render.monitor_html import render_monitor_html
    from mlops_actions.stages.monitor import monitor_logs

    if not args.logs:
        raise UsageError(
            "monitor: --logs is required (a prediction log file, folder or glob; env MLOPS_PREDICTION_LOGS)"
        )
    config = load_config(args.config)
    engine = monitor_engine(args)
    try:
        done = monitor_logs(
            config,
            args.logs,
            logs_command=args.logs_command,
            reference_file=args.reference,
            ref=args.ref,
            version_tag=args.version_tag,
            labels=args.labels,
            window=args.window,
            since=args.since,
            record=not args.no_record,
            engine=engine,
        )
    finally:
        if engine is not None:
            engine.close()
    for warning in done.warnings:
        print(f"mlops-actions: warning: {warning}", file=sys.stderr)
    result, document = done.result, done.document
    markdown = render_monitor_markdown(document)
    if args.out:
        out = Path(args.out)
        write_json_atomic(out / MONITOR_JSON, document)
        write_text_atomic(out / MONITOR_MD, markdown, what=str(out / MONITOR_MD))
        html = render_monitor_html(document)
        write_text_atomic(out / MONITOR_HTML, html, what=str(out / MONITOR_HTML))
    if args.json:
        print_json(document)
    else:
        sys.stdout.write(markdown)
    exit_code = 1 if result.failed else 0
    if args.alert or args.dispatch_retrain:
        exit_code = max(exit_code, alert(args, config, document, result))
    return exit_code


def monitor_engine(args: argparse.Namespace) -> Engine | None:
    """The engine the monitor runs on: None for the local engine without ``--partitions`` on local log files
    (they are read in order, here, as fast as they can be), else the engine ``--engine`` names."""
    from mlops_actions.commands._common import engine_options
    from mlops_actions.engines.base import open_engine
    from mlops_actions.monitoring.job import needs_engine

    options = engine_options(args)
    if options.name == "local" and options.partitions is None and not needs_engine(args.logs):
        return None
    return open_engine(options)


def alert(args: argparse.Namespace, config: Config, document: dict[str, Any], result: Any) -> int:
    """Sync the monitor issue (and dispatch the retrain when asked); 2 when the forge fails (said in one
    line), else 0."""
    import sys

    from mlops_actions.cli import print_error
    from mlops_actions.commands._common import platform_of
    from mlops_actions.errors import ForgeError
    from mlops_actions.monitoring.state import WindowState, result_states
    from mlops_actions.render.monitor_alert import outcome_lines
    from mlops_actions.stages.monitor_alert import retrain_decision, sync_monitor_issue

    history = document.get("history")
    states = [WindowState.from_dict(s) for s in history] if history else result_states(result)
    decision = retrain_decision(config, states) if args.dispatch_retrain else None
    try:
        outcome = sync_monitor_issue(platform_of(args), config, document, retrain=decision)
    except ForgeError as error:
        print_error(error)
        return 2
    for line in outcome_lines(outcome.to_dict()):
        print(line, file=sys.stderr)
    return 2 if outcome.retrain is not None and outcome.retrain.action == "failed" else 0
