"""The local registry: a directory. Versions appear whole or not at all (staging folder + one rename)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from mlops_actions.domain.data.io import file_sha256
from mlops_actions.domain.model_io import (
    path_errors,
    write_json_atomic,
    write_stream_atomic,
    write_text_atomic,
)
from mlops_actions.domain.semver import format_version, parse_version, sort_versions, version_tag
from mlops_actions.errors import MlopsError, PathError, RegistryError
from mlops_actions.registry.base import (
    MANIFEST_FILE,
    ModelVersion,
    Publication,
    VersionTaken,
    check_deploy_record,
    check_monitor_states,
    fitted_monitor_states,
    parse_monitor_states,
    prepare_publication,
    stored_deploy_records,
    with_deploy_record,
)

ALIASES = "aliases.json"
DEPLOYS = "deploys.json"  # in the version's folder: its deploy records
MONITOR_STATES = "monitor-states.json"  # in the version's folder: the monitor's window states
LOCK_FILE = ".release.lock"
STAGING_PREFIX = ".staging-"
CHUNK_BYTES = 1 << 20


def _expect(source: Path, digest: str) -> Callable[[str], None]:
    """A check for write_stream_atomic: the copy of ``source`` has the manifest's ``digest``."""

    def check(actual: str) -> None:
        if actual != digest:
            raise RegistryError(
                f"{source}: sha256 digest mismatch, expected {digest} from the manifest, got {actual}"
            )

    return check


class LocalRegistry:
    """``<root>/<model>/versions/<version>/`` holds the files and a manifest with their digests.

    Every write (publish, alias, deploy record, monitor states) holds an exclusive lock on ``<root>/<model>/.release.lock``, released by
    the system when the process dies; so a staging folder found while holding it was left by a writer
    that was killed, and is removed.
    """

    name = "local"
    creates_tags = False  # the release stage tags the clone

    def __init__(self, root: str | Path, model: str):
        self.root = Path(root)
        self.model = model
        self.model_dir = self.root / model
        self.versions_dir = self.model_dir / "versions"
        self._thread_lock = threading.RLock()
        self._lock_depth = 0

    # -- reading -----------------------------------------------------------------------------------
    def _read_manifest(self, version_dir: Path) -> dict[str, Any] | None:
        path = version_dir / MANIFEST_FILE
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
            return None  # not a version
        except OSError as error:
            raise PathError.of(error, path, "read the version's manifest") from None
        return document if isinstance(document, dict) else None

    def _aliases(self) -> dict[str, str]:
        try:
            document = json.loads((self.model_dir / ALIASES).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise PathError.of(error, self.model_dir / ALIASES, "read the registry's aliases") from None
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
        with path_errors(destination, f"write version {found.version}"):
            destination.mkdir(parents=True, exist_ok=True)
        for name, digest in found.files.items():
            with path_errors(source / name, f"read version {found.version}"):
                handle = open(source / name, "rb")  # noqa: SIM115 - closed below
            with handle:  # written whole or not at all, checked against the manifest's digest first
                chunks = iter(partial(handle.read, CHUNK_BYTES), b"")
                write_stream_atomic(chunks, destination / name, _expect(source / name, digest))
        return destination

    # -- writing -----------------------------------------------------------------------------------
    @contextmanager
    def release_lock(self) -> Iterator[None]:
        """Exclusive use of this model's folder against other processes and threads (re-entrant)."""
        with self._thread_lock:
            if self._lock_depth:
                self._lock_depth += 1
                try:
                    yield
                finally:
                    self._lock_depth -= 1
                return
            import fcntl

            with path_errors(self.model_dir, "lock the registry folder"):
                self.model_dir.mkdir(parents=True, exist_ok=True)
                handle = open(self.model_dir / LOCK_FILE, "a+")  # noqa: SIM115 - closed below
            with handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                self._lock_depth = 1
                try:
                    yield
                finally:
                    self._lock_depth = 0
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def _discard_staging(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def _clear_staging(self) -> int:
        """Remove the staging folders of killed writers (call with the lock held); how many there were."""
        leftovers = [entry for entry in self.model_dir.glob(f"{STAGING_PREFIX}*") if entry.is_dir()]
        for entry in leftovers:
            self._discard_staging(entry)
        return len(leftovers)

    def claimed_version(self, commit: str) -> str | None:
        """None: a local version is claimed by the rename that publishes it, so none is ever half-claimed."""
        return None

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
        with self.release_lock():
            self._check_free(version, publication.commit)
            with path_errors(target, f"publish version {version}"):
                self.versions_dir.mkdir(parents=True, exist_ok=True)
                self._clear_staging()
                staging = Path(tempfile.mkdtemp(dir=self.model_dir, prefix=STAGING_PREFIX))
            try:
                with path_errors(target, f"publish version {version}"):
                    manifest = self._write_staging(staging, publication, metrics)
                    try:
                        os.rename(staging, target)  # the one step that makes the version visible
                    except OSError as error:
                        if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                            raise
                        self._check_free(version, publication.commit)
                        raise RegistryError(
                            f"registry {self.root}: version {version} of {self.model!r} already exists"
                        ) from None
            except BaseException:
                self._discard_staging(staging)
                raise
            return self._version_from_manifest(manifest, self._aliases())

    def _check_free(self, version: str, commit: str | None) -> None:
        """Refuse a version published already: VersionTaken when another commit holds it, else a RegistryError."""
        existing = self._read_manifest(self.versions_dir / version)
        if existing is None and not (self.versions_dir / version).exists():
            return
        owner = (existing or {}).get("commit")
        if existing is not None and owner != commit:
            raise VersionTaken(
                f"registry {self.root}: version {version} of {self.model!r} is taken (commit {str(owner)[:12]})",
                version,
            )
        raise RegistryError(f"registry {self.root}: version {version} of {self.model!r} already exists")

    def _write_staging(
        self, staging: Path, publication: Publication, metrics: dict[str, Any]
    ) -> dict[str, Any]:
        """Copy the files into the staging folder, each checked against its digest, then the manifest."""
        files = publication.files
        for name, source in publication.sources.items():
            shutil.copyfile(source, staging / name)
            if f"sha256:{file_sha256(staging / name)}" != files[name]:
                raise RegistryError(f"{source}: changed while it was being published; publish again")
        manifest: dict[str, Any] = publication.manifest(self.model, metrics)
        # The staging folder is this writer's own until the rename: no need for a file-level atomic write.
        (staging / MANIFEST_FILE).write_text(
            json.dumps(manifest, indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )
        return manifest

    def verify_version(self, version: ModelVersion) -> list[str]:
        """Every file of the version is there with its manifest digest; killed writers' staging is removed."""
        folder = self.versions_dir / version.version
        manifest = self._read_manifest(folder)
        if manifest is None or manifest.get("version") != version.version:
            raise RegistryError(
                f"{folder / MANIFEST_FILE}: the manifest of version {version.version} is missing"
            )
        for name, digest in (manifest.get("files") or {}).items():
            path = folder / name
            if not path.is_file():
                raise RegistryError(
                    f"{path}: file of version {version.version} is missing; the version is damaged"
                )
            actual = f"sha256:{file_sha256(path)}"
            if actual != digest:
                raise RegistryError(
                    f"{path}: sha256 digest mismatch, expected {digest} from the manifest, got {actual}; "
                    "the version is damaged"
                )
        with self.release_lock():
            removed = self._clear_staging()
        return [f"removed {removed} staging folder(s) left by an interrupted release"] if removed else []

    def set_alias(self, alias: str, version: str) -> None:
        version = format_version(parse_version(version))
        with self.release_lock():
            if self._read_manifest(self.versions_dir / version) is None:
                raise RegistryError(
                    f"registry {self.root}: cannot point {alias!r} at missing version {version}"
                )
            aliases = self._aliases()
            aliases[alias] = version
            write_json_atomic(self.model_dir / ALIASES, aliases)

    def _deploys(self, version: str) -> list[dict[str, Any]]:
        path = self.versions_dir / version / DEPLOYS
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as error:
            raise PathError.of(error, path, "read the version's deploy records") from None
        except json.JSONDecodeError as error:
            raise RegistryError(f"{path}: deploy records are not valid JSON: {error}") from None
        return stored_deploy_records(document)

    def record_deploy(self, version: str, record: Mapping[str, Any]) -> None:
        """Add the record to ``versions/<version>/deploys.json``, written atomically under the registry's lock."""
        version = format_version(parse_version(version))
        checked = check_deploy_record(version, record)
        with self.release_lock():
            if self._read_manifest(self.versions_dir / version) is None:
                raise RegistryError(
                    f"registry {self.root}: cannot record a deploy of missing version {version}"
                )
            records = with_deploy_record(self._deploys(version), checked)
            write_json_atomic(self.versions_dir / version / DEPLOYS, records)

    def deploy_records(self, version: str | None = None) -> list[dict[str, Any]]:
        if version is not None:
            return self._deploys(format_version(parse_version(version)))
        found: list[dict[str, Any]] = []
        for listed in self.list_versions():
            found.extend(self._deploys(listed.version))
        return stored_deploy_records(found)

    def record_monitor_states(self, version: str, states: list[dict[str, Any]]) -> None:
        """Replace ``versions/<version>/monitor-states.json``, written atomically under the registry's lock."""
        version = format_version(parse_version(version))
        checked = check_monitor_states(version, states)
        with self.release_lock():
            if self._read_manifest(self.versions_dir / version) is None:
                raise RegistryError(
                    f"registry {self.root}: cannot record monitor states of missing version {version}"
                )
            path = self.versions_dir / version / MONITOR_STATES
            write_text_atomic(path, fitted_monitor_states(checked) + "\n", what=str(path))

    def monitor_states(self, version: str) -> list[dict[str, Any]]:
        path = self.versions_dir / format_version(parse_version(version)) / MONITOR_STATES
        try:
            text = path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as error:
            raise PathError.of(error, path, "read the version's monitor states") from None
        return parse_monitor_states(text, where=str(path))
