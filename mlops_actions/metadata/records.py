"""One run of a stage as a record of the metadata store, and the JSON Lines form the data-branch stores keep."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

STAGES = ("check", "release", "deploy", "monitor")
RECORD_SCHEMA = 1
MAX_RECORD_CHARS = 64_000  # one record as a JSON line; larger details are cut by the stage before recording


@dataclass(frozen=True)
class RunRecord:
    """What one check, release, deploy or monitor run leaves in the metadata store.

    ``metrics`` maps a metric name to ``{"value", "low", "high", "baseline", "delta", "delta_low", "delta_high",
    "passed"}`` (any may be None or absent; a check fills them all, a release ``value/low/high``, a monitor its
    performance on labelled rows). ``baseline`` is ``{"source", "version", "commit"}`` or None; ``data`` maps a
    data role (train, eval, logs, ...) to its fingerprint (``sha256``, ``rows``, ``columns``...); ``links`` maps
    a name (run, comment, release, report, issue) to a URL; ``details`` holds what is particular to the stage
    (a deploy's p99 and rollback, a monitor's window states).
    """

    id: str  # 32 hex characters, unique: how a write that may have taken effect is re-checked
    stage: str  # one of STAGES
    model: str
    verdict: (
        str  # check: pass|fail|error; release: released|error; deploy: promoted|rolled_back|failed|error;
    )
    # monitor: ok|warning|alert|error (the stage's own vocabulary, never empty)
    started_at: str  # ISO 8601 UTC, e.g. 2026-12-02T10:00:00Z
    duration_s: float | None = None
    commit: str | None = None
    version: str | None = None  # the model version released, deployed or monitored (a check: None)
    pr: int | None = None  # the pull/merge request number of a check
    baseline: dict[str, Any] | None = None
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    tool_version: str | None = None
    schema: int = RECORD_SCHEMA

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELDS = {item.name for item in fields(RunRecord)}


def new_record_id() -> str:
    """A fresh record id (uuid4, 32 hex characters)."""
    return uuid.uuid4().hex


_ID = re.compile(r"^[0-9a-f]{32}$")
_STARTED_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
_REQUIRED_TEXT = ("stage", "model", "verdict")
_OPTIONAL_TEXT = ("commit", "version", "tool_version")
_MAPPINGS = ("metrics", "data", "links", "details")


def parse_record(doc: Any, *, where: str) -> RunRecord:
    """A RunRecord from its JSON form; a ValueError names ``where`` and the first field that is wrong."""
    if not isinstance(doc, dict):
        raise ValueError(f"{where}: a record is a JSON object, got {type(doc).__name__}")
    unknown = sorted(set(doc) - _FIELDS)
    if unknown:
        raise ValueError(f"{where}: unknown field {unknown[0]!r}")
    for name in ("id", "started_at", *_REQUIRED_TEXT):
        if name not in doc:
            raise ValueError(f"{where}: field {name!r} is missing")
        if not isinstance(doc[name], str) or not doc[name]:
            raise ValueError(f"{where}: field {name!r} must be a non-empty string, got {doc[name]!r}")
    if not _ID.match(doc["id"]):
        raise ValueError(f"{where}: field 'id' must be 32 lowercase hex characters, got {doc['id']!r}")
    if doc["stage"] not in STAGES:
        raise ValueError(f"{where}: field 'stage' must be one of {', '.join(STAGES)}, got {doc['stage']!r}")
    if not _STARTED_AT.match(doc["started_at"]) or not _valid_time(doc["started_at"]):
        raise ValueError(
            f"{where}: field 'started_at' must be an ISO 8601 UTC time like 2026-12-02T10:00:00Z, "
            f"got {doc['started_at']!r}"
        )
    for name in _OPTIONAL_TEXT:
        if doc.get(name) is not None and not isinstance(doc[name], str):
            raise ValueError(f"{where}: field {name!r} must be a string or null, got {doc[name]!r}")
    duration = doc.get("duration_s")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, (int, float))):
        raise ValueError(f"{where}: field 'duration_s' must be a number or null, got {duration!r}")
    pr = doc.get("pr")
    if pr is not None and (isinstance(pr, bool) or not isinstance(pr, int)):
        raise ValueError(f"{where}: field 'pr' must be an integer or null, got {pr!r}")
    baseline = doc.get("baseline")
    if baseline is not None and not isinstance(baseline, dict):
        raise ValueError(
            f"{where}: field 'baseline' must be an object or null, got {type(baseline).__name__}"
        )
    for name in _MAPPINGS:
        if not isinstance(doc.get(name, {}), dict):
            raise ValueError(f"{where}: field {name!r} must be an object, got {type(doc[name]).__name__}")
    for metric, values in doc.get("metrics", {}).items():
        if not isinstance(values, dict):
            raise ValueError(
                f"{where}: field 'metrics.{metric}' must be an object, got {type(values).__name__}"
            )
    for role, fingerprint in doc.get("data", {}).items():
        if not isinstance(fingerprint, dict):
            raise ValueError(
                f"{where}: field 'data.{role}' must be an object, got {type(fingerprint).__name__}"
            )
    for name, url in doc.get("links", {}).items():
        if not isinstance(url, str):
            raise ValueError(f"{where}: field 'links.{name}' must be a string, got {url!r}")
    schema = doc.get("schema", RECORD_SCHEMA)
    if isinstance(schema, bool) or not isinstance(schema, int) or schema < 1:
        raise ValueError(f"{where}: field 'schema' must be a positive integer, got {schema!r}")
    if schema > RECORD_SCHEMA:
        raise ValueError(
            f"{where}: field 'schema' is {schema}, newer than this tool reads ({RECORD_SCHEMA}): upgrade mlops-actions"
        )
    return RunRecord(**doc)


def _valid_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text.removesuffix("Z"))
    except ValueError:
        return False
    return True


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def load_json(text: str) -> Any:
    """``text`` as JSON, refusing NaN and Infinity (a record never holds them: ``record_line`` refuses them)."""
    return json.loads(text, parse_constant=_refuse_constant)


def record_line(record: RunRecord) -> str:
    """The record as one canonical JSON line (sorted keys, no newline inside, ``\\n`` at the end)."""
    return json.dumps(record.as_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"


@dataclass(frozen=True)
class Listing:
    """Records read from a store, oldest first (by ``started_at``, then ``id``), and one warning per record
    that could not be read (skipped, never fatal)."""

    records: list[RunRecord]
    warnings: list[str] = field(default_factory=list)


def parse_lines(text: str, *, where: str) -> Listing:
    """The records of a JSON Lines text; a corrupted line is skipped with a warning naming ``where`` and its
    line number (``<where>:<line>: skipped: <why>``); a record id seen twice is kept once. Records come back
    oldest first (``started_at``, then ``id``)."""
    records: dict[str, RunRecord] = {}
    warnings: list[str] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        place = f"{where}:{number}"
        try:
            doc = load_json(line)
        except ValueError as error:
            warnings.append(f"{place}: skipped: not a JSON line ({error})")
            continue
        try:
            record = parse_record(doc, where=place)
        except ValueError as error:
            warnings.append(f"{place}: skipped: {str(error).removeprefix(place + ': ')}")
            continue
        records.setdefault(record.id, record)
    return Listing(sorted(records.values(), key=record_order), warnings)


def record_order(record: RunRecord) -> tuple[str, str]:
    """The order records are listed in: oldest first, then by id."""
    return (record.started_at, record.id)


def find_record(listing: Listing, id_prefix: str) -> RunRecord:
    """The one record of ``listing`` whose id starts with ``id_prefix``; a LookupError when none does or the
    prefix names several."""
    wanted = id_prefix.strip().lower()
    if not wanted:
        raise LookupError("a run id (or the start of one) is needed")
    found = [record for record in listing.records if record.id.startswith(wanted)]
    if not found:
        raise LookupError(f"no recorded run has an id starting with {id_prefix!r}")
    if len(found) > 1:
        shown = ", ".join(record.id for record in found[:5])
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        raise LookupError(
            f"the id prefix {id_prefix!r} names {len(found)} runs ({shown}{more}): give more characters"
        )
    return found[0]


def select_records(
    listing: Listing, *, model: str | None = None, stage: str | None = None, limit: int | None = None
) -> Listing:
    """The records of ``listing`` of ``model`` and ``stage`` (each None: any), the newest ``limit`` of them,
    still oldest first; the warnings kept."""
    chosen = [
        record
        for record in listing.records
        if (model is None or record.model == model) and (stage is None or record.stage == stage)
    ]
    if limit is not None:
        chosen = chosen[-limit:] if limit > 0 else []
    return Listing(chosen, list(listing.warnings))
