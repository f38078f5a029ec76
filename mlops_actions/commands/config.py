"""`mlops-actions config schema|validate`."""

from __future__ import annotations

import argparse

from mlops_actions.commands._common import add_config_option


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("config", help="print the config's JSON Schema or validate a config file")
    actions = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    schema = actions.add_parser("schema", help="print the JSON Schema of mlops.yaml (for editor completion)")
    schema.set_defaults(func=run_schema)
    validate = actions.add_parser("validate", help="check a config file; one line per problem")
    add_config_option(validate)
    validate.set_defaults(func=run_validate)


def run_schema(args: argparse.Namespace) -> int:
    from mlops_actions.commands._common import print_json
    from mlops_actions.config import CONFIG_SCHEMA

    print_json(CONFIG_SCHEMA)
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from mlops_actions.config import load_config

    config = load_config(args.config)
    print(
        f"{args.config}: valid (model {config.model_name}, task {config.task}, primary metric {config.primary_metric})"
    )
    return 0
