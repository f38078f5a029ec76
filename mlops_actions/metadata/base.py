"""The metadata store's protocol: every backend appends records and lists them the same way."""

from __future__ import annotations

from typing import Protocol

from mlops_actions.metadata.records import Listing, RunRecord


class MetadataStore(Protocol):
    """Where run records live. ``append`` is idempotent by ``record.id`` (a record already stored is not
    stored twice, so a write whose answer was lost is re-checked, not repeated blindly) and never loses a
    concurrent writer's record; it raises ``StoreError`` (errors.py) when the record could not be stored."""

    name: str  # what the store is, for messages: "sqlite store .mlops/registry/metadata.sqlite"

    def append(self, record: RunRecord) -> None: ...

    def list_records(self, model: str | None = None) -> Listing: ...

    def close(self) -> None: ...
