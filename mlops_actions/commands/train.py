"""`mlops-actions train`: run the configured training and write the model folder."""

from __future__ import annotations

import argparse

from mlops_actions.cli import add_env_option
from mlops_actions.commands._common import add_config_option


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("train", help="train the model and save it with skops plus run metadata")
    add_config_option(parser)
    add_env_option(
        parser,
        "--output-dir",
        "-o",
        env="MLOPS_MODEL_DIR",
        default="mlops-out/model",
        help="model folder to write",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlops_actions.domain.config import load_config
    from mlops_actions.domain.training import train

    trained = train(load_config(args.config), args.output_dir)
    meta = trained.metadata
    print(
        f"trained {meta['model_name']} ({meta['estimator']}) on {meta['train_rows']} rows in "
        f"{meta['train_seconds']:.1f}s -> {trained.directory} {trained.digest}"
    )
    return 0
