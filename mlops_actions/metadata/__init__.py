"""The metadata store: every check, release, deploy and monitor run as a record, in the backend the config
names (by default the one that follows registry.backend)."""

from __future__ import annotations

from collections.abc import Mapping

from mlops_actions.domain.config import Config
from mlops_actions.metadata.base import MetadataStore
from mlops_actions.metadata.records import Listing, RunRecord, new_record_id

__all__ = [
    "Listing",
    "MetadataStore",
    "RunRecord",
    "new_record_id",
    "open_store",
    "record_run",
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
    backend = store_backend(config)
    if backend in ("github", "git"):
        return _open_data_branch(backend, config, env)
    raise NotImplementedError


def _open_data_branch(backend: str, config: Config, env: Mapping[str, str] | None) -> MetadataStore:
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
    raise NotImplementedError
