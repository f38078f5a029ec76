"""`mlops-actions config schema|validate`."""

from __future__ import annotations

import argparse

from mlops_actions.commands._common import add_config_option


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "config",
        help="print the config's JSON Schema or validate a config file",
        description="mlops.yaml describes one model: model (name, task), train (entrypoint or command, params, "
        "trusted_types), data (train, eval or split, target, id, slices, schema), metrics, gate (rules), tests, "
        "registry, baseline and deploy.",
        epilog="'mlops-actions config schema' prints every key with its description and default; "
        "'mlops-actions config validate mlops.yaml' checks a file before anything trains.",
    )
    actions = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    schema = actions.add_parser("schema", help="print the JSON Schema of mlops.yaml (for editor completion)")
    schema.set_defaults(func=run_schema)
    validate = actions.add_parser(
        "validate",
        help="check a config file before anything trains: keys and values, the entrypoint imports, "
        "train.trusted_types resolve, the data files and the columns they name exist; one line per problem",
    )
    validate.add_argument("file", nargs="?", help="the config file (instead of --config)")
    add_config_option(validate)
    validate.set_defaults(func=run_validate)


def run_schema(args: argparse.Namespace) -> int:
    from mlops_actions.commands._common import print_json
    from mlops_actions.domain.config import CONFIG_SCHEMA

    print_json(CONFIG_SCHEMA)
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from mlops_actions.domain.config import load_config
    from mlops_actions.stages.preflight import preflight

    path = args.file or args.config
    config = load_config(path)
    report = preflight(config)
    report.raise_for_problems()
    print(
        f"{path}: valid (model {config.model_name}, task {config.task}, primary metric {config.primary_metric})"
    )
    for finding in report.findings:
        print(f"  ok  {finding.subject}: {finding.detail}")
    return 0
