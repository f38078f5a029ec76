"""What every model registry (local directory, GitHub Releases, GitLab packages, MLflow) offers."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlops_actions.errors import ConcurrentRelease as ConcurrentRelease
from mlops_actions.errors import RegistryError
from mlops_actions.errors import VersionTaken as VersionTaken

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
    """Publish, list and fetch model versions; move aliases such as ``production``.

    What differs between backends is stated by members, not guessed from the backend's name:
    ``creates_tags`` (publishing creates the version's git tag on the forge, else the release stage tags
    the clone), :meth:`claimed_version` (a version an interrupted release claimed but did not finish),
    :meth:`release_lock` (serialises releases where the registry cannot claim a version atomically by
    itself) and :meth:`verify_version` (a listed version is whole; leftovers of an interrupted publish
    are cleared).
    """

    name: str
    creates_tags: bool

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

    def claimed_version(self, commit: str) -> str | None:
        """The version an interrupted release of ``commit`` claimed without finishing it (to resume), or None."""
        ...

    def release_lock(self) -> AbstractContextManager[None]:
        """Held while a release claims and publishes a version: excludes other releases where needed."""
        ...

    def verify_version(self, version: ModelVersion) -> list[str]:
        """Check that a listed version is whole (its files with the manifest's digests, its tag on its commit
        where the registry tags) and clear what an interrupted publish left behind (staging folders, drafts);
        notes of what was repaired. A RegistryError naming what is damaged when it cannot be repaired."""
        ...

    def record_deploy(self, version: str, record: Mapping[str, Any]) -> None:
        """Append a deploy record (a JSON object with ``time`` and ``version``, at most 4,000 characters
        serialised, else a RegistryError) to ``version``; the newest 20 records per version are kept. A write
        that may have taken effect is checked before it is repeated, so a record is stored once."""
        ...

    def deploy_records(self, version: str | None = None) -> list[dict[str, Any]]:
        """The deploy records of ``version``, or of every version when None, oldest first (by ``time``)."""
        ...

    def record_monitor_states(self, version: str, states: list[dict[str, Any]]) -> None:
        """Replace the monitor's window states kept with ``version`` (JSON objects, each with a ``start``
        time; stored oldest first). The oldest are dropped until the rest fit in 90,000 characters serialised
        (and in the backend's own limits): a long history is shortened, never refused. A write that may have
        taken effect is checked before it is repeated."""
        ...

    def monitor_states(self, version: str) -> list[dict[str, Any]]:
        """The monitor's window states kept with ``version``, oldest first; [] when there are none. An
        UnreadableMonitorStates when what is stored is not a list of states (the next record replaces it)."""
        ...


MANIFEST_FILE = "manifest.json"
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
PUBLISHING, COMPLETE = "publishing", "complete"  # a version's state in a remote registry's manifest
CARD_FILE = "model-card.md"
MAX_DEPLOY_RECORD_CHARS = 4_000  # one deploy record, serialised
KEPT_DEPLOY_RECORDS = 20  # per version; the oldest go first
MAX_MONITOR_STATES_CHARS = 90_000  # a version's monitor window states, serialised; the oldest go first


def lineage_of(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """What a published version records of where it came from (from the model's metadata.json)."""
    git = metadata.get("git") or {}
    return {
        "branch": git.get("branch"),
        "dirty": git.get("dirty"),
        "data": metadata.get("data", {}),
        "libraries": metadata.get("libraries", {}),
        "params": metadata.get("params", {}),
        "release": metadata.get("release", {}),
    }


@dataclass(frozen=True)
class Publication:
    """What a publish call is about to upload, checked: the files, their digests, the model's commit."""

    version: str
    metadata: dict[str, Any]
    sources: dict[str, Path]  # published file name -> local path
    files: dict[str, str]  # published file name -> sha256:<hex>
    commit: str | None

    def manifest(self, model: str, metrics: dict[str, Any], *, state: str | None = None) -> dict[str, Any]:
        """The version's manifest: tag, digests, commit, metrics, lineage (and ``state`` when given)."""
        from mlops_actions.domain.lineage import utc_now
        from mlops_actions.domain.model_io import MODEL_FILE
        from mlops_actions.domain.semver import version_tag

        manifest: dict[str, Any] = {
            "model": model,
            "version": self.version,
            "tag": version_tag(model, self.version),
        }
        if state is not None:
            manifest["state"] = state
        manifest.update(
            digest=self.files[MODEL_FILE],
            created=utc_now(),
            commit=self.commit,
            metrics=metrics,
            files=self.files,
            lineage=lineage_of(self.metadata),
        )
        return manifest

    def card(self, model: str) -> str:
        """The model card to show with the version: model-card.md when published, else a line about it."""
        path = self.sources.get(CARD_FILE)
        if path is not None:
            return Path(path).read_text(encoding="utf-8")
        return f"# {model} {self.version}\n\nModel `{model}` version {self.version}, commit `{str(self.commit)[:12]}`."


def prepare_publication(
    model: str,
    model_dir: Path,
    version: str,
    extra_files: dict[str, Path] | None,
    *,
    require_commit: bool = True,
) -> Publication:
    """Check a model folder before publishing it as ``version``: the model name, the file names, that every file
    exists, and that model.skops matches the digest its metadata recorded. A RegistryError otherwise."""
    from mlops_actions.domain.data.io import file_sha256
    from mlops_actions.domain.model_io import METADATA_FILE, MODEL_FILE, read_model_metadata
    from mlops_actions.domain.semver import format_version, parse_version

    version = format_version(parse_version(version))
    model_dir = Path(model_dir)
    metadata = read_model_metadata(model_dir)
    if metadata.get("model_name") != model:
        raise RegistryError(
            f"{model_dir}: model is {metadata.get('model_name')!r}, the registry expects {model!r}"
        )
    sources = {MODEL_FILE: model_dir / MODEL_FILE, METADATA_FILE: model_dir / METADATA_FILE}
    sources.update({name: Path(path) for name, path in (extra_files or {}).items()})
    for name, source in sources.items():
        if not FILE_NAME.match(name) or name == MANIFEST_FILE:
            raise RegistryError(f"{name}: not a valid file name to publish (letters, digits, . _ + -)")
        if not source.is_file():
            raise RegistryError(f"{source}: file to publish not found")
    files = {name: f"sha256:{file_sha256(source)}" for name, source in sources.items()}
    if files[MODEL_FILE] != metadata["model_digest"]:
        raise RegistryError(
            f"{model_dir / MODEL_FILE}: sha256 digest mismatch, expected {metadata['model_digest']} "
            f"from the metadata, got {files[MODEL_FILE]}"
        )
    commit = (metadata.get("git") or {}).get("commit")
    if require_commit and not commit:
        raise RegistryError(f"{model_dir / METADATA_FILE}: no git commit recorded; the release needs one")
    return Publication(version=version, metadata=metadata, sources=sources, files=files, commit=commit)


def fetch_whole(registry: Registry, ref: str, destination: Path) -> Path:
    """Fetch a version into the new folder ``destination`` whole or not at all: its files are fetched (each
    digest checked) into a staging folder beside it, which is then renamed, so a failure leaves nothing."""
    import os
    import shutil
    import tempfile

    from mlops_actions.domain.model_io import path_errors

    destination = Path(destination)
    with path_errors(destination, "create the folder"):
        destination.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}.fetch-"))
    try:
        registry.fetch(ref, staging)
        with path_errors(destination, f"move the fetched {ref} into place"):
            os.rename(staging, destination)  # a new folder: fetch -o refuses an existing path
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination


DOWNLOAD_CHUNK_BYTES = 1 << 20


def download_checked(
    response: Any,
    target: Path,
    expected: str,
    *,
    where: str,
    also_check: Callable[[], None] | None = None,
) -> None:
    """Stream ``response``'s body into ``target`` atomically, keeping it only when its sha256 is
    ``expected`` (the release manifest's digest) and ``also_check`` (e.g. the server's own checksum) passes.
    The response is closed either way."""
    from mlops_actions.domain.model_io import write_stream_atomic

    def check(actual: str) -> None:
        if actual != expected:
            raise RegistryError(
                f"{where}: sha256 digest mismatch, expected {expected} from the release manifest, got {actual}"
            )
        if also_check is not None:
            also_check()

    try:
        write_stream_atomic(response.iter_content(DOWNLOAD_CHUNK_BYTES), target, check)
    finally:
        response.close()


UTC_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:Z|\+00:00)$")


def _record_time(value: object) -> Any:
    """The UTC datetime of a record's ``time`` (ISO-8601, ``Z`` or ``+00:00``), or None."""
    import datetime as dt

    match = UTC_TIME.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        return dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=dt.timezone.utc,
        )
    except ValueError:  # e.g. month 13
        return None


def check_deploy_record(version: str, record: object) -> dict[str, Any]:
    """A JSON-safe copy of the deploy ``record`` for ``version`` (as normalised by the registry): a JSON object
    with ``time`` (ISO-8601 UTC) and ``version`` equal to ``version``, at most 4,000 characters serialised.
    A one-line RegistryError otherwise."""
    import json

    where = f"deploy record of version {version}"
    if not isinstance(record, Mapping):
        raise RegistryError(f"{where}: expected a JSON object, got {type(record).__name__}")
    try:
        text = json.dumps(dict(record), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise RegistryError(f"{where}: not JSON-safe ({str(error).splitlines()[0][:120]})") from None
    if len(text) > MAX_DEPLOY_RECORD_CHARS:
        raise RegistryError(
            f"{where}: {len(text)} characters serialised, at most {MAX_DEPLOY_RECORD_CHARS} are stored"
        )
    document: dict[str, Any] = json.loads(text)
    if _record_time(document.get("time")) is None:
        raise RegistryError(
            f"{where}: time {str(document.get('time'))[:40]!r} is not an ISO-8601 UTC time "
            "(e.g. 2026-12-01T16:00:00.123Z)"
        )
    if document.get("version") != version:
        raise RegistryError(
            f"{where}: the record names version {str(document.get('version'))[:40]!r}, expected {version!r}"
        )
    return document


def stored_deploy_records(document: object) -> list[dict[str, Any]]:
    """The well-formed records of a stored list (anything else a registry holds is skipped), oldest first."""
    if not isinstance(document, list):
        return []
    records = [r for r in document if isinstance(r, dict) and _record_time(r.get("time")) is not None]
    return sorted(records, key=lambda r: _record_time(r["time"]))


def with_deploy_record(records: list[dict[str, Any]], record: dict[str, Any]) -> list[dict[str, Any]]:
    """``records`` with ``record`` appended once (a record already stored is not added again), oldest first,
    the newest 20 kept."""
    kept = stored_deploy_records(records)
    if record not in kept:
        kept = stored_deploy_records([*kept, record])
    return kept[-KEPT_DEPLOY_RECORDS:]


def check_monitor_states(version: str, states: object) -> list[dict[str, Any]]:
    """A JSON-safe copy of the monitor ``states`` for ``version``, sorted by ``start``: a list of JSON objects
    each with a string ``start``. A one-line RegistryError otherwise."""
    import json

    where = f"monitor states of version {version}"
    if not isinstance(states, (list, tuple)):
        raise RegistryError(f"{where}: expected a list, got {type(states).__name__}")
    for state in states:
        if not isinstance(state, Mapping) or not isinstance(state.get("start"), str):
            raise RegistryError(f"{where}: each state must be a JSON object with a string start time")
    try:
        checked: list[dict[str, Any]] = json.loads(json.dumps([dict(s) for s in states], allow_nan=False))
    except (TypeError, ValueError) as error:
        raise RegistryError(f"{where}: not JSON-safe ({str(error).splitlines()[0][:120]})") from None
    return sorted(checked, key=lambda s: str(s["start"]))


def monitor_states_text(states: list[dict[str, Any]]) -> str:
    """The states as compact JSON (no spaces, sorted keys): the form every registry stores."""
    import json

    return json.dumps(states, sort_keys=True, separators=(",", ":"), allow_nan=False)


def fitted_monitor_states(states: list[dict[str, Any]], max_chars: int = MAX_MONITOR_STATES_CHARS) -> str:
    """The newest of ``states`` that fit in ``max_chars`` serialised (the oldest dropped first), as text."""
    kept = list(states)
    text = monitor_states_text(kept)
    while len(text) > max_chars and kept:
        kept = kept[1:]
        text = monitor_states_text(kept)
    return text


class UnreadableMonitorStates(RegistryError):
    """What a registry holds as a version's monitor states is not a list of states (the next record
    replaces it)."""


def parse_monitor_states(text: str, *, where: str) -> list[dict[str, Any]]:
    """The states of a stored text: its JSON objects (anything else in the list is left out). An
    UnreadableMonitorStates naming ``where`` when the text is not a JSON list."""
    import json

    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, list):
        raise UnreadableMonitorStates(
            f"{where}: the stored monitor states are not a JSON list; the next record replaces them"
        )
    return [state for state in document if isinstance(state, dict)]
