"""The append-only JSON Lines data branch, as github-action-benchmark keeps its data branch: what the GitHub
(REST API) and git (CLI, for GitLab) stores share.

Layout on the branch: ``runs/<model>/<YYYY-MM>.jsonl``, one record a line, the month of the record's
``started_at``; when a month's file would grow past :data:`FILE_LIMIT_BYTES` (far below the contents
API's 1 MB read limit) the month goes on in ``<YYYY-MM>.2.jsonl``, ``.3``...

One append is a loop (:func:`append_record`): read the branch head and the month's files at that head ->
the record's id already there? done -> write the file with the line appended as a commit whose parent is
the head read, moving the branch only if it is still at that head (compare-and-swap) -> when another writer
moved it first, read again and retry, at most :data:`ATTEMPTS` times with jittered backoff. A write whose
answer was lost is re-read before anything is repeated, so the record is never stored twice.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from mlops_actions.errors import StoreError
from mlops_actions.metadata.records import Listing, RunRecord, parse_lines, record_line, record_order

RUNS_FOLDER = "runs"
FILE_LIMIT_BYTES = 512 * 1024
ATTEMPTS = 8
BACKOFF_SECONDS = 0.2
MONTH_FILE = re.compile(r"^(?P<month>\d{4}-\d{2})(?:\.(?P<part>[1-9]\d{0,5}))?\.jsonl$")
MODEL_FOLDER = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")  # domain/config.py's MODEL_NAME_PATTERN


class WriteUnknown(Exception):
    """The write may or may not have taken effect (its answer was lost): read the branch again."""


class BranchFiles(Protocol):
    """A data branch as files at a commit, and a compare-and-swap write of one file onto its head."""

    where: str  # for messages: "github data branch acme/app@mlops-metadata"

    def head(self) -> str | None:
        """The commit the branch points to, or None when it does not exist yet."""
        ...

    def files(self, head: str, folder: str) -> list[str]:
        """Every file path below ``folder`` (recursively) at commit ``head``; [] when there is none."""
        ...

    def read(self, head: str, path: str) -> str:
        """The text of the file ``path`` at commit ``head``."""
        ...

    def write(self, head: str | None, path: str, text: str, message: str) -> bool:
        """Commit ``path`` = ``text`` onto ``head`` (None: create the branch) and move the branch there only
        if it still points to ``head``: True when it moved, False when another writer moved it first.
        Raises WriteUnknown when the outcome is unknown, StoreError when the write was refused."""
        ...


def model_folder(model: str) -> str:
    """``runs/<model>``; a StoreError for a name that cannot be a folder."""
    if not MODEL_FOLDER.match(model):
        raise StoreError(f"metadata store: model name {model!r} cannot name a folder of the data branch")
    return f"{RUNS_FOLDER}/{model}"


def _month_of(record: RunRecord) -> str:
    month = record.started_at[:7]
    if not re.fullmatch(r"\d{4}-\d{2}", month):
        raise StoreError(
            f"metadata store: record {record.id}: started_at {record.started_at!r} is not ISO 8601"
        )
    return month


def _part_number(name: str) -> int:
    found = MONTH_FILE.match(name)
    return int(found.group("part") or 1) if found else 0


def month_parts(paths: Iterable[str], folder: str, month: str) -> list[str]:
    """The files of ``month`` in ``folder``, in order (``<month>.jsonl``, ``<month>.2.jsonl``, ...)."""
    parts = []
    for path in paths:
        parent, _, name = path.rpartition("/")
        found = MONTH_FILE.match(name)
        if parent == folder and found and found.group("month") == month:
            parts.append(path)
    return sorted(parts, key=lambda path: _part_number(path.rpartition("/")[2]))


def part_path(folder: str, month: str, part: int) -> str:
    return f"{folder}/{month}.jsonl" if part == 1 else f"{folder}/{month}.{part}.jsonl"


def _pause(attempt: int, sleep: Callable[[float], None]) -> None:
    sleep(BACKOFF_SECONDS * (2 ** min(attempt - 1, 3)) * random.uniform(0.5, 1.5))


def _month_at_head(
    files: BranchFiles, folder: str, month: str
) -> tuple[str | None, list[str], dict[str, str]]:
    """The branch head, the month's files at it and their texts."""
    head = files.head()
    if head is None:
        return None, [], {}
    parts = month_parts(files.files(head, folder), folder, month)
    return head, parts, {path: files.read(head, path) for path in parts}


def _holds(texts: dict[str, str], record_id: str) -> bool:
    return any(
        stored.id == record_id
        for path, text in texts.items()
        for stored in parse_lines(text, where=path).records
    )


def append_record(
    files: BranchFiles,
    record: RunRecord,
    *,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Append ``record`` to its month's file on the data branch, once, whoever else is writing."""
    folder = model_folder(record.model)
    month = _month_of(record)
    line = record_line(record)
    lost = 0
    for attempt in range(1, attempts + 1):
        head, parts, texts = _month_at_head(files, folder, month)
        if _holds(texts, record.id):
            return  # stored already (by a write whose answer was lost, or an earlier run)
        target = parts[-1] if parts else part_path(folder, month, 1)
        text = texts.get(target, "")
        if text and not text.endswith("\n"):
            text += "\n"  # a cut-off last line stays a line of its own (skipped when read)
        if text and len(text.encode("utf-8")) + len(line.encode("utf-8")) > FILE_LIMIT_BYTES:
            target = part_path(folder, month, _part_number(target.rpartition("/")[2]) + 1)
            text = ""
        message = f"Record the {record.stage} of {record.model} ({record.id})"
        try:
            if files.write(head, target, text + line, message):
                return
        except WriteUnknown:
            lost += 1  # read again: the record may be there already
        if attempt < attempts:
            _pause(attempt, sleep)
    if lost and _holds(_month_at_head(files, folder, month)[2], record.id):
        return  # the last write took effect after all
    why = f"{lost} write(s) without an answer" if lost else "other writers moved the branch each time"
    raise StoreError(
        f"{files.where}: record {record.id} not stored after {attempts} attempts ({why}); run again to retry"
    )


def list_branch_records(files: BranchFiles, model: str | None = None) -> Listing:
    """The records of ``model`` (or of every model) on the data branch, oldest first; unreadable lines are
    skipped with a warning naming the file and line."""
    head = files.head()
    if head is None:
        return Listing([])
    if model is not None and not MODEL_FOLDER.match(model):
        return Listing([])  # no model of that name can have records here
    folder = model_folder(model) if model is not None else RUNS_FOLDER
    records: dict[str, RunRecord] = {}
    warnings: list[str] = []
    for path in sorted(files.files(head, folder)):
        if not path.endswith(".jsonl"):
            continue
        listing = parse_lines(files.read(head, path), where=f"{files.where}:{path}")
        warnings += listing.warnings
        for stored in listing.records:
            if model is None or stored.model == model:
                records.setdefault(stored.id, stored)
    ordered = sorted(records.values(), key=record_order)
    return Listing(ordered, warnings)
