"""`mlops-actions runs list|show`: the runs the metadata store recorded (checks, releases, deploys, monitors)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mlops_actions.commands._common import add_config_option

if TYPE_CHECKING:
    from mlops_actions.domain.config import Config
    from mlops_actions.metadata.base import MetadataStore
    from mlops_actions.metadata.records import Listing


def stage_name(value: str) -> str:
    """A ``--stage`` value: one of the recorded stages."""
    from mlops_actions.metadata.records import STAGES

    if value not in STAGES:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(STAGES)}, got {value[:40]!r}")
    return value


def positive_count(value: str) -> int:
    """A ``--limit`` value: a whole number above zero."""
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, got {value[:40]!r}")
    return count


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    runs = subparsers.add_parser("runs", help="read the runs the metadata store recorded (docs/metadata.md)")
    actions = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="list recorded runs, oldest first")
    add_config_option(listing)
    listing.add_argument("--model", help="only this model's runs (default: every model in the store)")
    listing.add_argument(
        "--stage",
        type=stage_name,
        metavar="STAGE",
        help="only this stage's runs: check, release, deploy or monitor",
    )
    listing.add_argument("--limit", type=positive_count, metavar="N", help="only the newest N runs")
    listing.add_argument("--json", action="store_true", help="print a JSON object: store, records, warnings")
    listing.set_defaults(func=run_list)

    show = actions.add_parser("show", help="show one recorded run with every field")
    add_config_option(show)
    show.add_argument("id", help="the run's id, or enough of its start to name one run")
    show.add_argument("--json", action="store_true", help="print the record as JSON")
    show.set_defaults(func=run_show)


def _open(config: Config) -> MetadataStore:
    from mlops_actions.errors import ConfigError
    from mlops_actions.metadata import open_store

    store = open_store(config)
    if store is None:
        raise ConfigError(f"{config.path}: metadata.backend is off: no runs are recorded")
    return store


def _read(config: Config, model: str | None = None) -> tuple[str, Listing]:
    """The store's name and its records (of ``model``), the unreadable ones warned of on stderr."""
    import sys

    store = _open(config)
    try:
        listing = store.list_records(model)
    finally:
        store.close()
    for warning in listing.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return store.name, listing


def run_list(args: argparse.Namespace) -> int:
    from mlops_actions.commands._common import print_json
    from mlops_actions.domain.config import load_config
    from mlops_actions.metadata.records import select_records
    from mlops_actions.render.runs import runs_text

    config = load_config(args.config)
    name, listing = _read(config, args.model)
    chosen = select_records(listing, model=args.model, stage=args.stage, limit=args.limit)
    if args.json:
        print_json(
            {"store": name, "records": [r.as_dict() for r in chosen.records], "warnings": chosen.warnings}
        )
    else:
        print(runs_text(chosen.records, primary=config.primary_metric), end="")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from mlops_actions.commands._common import print_json
    from mlops_actions.domain.config import load_config
    from mlops_actions.errors import MlopsError
    from mlops_actions.metadata.records import find_record
    from mlops_actions.render.runs import run_text

    name, listing = _read(load_config(args.config))
    try:
        record = find_record(listing, args.id)
    except LookupError as error:
        raise MlopsError(f"{name}: {error}") from None
    if args.json:
        print_json(record.as_dict())
    else:
        print(run_text(record), end="")
    return 0
