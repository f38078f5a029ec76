"""Options shared by several commands."""

from __future__ import annotations

import argparse

from mlops_actions.cli import add_env_option


def add_config_option(parser: argparse.ArgumentParser) -> None:
    add_env_option(parser, "--config", "-c", env="MLOPS_CONFIG", default="mlops.yaml", help="config file")


def print_json(document: object) -> None:
    import json

    print(json.dumps(document, indent=2, allow_nan=False))
