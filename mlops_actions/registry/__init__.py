"""Model registries behind one interface, chosen from the config (registry.backend)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from mlops_actions.domain.config import Config
from mlops_actions.errors import ConfigError, MlopsError, RegistryError
from mlops_actions.registry.base import PRODUCTION, ModelVersion, Registry

__all__ = [
    "PRODUCTION",
    "ModelVersion",
    "Registry",
    "local_registry_folder",
    "open_registry",
    "resolve_version",
    "wanted_version",
]


def local_registry_folder(config: Config, env: Mapping[str, str] | None = None) -> Path:
    """The local registry's folder: MLOPS_REGISTRY_PATH, else ``registry.path`` (default ``.mlops/registry``),
    relative to the config's folder; a ConfigError when it is a file."""
    from_env = (os.environ if env is None else env).get("MLOPS_REGISTRY_PATH")
    path = from_env or config.registry_options.get("path", ".mlops/registry")
    root = Path(path) if Path(path).is_absolute() else config.root / path
    if root.exists() and not root.is_dir():
        origin = "MLOPS_REGISTRY_PATH" if from_env else f"{config.path}: registry.path"
        raise ConfigError(f"{origin}: {root} is a file, expected a folder for the local registry")
    return root


def open_registry(config: Config) -> Registry:
    """The registry the config names; MLOPS_REGISTRY_PATH overrides the local registry's folder."""
    backend = config.registry_backend
    if backend == "local":
        from mlops_actions.platforms.local.registry import LocalRegistry

        return LocalRegistry(local_registry_folder(config), config.model_name)
    if backend == "gitlab":
        from mlops_actions.platforms.gitlab.packages import GitLabRegistry

        return GitLabRegistry.from_options(config.model_name, config.registry_options)
    if backend == "github":
        from mlops_actions.platforms.github.releases import GitHubReleasesRegistry

        return GitHubReleasesRegistry.from_options(config.model_name, config.registry_options)
    if backend == "mlflow":
        from mlops_actions.registry.mlflow import MlflowRegistry

        return MlflowRegistry.from_options(config.model_name, config.registry_options)
    raise ConfigError(
        f"{config.path}: registry.backend: {backend!r} is not available, expected local, github, gitlab or mlflow"
    )


def wanted_version(
    config: Config, *, version_tag: str | None = None, ref: str | None = None, verb: str = "is"
) -> str:
    """The version a ``--version-tag`` (``<model>@vX.Y.Z`` of the config's model) or ``--ref`` names (default
    ``production``); a tag of another model is a one-line error: ``<path> <verb> <model>``."""
    if not version_tag:
        return ref or PRODUCTION
    from mlops_actions.domain.semver import parse_version_tag

    model, wanted = parse_version_tag(version_tag)
    if model != config.model_name:
        raise MlopsError(
            f"version tag {version_tag}: model {model!r}, but {config.path} {verb} {config.model_name!r}"
        )
    return wanted


def resolve_version(registry: Registry, config: Config, wanted: str) -> ModelVersion:
    """The version ``wanted`` (a number or an alias) names in ``registry``, or a RegistryError saying so."""
    found = registry.resolve(wanted)
    if found is None:
        raise RegistryError(
            f"the {registry.name} registry has no version {wanted!r} of {config.model_name!r}"
        )
    return found
