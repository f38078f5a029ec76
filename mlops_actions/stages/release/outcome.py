"""What a release hands back to its caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlops_actions.registry import ModelVersion


@dataclass(frozen=True)
class ReleaseOutcome:
    """The released version, whether this run published it, and what it noted on the way."""

    version: ModelVersion
    created: bool  # False when this commit was already released (a re-run)
    result: dict[str, Any] | None
    source: str = "existing"  # trained | promoted | existing
    production_moved: bool = False
    notes: tuple[str, ...] = ()
    lineage: dict[str, Any] = field(default_factory=dict)
