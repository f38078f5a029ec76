"""The metadata store: every check, release, deploy and monitor run as a record, in the backend the config
names (by default the one that follows registry.backend)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from mlops_actions.domain.config import Config
from mlops_actions.errors import ConfigError
from mlops_actions.metadata.base import MetadataStore
from mlops_actions.metadata.records import Listing, RunRecord, new_record_id

DEFAULT_SQLITE_PATH = ".mlops/metadata.sqlite"  # the sqlite backend beside a registry that is not local

__all__ = [
    "Listing",
    "MetadataStore",
    "RunRecord",
    "new_record_id",
    "open_store",
    "record_run",
    "sqlite_path",
    "store_backend",
]


def store_backend(config: Config) -> str:
    """The backend a config's runs are recorded in: ``metadata.backend``, or for ``auto`` the one that follows
    ``registry.backend`` (local -> sqlite, mlflow -> mlflow, github -> github, gitlab -> git)."""
    if config.metadata_backend != "auto":
        return config.metadata_backend
    return {"local": "sqlite", "mlflow": "mlflow", "github": "github", "gitlab": "git"}[
        config.registry_backend
    ]


def open_store(config: Config, env: Mapping[str, str] | None = None) -> MetadataStore | None:
    """The store the config names (None for ``metadata.backend: off``); a ConfigError/StoreError when it
    cannot be opened."""
    env = os.environ if env is None else env
    backend = store_backend(config)
    if backend == "off":
        return None
    if backend == "sqlite":
        from mlops_actions.metadata.sqlite import SqliteStore

        return SqliteStore(sqlite_path(config, env))
    if backend == "mlflow":
        from mlops_actions.metadata.mlflow import MlflowStore

        return MlflowStore.from_config(config, env)
    if backend in ("github", "git"):
        return _open_data_branch(backend, config, env)
    raise ConfigError(
        f"{config.path}: metadata.backend: {backend!r} is not available, expected auto, sqlite, mlflow, github, "
        "git or off"
    )


def sqlite_path(config: Config, env: Mapping[str, str]) -> Path:
    """The SQLite store's file: MLOPS_METADATA_PATH, else ``metadata.path`` (relative to the config's folder),
    else ``metadata.sqlite`` in the local registry's folder (``.mlops/metadata.sqlite`` beside a remote
    registry); a ConfigError when it is a folder."""
    from_env = env.get("MLOPS_METADATA_PATH", "")
    configured = from_env or config.metadata_options.get("path")
    if configured:
        path = Path(configured) if Path(configured).is_absolute() else config.root / configured
        origin = "MLOPS_METADATA_PATH" if from_env else f"{config.path}: metadata.path"
    elif config.registry_backend == "local":
        from mlops_actions.registry import local_registry_folder

        path = local_registry_folder(config, env) / "metadata.sqlite"
        origin = f"{config.path}: the local registry's metadata.sqlite"
    else:
        path = config.root / DEFAULT_SQLITE_PATH
        origin = f"{config.path}: metadata.path (default {DEFAULT_SQLITE_PATH})"
    if path.is_dir():
        raise ConfigError(f"{origin}: {path} is a folder, expected the metadata database file")
    return path


def _open_data_branch(backend: str, config: Config, env: Mapping[str, str]) -> MetadataStore:
    """The JSON Lines data branch: through GitHub's REST API, or pushed with git (GitLab, any remote)."""
    if backend == "github":
        from mlops_actions.platforms.github.metadata import GitHubBranchStore

        options = {
            "repository": config.registry_options.get("repository"),
            "api_url": config.registry_options.get("api_url"),
            "branch": config.metadata_options.get("branch"),
        }
        return GitHubBranchStore.from_options(options, env)
    from mlops_actions.metadata.git_branch import GitBranchStore

    return GitBranchStore.from_options(config.root, config.metadata_options, env)


def record_run(
    config: Config,
    record: RunRecord,
    *,
    store: MetadataStore | None = None,
    env: Mapping[str, str] | None = None,
) -> str | None:
    """Append ``record`` to the config's store and return None, or return (and print to stderr) the one-line
    warning saying why it was not recorded. Never raises: a failed write never fails the stage."""
    opened = None
    name = "the metadata store"
    try:
        backend = store_backend(config)
        if backend == "off":
            return None
        name = f"the {backend} metadata store"
        if store is None:
            store = opened = open_store(config, env)
            if store is None:
                return None
        name = store.name
        store.append(record)
        return None
    except Exception as error:  # a failed write never fails the gate: it is said, once
        reason = " ".join(str(error).split()).removeprefix(f"{name}: ") or type(error).__name__
        warning = f"warning: this {record.stage} run was not recorded in {name}: {reason}"
        try:
            from mlops_actions.domain.secrets import current_scrubber

            warning = current_scrubber(env, config.secret_names).scrub(warning)
        except Exception:  # the scrubber failing must not hide the warning
            warning = f"warning: this {record.stage} run was not recorded in {name}"
        print(warning, file=sys.stderr)
        return warning
    finally:
        if opened is not None:
            with contextlib.suppress(Exception):  # the record is stored or already reported either way
                opened.close()
