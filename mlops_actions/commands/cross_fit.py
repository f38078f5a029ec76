"""`mlops-actions cross-fit`: train the configured code on each fold of a folds folder and score its held-out rows."""

from __future__ import annotations

import argparse
from pathlib import Path

from mlops_actions.cli import add_env_option
from mlops_actions.commands._common import add_config_option


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "cross-fit",
        help="train on each fold's training rows and score its held-out rows (what gate.evaluation cross_fit runs)",
    )
    add_config_option(parser)
    parser.add_argument(
        "--folds",
        required=True,
        help="folder of fold-N-train.csv and fold-N-heldout.csv files (N = 1, 2, ...), as the check writes them",
    )
    add_env_option(
        parser,
        "--output-dir",
        "-o",
        env="MLOPS_CROSS_FIT_DIR",
        default="mlops-out/cross-fit",
        help="folder for each fold's predictions (fold-N) and model (fold-N-model)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlops_actions.domain.config import load_config
    from mlops_actions.domain.cross_fit import score_folds

    written = score_folds(load_config(args.config), Path(args.folds), Path(args.output_dir))
    print(f"scored {len(written)} held-out folds -> {Path(args.output_dir)}")
    return 0
