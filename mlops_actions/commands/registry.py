"""`mlops-actions publish|history|fetch|registry deploys`: the model registry by hand."""

from __future__ import annotations

import argparse

from mlops_actions.commands._common import add_config_option


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    publish = subparsers.add_parser("publish", help="publish a model folder as a new version in the registry")
    add_config_option(publish)
    publish.add_argument("model_dir", help="model folder written by train")
    publish.add_argument("--version", required=True, help="semantic version, e.g. 1.2.0")
    publish.add_argument("--alias", action="append", default=[], help="alias to point at it, e.g. production")
    publish.add_argument("--metrics", help="JSON file of metrics to record (e.g. an evaluation.json)")
    publish.set_defaults(func=run_publish)

    history = subparsers.add_parser("history", help="list published versions with metrics and lineage")
    add_config_option(history)
    history.add_argument("--json", action="store_true", help="print a JSON list")
    history.add_argument(
        "--trend",
        action="store_true",
        help="write the trend dashboard (metrics per version, checks, deploys, monitor runs) as one HTML "
        "file and print its Markdown summary",
    )
    history.add_argument(
        "--output", default="mlops-out/trend", help="folder of the dashboard's index.html, with --trend"
    )
    history.set_defaults(func=run_history)

    fetch = subparsers.add_parser("fetch", help="copy a version (or alias) to a folder, digests checked")
    add_config_option(fetch)
    fetch.add_argument("ref", help="version (1.2.0) or alias (production)")
    fetch.add_argument("--output-dir", "-o", required=True, help="destination folder")
    fetch.set_defaults(func=run_fetch)

    registry = subparsers.add_parser("registry", help="read what the registry keeps besides versions")
    actions = registry.add_subparsers(dest="registry_command", metavar="ACTION", required=True)
    deploys = actions.add_parser(
        "deploys", help="list the deploy records (deployed, rolled back, failed; figures), oldest first"
    )
    add_config_option(deploys)
    deploys.add_argument("--version", help="only this version's records, e.g. 1.2.0 (default: every version)")
    deploys.add_argument("--json", action="store_true", help="print a JSON list")
    deploys.add_argument("--markdown", action="store_true", help="print a Markdown table")
    deploys.set_defaults(func=run_deploys)


def _metric_values(document: object) -> dict[str, object]:
    """Flatten an evaluation.json / result metrics list into {name: {value, ci_low, ci_high}}."""
    if isinstance(document, dict) and isinstance(document.get("metrics"), list):
        return {
            row["name"]: {
                "value": row.get("candidate"),
                "ci_low": row.get("ci_low"),
                "ci_high": row.get("ci_high"),
            }
            for row in document["metrics"]
        }
    return dict(document) if isinstance(document, dict) else {}


def run_publish(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from mlops_actions.domain.config import load_config
    from mlops_actions.errors import MlopsError
    from mlops_actions.registry import open_registry

    config = load_config(args.config)
    metrics: dict[str, object] = {}
    if args.metrics:
        try:
            metrics = _metric_values(json.loads(Path(args.metrics).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as error:
            raise MlopsError(f"{args.metrics}: cannot read metrics JSON: {error}") from None
    registry = open_registry(config)
    version = registry.publish(Path(args.model_dir), version=args.version, metrics=metrics)
    for alias in args.alias:
        registry.set_alias(alias, version.version)
    print(
        f"published {version.tag} {version.digest}"
        + (f" aliases: {', '.join(args.alias)}" if args.alias else "")
    )
    return 0


def run_history(args: argparse.Namespace) -> int:
    from mlops_actions.commands._common import print_json
    from mlops_actions.domain.config import load_config
    from mlops_actions.registry import open_registry

    if args.trend:
        return _run_trend(args)
    versions = open_registry(load_config(args.config)).list_versions()
    if args.json:
        print_json([v.as_dict() for v in versions])
        return 0
    if not versions:
        print("no versions published yet")
    for v in versions:
        aliases = f" [{', '.join(v.aliases)}]" if v.aliases else ""
        commit = (v.commit or "-")[:12]
        print(f"{v.tag:<32} {v.created:<21} commit {commit} {v.digest[:19]}{aliases}")
    return 0


def _run_trend(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from mlops_actions.commands._common import print_json
    from mlops_actions.domain.config import load_config
    from mlops_actions.stages.trends import write_dashboard

    dashboard = write_dashboard([load_config(args.config)], Path(args.output))
    if args.json:
        print_json([trend.to_dict() for trend in dashboard.trends])
    else:
        print(dashboard.markdown, end="")
    print(f"dashboard: {dashboard.path}", file=sys.stderr)
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mlops_actions.domain.config import load_config
    from mlops_actions.errors import MlopsError
    from mlops_actions.registry import open_registry
    from mlops_actions.registry.base import fetch_whole

    config = load_config(args.config)
    destination = Path(args.output_dir)
    if destination.exists() or destination.is_symlink():
        kind = "a folder" if destination.is_dir() else "a file"
        raise MlopsError(
            f"{destination}: already exists ({kind}), expected a new folder to fetch {args.ref!r} into"
        )
    path = fetch_whole(open_registry(config), args.ref, destination)
    print(path)
    return 0


def run_deploys(args: argparse.Namespace) -> int:
    from mlops_actions.commands._common import print_json
    from mlops_actions.domain.config import load_config
    from mlops_actions.domain.semver import format_version, parse_version
    from mlops_actions.errors import MlopsError
    from mlops_actions.registry import open_registry
    from mlops_actions.render.deploys import deploys_markdown, deploys_text

    registry = open_registry(load_config(args.config))
    version = None
    if args.version is not None:
        version = format_version(parse_version(args.version))
        if registry.resolve(version) is None:
            raise MlopsError(f"--version: the registry has no version {version}")
    records = registry.deploy_records(version)
    if args.json:
        print_json(records)
    elif args.markdown:
        print(deploys_markdown(records), end="")
    else:
        print(deploys_text(records), end="")
    return 0
