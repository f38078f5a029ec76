"""The monitor's history: the window states of a version kept in the registry's metadata, so that each run
extends the trend of the runs before it (and the retrain decision counts bad windows across runs).

A run reads the states stored with the version, merges its own (a window seen again takes its new state),
keeps the newest ``monitor.history_windows`` and stores them back. The stored form is compact: numbers
with four significant digits, counts as integers, counters that are zero and empty fields left out (a
counter a window lacks, where its check ran, reads as zero).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_actions.domain.config import MONITOR_HISTORY_WINDOWS
from mlops_actions.errors import MlopsError
from mlops_actions.monitoring.state import WindowState, merge_states, result_states
from mlops_actions.registry.base import UnreadableMonitorStates

if TYPE_CHECKING:
    from mlops_actions.domain.config import Config
    from mlops_actions.monitoring.reference import Reference
    from mlops_actions.monitoring.result import MonitorResult
    from mlops_actions.registry.base import Registry

__all__ = ["MONITOR_HISTORY_WINDOWS", "History", "compact_state", "monitor_history", "store_states"]

SIGNIFICANT_DIGITS = 4
NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def _compact_number(value: float) -> float | int | str:
    """A number in few characters: integers as such, others to four significant digits; NaN and the
    infinities as the text ``float()`` reads back."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return NON_FINITE[value]
    if float(value).is_integer() and abs(value) < 1e15:
        return int(value)
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def _compact_map(values: Mapping[str, float]) -> dict[str, float | int | str]:
    return {name: _compact_number(value) for name, value in values.items()}


def compact_state(state: WindowState) -> dict[str, Any]:
    """The stored form of a window state (``WindowState.from_dict`` reads it back)."""
    document: dict[str, Any] = {
        "start": state.start,
        "end": state.end,
        "rows": state.rows,
        "status": state.status,
    }
    if state.version is not None:
        document["version"] = state.version
    optional = {
        "checks": dict(state.checks),
        "drift": _compact_map(state.drift),
        "drifted": list(state.drifted),
        "counters": _compact_map({name: v for name, v in state.counters.items() if v != 0}),
        "tested": list(state.tested),
    }
    document.update((key, value) for key, value in optional.items() if value)
    return document


def stored_states(
    registry: Registry, version: str, *, warnings: list[str] | None = None
) -> list[WindowState]:
    """The window states stored with ``version``, oldest first. A state that cannot be read is left out, and
    said in ``warnings``."""
    found: list[WindowState] = []
    for index, document in enumerate(registry.monitor_states(version)):
        try:
            found.append(WindowState.from_dict(document))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            if warnings is not None:
                reason = (str(error).splitlines() or [type(error).__name__])[0][:120]
                warnings.append(
                    f"stored monitor state {index + 1} of version {version} cannot be read and is left out "
                    f"({type(error).__name__}: {reason})"
                )
    return sorted(found, key=lambda s: s.start)


def store_states(registry: Registry, version: str, states: Iterable[WindowState]) -> None:
    """Store ``states`` (oldest first) with ``version``, replacing what was stored."""
    registry.record_monitor_states(version, [compact_state(s) for s in states])


@dataclass(frozen=True)
class History:
    """The window states of the trend, oldest first: ``stored`` of them came from the registry before this
    run; ``recorded`` says whether the merged states were stored; ``warnings`` what went wrong on the way
    (a history that cannot be read or stored never fails a monitor run)."""

    states: tuple[WindowState, ...]
    stored: int = 0
    recorded: bool = False
    warnings: tuple[str, ...] = ()

    def to_list(self) -> list[dict[str, Any]]:
        """The states as ``monitor.json``'s ``history``."""
        return [s.to_dict() for s in self.states]


def monitor_history(
    config: Config, result: MonitorResult, reference: Reference, *, record: bool = True
) -> History:
    """The trend of a monitor run: without a registry version (a profile file as the reference), the run's
    own states; else the version's stored states extended by this run's, the newest
    ``monitor.history_windows`` kept, and stored back unless ``record`` is False."""
    from mlops_actions.domain.config import monitor_settings

    new = result_states(result)
    if reference.version is None:
        return History(tuple(new))
    keep = monitor_settings(config.raw).history_windows
    warnings: list[str] = []
    stored: list[WindowState] = []
    registry: Registry | None = None
    readable = False
    try:
        from mlops_actions.registry import open_registry

        registry = open_registry(config)
        stored = stored_states(registry, reference.version, warnings=warnings)
        readable = True
    except UnreadableMonitorStates as error:
        warnings.append(f"{error}")
        readable = True  # nothing worth keeping: this run's states replace it
    except (MlopsError, OSError) as error:
        warnings.append(
            f"the stored monitor states of version {reference.version} were not read, so none are "
            f"recorded (that would replace them): {error}"
        )
    states = merge_states(stored, new, keep=keep)
    recorded = False
    if record and registry is not None and readable:
        try:
            store_states(registry, reference.version, states)
            recorded = True
        except (MlopsError, OSError) as error:
            warnings.append(f"the monitor states of version {reference.version} were not recorded: {error}")
    return History(tuple(states), stored=len(stored), recorded=recorded, warnings=tuple(warnings))
