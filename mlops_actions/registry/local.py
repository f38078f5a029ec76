"""The local registry: a directory. Versions appear whole or not at all (staging folder + one rename)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from mlops_actions.data.io import file_sha256
from mlops_actions.errors import MlopsError, RegistryError
from mlops_actions.model_io import write_json_atomic
from mlops_actions.registry.base import MANIFEST_FILE, ModelVersion, prepare_publication
from mlops_actions.semver import format_version, parse_version, sort_versions, version_tag

ALIASES = "aliases.json"
STALE_STAGING_SECONDS = 3600


class LocalRegistry:
    """``<root>/<model>/versions/<version>/`` holds the files and a manifest with their digests."""

    name = "local"

    def __init__(self, root: str | Path, model: str):
        self.root = Path(root)
        self.model = model
        self.model_dir = self.root / model
        self.versions_dir = self.model_dir / "versions"

    # -- reading -----------------------------------------------------------------------------------
    def _read_manifest(self, version_dir: Path) -> dict[str, Any] | None:
        try:
            document = json.loads((version_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return document if isinstance(document, dict) else None

    def _aliases(self) -> dict[str, str]:
        try:
            document = json.loads((self.model_dir / ALIASES).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except json.JSONDecodeError as error:
            raise RegistryError(
                f"{self.model_dir / ALIASES}: aliases file is not valid JSON: {error}"
            ) from None
        return {str(k): str(v) for k, v in document.items()}

    def _version_from_manifest(self, manifest: dict[str, Any], aliases: dict[str, str]) -> ModelVersion:
        version = manifest["version"]
        return ModelVersion(
            model=self.model,
            version=version,
            tag=manifest.get("tag", version_tag(self.model, version)),
            digest=manifest["digest"],
            created=manifest.get("created", ""),
            commit=manifest.get("commit"),
            metrics=manifest.get("metrics", {}),
            files=manifest.get("files", {}),
            aliases=tuple(sorted(a for a, v in aliases.items() if v == version)),
            lineage=manifest.get("lineage", {}),
        )

    def list_versions(self) -> list[ModelVersion]:
        if not self.versions_dir.is_dir():
            return []
        aliases = self._aliases()
        found: dict[str, ModelVersion] = {}
        for entry in self.versions_dir.iterdir():
            if entry.name.startswith("."):
                continue
            manifest = self._read_manifest(entry)
            if manifest is not None and manifest.get("version") == entry.name:
                found[entry.name] = self._version_from_manifest(manifest, aliases)
        return [found[v] for v in sort_versions(found)]

    def resolve(self, ref: str) -> ModelVersion | None:
        aliases = self._aliases()
        version = aliases.get(ref)
        if version is None:
            try:
                version = format_version(parse_version(ref))
            except MlopsError:
                return None  # an alias that is not set (yet)
        manifest = self._read_manifest(self.versions_dir / version)
        return None if manifest is None else self._version_from_manifest(manifest, aliases)

    def fetch(self, ref: str, destination: Path) -> Path:
        found = self.resolve(ref)
        if found is None:
            raise RegistryError(f"registry {self.root}: model {self.model!r} has no version {ref!r}")
        source = self.versions_dir / found.version
        destination = Path(destination)
        destination.mkdir(parents=True, exist_ok=True)
        for name, digest in found.files.items():
            target = destination / name
            shutil.copyfile(source / name, target)
            actual = f"sha256:{file_sha256(target)}"
            if actual != digest:
                target.unlink()
                raise RegistryError(
                    f"{source / name}: sha256 digest mismatch, expected {digest} from the manifest, got {actual}"
                )
        return destination

    # -- writing -----------------------------------------------------------------------------------
    def _clean_stale_staging(self) -> None:
        now = time.time()
        for entry in self.model_dir.glob(".staging-*"):
            try:
                if now - entry.stat().st_mtime > STALE_STAGING_SECONDS:
                    shutil.rmtree(entry, ignore_errors=True)
            except FileNotFoundError:
                continue

    def publish(
        self,
        model_dir: Path,
        *,
        version: str,
        metrics: dict[str, Any],
        extra_files: dict[str, Path] | None = None,
    ) -> ModelVersion:
        publication = prepare_publication(self.model, model_dir, version, extra_files, require_commit=False)
        version = publication.version
        target = self.versions_dir / version
        if target.exists():
            raise RegistryError(f"registry {self.root}: version {version} of {self.model!r} already exists")
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        self._clean_stale_staging()
        staging = Path(tempfile.mkdtemp(dir=self.model_dir, prefix=".staging-"))
        try:
            files = publication.files
            for name, source in publication.sources.items():
                shutil.copyfile(source, staging / name)
                if f"sha256:{file_sha256(staging / name)}" != files[name]:
                    raise RegistryError(f"{source}: changed while it was being published; publish again")
            manifest = publication.manifest(self.model, metrics)
            write_json_atomic(staging / MANIFEST_FILE, manifest)
            try:
                os.rename(staging, target)  # the one step that makes the version visible
            except OSError as error:
                if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    raise RegistryError(
                        f"registry {self.root}: version {version} of {self.model!r} already exists"
                    ) from None
                raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return self._version_from_manifest(manifest, self._aliases())

    def set_alias(self, alias: str, version: str) -> None:
        version = format_version(parse_version(version))
        if self._read_manifest(self.versions_dir / version) is None:
            raise RegistryError(f"registry {self.root}: cannot point {alias!r} at missing version {version}")
        aliases = self._aliases()
        aliases[alias] = version
        write_json_atomic(self.model_dir / ALIASES, aliases)
