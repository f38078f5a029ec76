"""What every model registry (local directory, GitHub Releases, GitLab packages, MLflow) offers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

PRODUCTION = "production"


@dataclass(frozen=True)
class ModelVersion:
    """One published version of a model and its lineage."""

    model: str
    version: str
    tag: str
    digest: str  # sha256:<hex> of model.skops
    created: str
    commit: str | None
    metrics: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256:<hex>
    aliases: tuple[str, ...] = ()
    lineage: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["aliases"] = list(self.aliases)
        return document


class Registry(Protocol):
    """Publish, list and fetch model versions; move aliases such as ``production``."""

    name: str

    def publish(
        self,
        model_dir: Path,
        *,
        version: str,
        metrics: dict[str, Any],
        extra_files: dict[str, Path] | None = None,
    ) -> ModelVersion:
        """Publish a complete version atomically; a RegistryError when the version exists."""
        ...

    def list_versions(self) -> list[ModelVersion]:
        """Every complete version, oldest first."""
        ...

    def resolve(self, ref: str) -> ModelVersion | None:
        """A version by number ('1.2.0', 'v1.2.0') or alias ('production'); None when absent."""
        ...

    def fetch(self, ref: str, destination: Path) -> Path:
        """Copy the version's files to ``destination`` with every digest checked; return the model folder."""
        ...

    def set_alias(self, alias: str, version: str) -> None:
        """Point ``alias`` at ``version``."""
        ...
