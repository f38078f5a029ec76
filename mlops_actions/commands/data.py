"""`mlops-actions data`: schema inference, validation, drift and mergeable profiles of data files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_actions.cli import add_env_option
from mlops_actions.commands._common import add_engine_options, engine_options

if TYPE_CHECKING:
    from mlops_actions.engines.base import Dataset

HELP = "Data checks: infer a schema, validate data, measure drift, build and merge profiles"
SCHEMA_INFER_HELP = "Infer a reviewable schema (YAML) from one or more CSV/Parquet files"
VALIDATE_HELP = (
    "Validate CSV/Parquet files or datasets against a schema; exit 1 on violations, 2 on unreadable input"
)
DRIFT_HELP = (
    "Per-column drift and correlation changes of CURRENT against REFERENCE; exit 1 when the dataset drifts"
)
PROFILE_HELP = (
    "Build a mergeable profile (JSON) of a data file or dataset: `data profile DATA -o OUT`; one shard of it: "
    "`data profile DATA --shard I/N -o part-I.json`; or merge profiles: `data profile merge PROFILE... -o OUT`"
)
MERGE_HELP = (
    "Merge partial profiles (JSON) into one: every shard 1..N exactly once when they are shards "
    "(`data profile --shard`), all on the same bins"
)
DATA_HELP = (
    "a CSV/Parquet file, a folder (Parquet/CSV files, Hive key=value folders, a Delta table), a glob, "
    "or a URI (s3://, gs://, abfs://, hdfs://)"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help=HELP, description=HELP)
    commands = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: _usage(parser))

    schema = commands.add_parser("schema", help="Schema commands (infer)", description="Schema commands")
    schema_commands = schema.add_subparsers(dest="schema_command", metavar="SUBCOMMAND")
    schema.set_defaults(func=lambda args: _usage(schema))
    infer = schema_commands.add_parser("infer", help=SCHEMA_INFER_HELP, description=SCHEMA_INFER_HELP)
    infer.add_argument("data", nargs="+", type=Path, metavar="DATA", help="CSV or Parquet file(s)")
    infer.add_argument("-o", "--output", type=Path, help="write the schema here (default: standard output)")
    add_env_option(infer, "--target", env="MLOPS_TARGET", help="mark this column as the target")
    add_env_option(infer, "--id-column", env="MLOPS_ID_COLUMN", help="mark this column as the row id")
    infer.add_argument(
        "--max-categories",
        type=int,
        default=50,
        help="string columns with at most this many distinct values become category columns (default: 50)",
    )
    infer.set_defaults(func=run_schema_infer)

    validate = commands.add_parser("validate", help=VALIDATE_HELP, description=VALIDATE_HELP)
    validate.add_argument("data", nargs="+", metavar="DATA", help=DATA_HELP + "; one or more")
    add_env_option(
        validate, "--schema", env="MLOPS_DATA_SCHEMA", default="schema.yaml", help="schema YAML file"
    )
    validate.add_argument("--json", action="store_true", help="print the result as JSON")
    add_engine_options(validate)
    validate.set_defaults(func=run_validate)

    drift = commands.add_parser("drift", help=DRIFT_HELP, description=DRIFT_HELP)
    drift.add_argument(
        "reference", metavar="REFERENCE", help="reference data (" + DATA_HELP + ") or profile JSON"
    )
    drift.add_argument(
        "current",
        metavar="CURRENT",
        help="current data, or a profile JSON built on the reference's bins (e.g. merged shards)",
    )
    drift.add_argument("--json", action="store_true", help="print the report as JSON")
    drift.add_argument("--columns", help="comma-separated columns to compare (default: all shared columns)")
    drift.add_argument("--exclude", default="", help="comma-separated columns to leave out")
    add_env_option(drift, "--id-column", env="MLOPS_ID_COLUMN", help="row id column, left out of drift")
    add_env_option(
        drift,
        "--thresholds",
        env="MLOPS_DRIFT_THRESHOLDS",
        help="comma-separated NAME=VALUE overrides, e.g. psi=0.25,drift_share=0.3 "
        "(names: psi, wasserstein, jensenshannon, ks_pvalue, chi2_pvalue, small_sample, drift_share, "
        "correlation, correlation_pvalue; defaults in docs/data-checks.md)",
    )
    drift.add_argument(
        "--top-correlations",
        type=int,
        default=10,
        help="list this many largest correlation changes (default: 10)",
    )
    add_engine_options(drift)
    drift.set_defaults(func=run_drift)

    profile = commands.add_parser(
        "profile",
        help=PROFILE_HELP,
        description=PROFILE_HELP,
        usage=(
            "mlops-actions data profile DATA [-o OUT] [--bins-from PROFILE] [--edge-rows N] [--shard I/N]\n"
            "       [--engine {local,dask,spark}] [--dask-scheduler ADDRESS] [--spark-master URL] "
            "[--partitions N]\n"
            "       mlops-actions data profile merge PROFILE... [-o OUT]"
        ),
    )
    profile.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="DATA: " + DATA_HELP + "; or 'merge' and profile files"
    )
    profile.add_argument(
        "-o", "--output", type=Path, metavar="OUT", help="write the profile here (default: standard output)"
    )
    profile.add_argument(
        "--bins-from",
        type=Path,
        metavar="PROFILE",
        help="use the numeric bins of this profile (profile every shard with the same bins)",
    )
    profile.add_argument(
        "--edge-rows",
        type=int,
        metavar="N",
        default=100_000,
        help="numeric bins are the percentiles of the first N rows (default: 100000)",
    )
    profile.add_argument(
        "--shard",
        metavar="I/N",
        help="profile only shard I of N (a contiguous share of the files, row groups or byte ranges) and "
        "record it in the partial profile; merge the N parts with `data merge`",
    )
    add_engine_options(profile)
    profile.set_defaults(func=run_profile)

    merge = commands.add_parser("merge", help=MERGE_HELP, description=MERGE_HELP)
    merge.add_argument("parts", nargs="+", metavar="PART", help="partial profile JSON files")
    merge.add_argument(
        "-o", "--output", type=Path, metavar="OUT", help="write the profile here (default: standard output)"
    )
    merge.set_defaults(func=run_merge)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    from mlops_actions.domain.model_io import write_text_atomic

    write_text_atomic(output, text)
    print(f"wrote {output}", file=sys.stderr)


def run_schema_infer(args: argparse.Namespace) -> int:
    from mlops_actions.domain.data.profile import build_profile
    from mlops_actions.domain.data.schema import dump_schema, infer_schema
    from mlops_actions.errors import ConfigError

    if args.max_categories < 1:
        raise ConfigError(f"--max-categories must be at least 1, got {args.max_categories}")
    profiles = [build_profile(path, bins=False, correlation=False) for path in args.data]
    schema = infer_schema(
        profiles, target=args.target, id_column=args.id_column, max_categories=args.max_categories
    )
    _emit(dump_schema(schema), args.output)
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from mlops_actions.domain.data.render import render_validation_text
    from mlops_actions.domain.data.schema import load_schema
    from mlops_actions.engines.base import open_engine
    from mlops_actions.engines.data_jobs import data_dataset, validate_dataset

    schema = load_schema(args.schema)
    datasets = [data_dataset(text) for text in args.data]
    engine = open_engine(engine_options(args))
    try:
        results = [validate_dataset(engine, dataset, schema) for dataset in datasets]
    finally:
        engine.close()
    failed = any(not result.passed for result in results)
    if args.json:
        payload = {
            "status": "fail" if failed else "pass",
            "schema": str(args.schema),
            "files": [result.to_dict() for result in results],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        sys.stdout.write(render_validation_text(results, str(args.schema)))
    return 1 if failed else 0


def _data_or_profile(text: str) -> Path | Dataset:
    """A profile JSON file (a Path) or a dataset."""
    if "://" not in text and Path(text).suffix.lower() == ".json":
        return Path(text)
    from mlops_actions.engines.data_jobs import data_dataset

    return data_dataset(text)


def run_drift(args: argparse.Namespace) -> int:
    from mlops_actions.domain.data.drift import drift_to_dict, parse_threshold_options
    from mlops_actions.domain.data.render import render_drift_text
    from mlops_actions.engines.base import open_engine
    from mlops_actions.engines.data_jobs import drift_dataset

    thresholds = parse_threshold_options([args.thresholds] if args.thresholds else [])
    exclude = _split(args.exclude) + ([args.id_column] if args.id_column else [])
    reference, current = _data_or_profile(args.reference), _data_or_profile(args.current)
    engine = open_engine(engine_options(args))
    try:
        report = drift_dataset(
            engine,
            reference,
            current,
            columns=_split(args.columns) or None,
            exclude=exclude,
            thresholds=thresholds,
            top_correlations=max(0, args.top_correlations),
        )
    finally:
        engine.close()
    if args.json:
        sys.stdout.write(json.dumps(drift_to_dict(report), indent=2, allow_nan=False) + "\n")
    else:
        sys.stdout.write(render_drift_text(report))
    return 1 if report.drifted else 0


def run_profile(args: argparse.Namespace) -> int:
    from mlops_actions.domain.data.profile import load_profile, profile_to_dict
    from mlops_actions.engines.base import open_engine, parse_shard
    from mlops_actions.engines.data_jobs import data_dataset, profile_dataset, shard_profile_document
    from mlops_actions.errors import ConfigError

    inputs = list(args.inputs)
    if inputs[0] == "merge":
        if len(inputs) < 2:
            raise ConfigError("data profile merge needs at least one profile file")
        return _merge(inputs[1:], args.output)
    if len(inputs) != 1:
        raise ConfigError("data profile takes one data file (use `data profile merge` to combine profiles)")
    if args.edge_rows < 1:
        raise ConfigError(f"--edge-rows must be at least 1, got {args.edge_rows}")
    shard = parse_shard(args.shard) if args.shard is not None else None
    options = engine_options(args)
    edges_from = load_profile(args.bins_from) if args.bins_from else None
    dataset = data_dataset(inputs[0])
    engine = open_engine(options)
    try:
        profile = profile_dataset(
            engine, dataset, edges_from=edges_from, edge_rows=args.edge_rows, shard=shard
        )
    finally:
        engine.close()
    document = (
        shard_profile_document(profile, shard, dataset) if shard is not None else profile_to_dict(profile)
    )
    _emit(json.dumps(document, allow_nan=False) + "\n", args.output)
    return 0


def run_merge(args: argparse.Namespace) -> int:
    return _merge(args.parts, args.output)


def _merge(paths: list[str], output: Path | None) -> int:
    """Merge profile files (shards checked complete) and write the merged profile."""
    from mlops_actions.domain.data.profile import profile_to_dict, read_profile_document
    from mlops_actions.engines.data_jobs import merge_profile_documents

    documents = [(str(Path(path)), read_profile_document(path)) for path in paths]
    profile = merge_profile_documents(documents)
    _emit(json.dumps(profile_to_dict(profile), allow_nan=False) + "\n", output)
    return 0
