"""One run of a stage as a record of the metadata store, and the JSON Lines form the data-branch stores keep."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
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


def new_record_id() -> str:
    """A fresh record id (uuid4, 32 hex characters)."""
    return uuid.uuid4().hex


def parse_record(doc: Any, *, where: str) -> RunRecord:
    """A RunRecord from its JSON form; a ValueError names ``where`` and the first field that is wrong."""
    raise NotImplementedError


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
    line number; a record id seen twice is kept once."""
    raise NotImplementedError
