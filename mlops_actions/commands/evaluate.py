"""`mlops-actions evaluate`: score a model on evaluation rows; metrics with bootstrap intervals, per slice too."""

from __future__ import annotations

import argparse

from mlops_actions.cli import add_env_option
from mlops_actions.commands._common import add_config_option


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("evaluate", help="score a model folder on evaluation rows")
    add_config_option(parser)
    parser.add_argument("--model", "-m", required=True, help="model folder written by train")
    parser.add_argument("--data", "-d", help="evaluation rows (CSV/Parquet); default: the config's eval rows")
    parser.add_argument(
        "--expected-digest",
        help="sha256:<hex> model.skops must have (a registry version's, from its manifest); "
        "default: the one in the folder's metadata.json",
    )
    add_env_option(
        parser,
        "--output-dir",
        "-o",
        env="MLOPS_EVAL_DIR",
        default="mlops-out/eval",
        help="folder for predictions",
    )
    parser.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlops_actions.commands._common import print_json
    from mlops_actions.domain.config import load_config
    from mlops_actions.domain.data.io import read_table
    from mlops_actions.domain.datasets import check_rows_to_score, load_datasets
    from mlops_actions.domain.evaluation import evaluate

    config = load_config(args.config)
    if args.data:
        frame, source = read_table(args.data), args.data
        check_rows_to_score(frame, source, config)
    else:
        frame, source = load_datasets(config).eval, "eval rows"
    evaluation = evaluate(
        args.model,
        frame,
        config,
        source=str(source),
        expected_digest=args.expected_digest,
        digest_source="--expected-digest",
    )
    evaluation.save(args.output_dir)
    if args.json:
        print_json(evaluation.to_dict())
    else:
        for row in evaluation.metrics:
            low, high = row["ci_low"], row["ci_high"]
            ci = "" if low is None else f"  [{low:.4f}, {high:.4f}]"
            value = "n/a" if row["candidate"] is None else f"{row['candidate']:.4f}"
            print(f"{row['name']:<18} {value}{ci}")
    return 0
