"""`mlops-actions serve`: serve a model folder or a registry version over HTTP, with adaptive batching."""

from __future__ import annotations

import argparse

from mlops_actions.cli import add_env_option
from mlops_actions.commands._common import add_config_option


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a model over HTTP: POST /predict, /health, /ready, /metadata, /metrics",
        description="Load a model folder, or fetch a registry version by tag or alias with every digest "
        "checked, and serve it: concurrent requests are merged into one predict call (serve.max_batch_size, "
        "serve.max_latency_ms), inputs are checked against the data schema, and every prediction is "
        "appended to the prediction log (serve.log). See docs/serving.md.",
    )
    add_config_option(parser)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--model-dir", "-m", default=None, help="model folder (model.skops + metadata.json)")
    which.add_argument(
        "--version-tag", default=None, help="registry version to serve, <model>@v<MAJOR.MINOR.PATCH>"
    )
    which.add_argument("--ref", default=None, help="alias or version number to serve (default: production)")
    add_env_option(parser, "--host", env="MLOPS_SERVE_HOST", default="127.0.0.1", help="address to listen on")
    add_env_option(
        parser, "--port", env="MLOPS_SERVE_PORT", default="8080", type=int, help="port (0: any free)"
    )
    add_env_option(
        parser,
        "--workers",
        env="MLOPS_SERVE_WORKERS",
        default="1",
        type=int,
        help="worker processes sharing the port, each with its own batcher (one per core at most)",
    )
    add_env_option(
        parser,
        "--log-dir",
        env="MLOPS_PREDICTION_LOG",
        default=None,
        help="folder of the prediction log (default: serve.log.path of the config)",
    )
    parser.add_argument("--no-log", action="store_true", help="write no prediction log")
    add_env_option(
        parser,
        "--output-dir",
        "-o",
        env="MLOPS_OUTPUT_DIR",
        default="mlops-out",
        help="folder a registry version is fetched into (<output-dir>/serve/<version>)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import sys
    from pathlib import Path

    from mlops_actions.domain.config import load_config
    from mlops_actions.domain.secrets import user_code_environment
    from mlops_actions.errors import MlopsError
    from mlops_actions.serving.guards import served_guards
    from mlops_actions.serving.server import serve_forever
    from mlops_actions.serving.source import USER_SCOPE, load_served_model

    if args.workers < 1:
        raise MlopsError(f"--workers {args.workers}: expected at least 1")
    if not 0 <= args.port <= 65535:
        raise MlopsError(f"--port {args.port}: expected a port number between 0 and 65535")
    config = load_config(args.config)
    served = load_served_model(
        config,
        model_dir=args.model_dir,
        version_tag=args.version_tag,
        ref=args.ref,
        fetch_dir=Path(args.output_dir).absolute() / "serve",
    )
    settings = config.serve
    if args.no_log:
        settings = dataclasses.replace(settings, log_enabled=False)
    log_dir = Path(args.log_dir).absolute() if args.log_dir else None

    def listening(port: int) -> None:
        print(
            f"serving {served.model_name} {served.label} ({served.digest}) on http://{args.host}:{port} "
            f"with {args.workers} worker(s); schema: {served.schema_source}",
            file=sys.stderr,
            flush=True,
        )
        print(served_guards(served).notice(served.label), file=sys.stderr, flush=True)

    with user_code_environment(config, USER_SCOPE):  # the project's code answers every request
        serve_forever(
            served,
            settings,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_dir=log_dir,
            on_listening=listening,
        )
    return 0
