"""The monitor in order, as the command runs it: fetch the logs (``--logs-command``), find the reference, read
the labels, check every window, extend the stored history. Returns the monitor document (``monitor.json``)
and the warnings to show; rendering, writing and alerting are left to the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_actions.domain.config import Config
    from mlops_actions.engines.base import Engine
    from mlops_actions.monitoring.history import History
    from mlops_actions.monitoring.result import MonitorResult


@dataclass(frozen=True)
class MonitorRun:
    """One monitor run: its result, its document (the result with its ``history``), warnings."""

    result: MonitorResult
    document: dict[str, Any]
    warnings: tuple[str, ...]


def monitor_logs(
    config: Config,
    logs: str,
    *,
    logs_command: str | None = None,
    reference_file: str | None = None,
    ref: str | None = None,
    version_tag: str | None = None,
    labels: str | None = None,
    window: str = "1d",
    since: str | None = None,
    record: bool = True,
    engine: Engine | None = None,
) -> MonitorRun:
    """Check ``logs`` against the release-time profile of ``version_tag`` / ``ref`` (or ``reference_file``),
    with ``labels`` joined when given, on ``engine`` when given (else read here, in order); the window
    states are stored with the version, and the run in the metadata store (a run stopped by an error too),
    unless ``record`` is False. A record that cannot be written is said on stderr; the monitor goes on."""
    import time

    from mlops_actions.errors import MlopsError
    from mlops_actions.stages.records import error_record, monitor_record, record_stage, utc_timestamp

    started, started_at = time.monotonic(), utc_timestamp()
    try:
        result, history = _checked_logs(
            config,
            logs,
            logs_command=logs_command,
            reference_file=reference_file,
            ref=ref,
            version_tag=version_tag,
            labels=labels,
            window=window,
            since=since,
            record=record,
            engine=engine,
        )
    except MlopsError as error:
        if record:
            version = version_tag.rpartition("@v")[2] if version_tag else None
            elapsed = time.monotonic() - started
            record_stage(
                config,
                error_record(
                    "monitor",
                    config.model_name,
                    error,
                    started_at=started_at,
                    duration_s=elapsed,
                    version=version,
                ),
            )
        raise
    document = {**result.to_dict(), "history": history.to_list()}
    if record:
        elapsed = time.monotonic() - started
        record_stage(
            config,
            monitor_record(result, started_at=started_at, duration_s=elapsed, warnings=history.warnings),
        )
    return MonitorRun(result, document, tuple(history.warnings))


def _checked_logs(
    config: Config,
    logs: str,
    *,
    logs_command: str | None,
    reference_file: str | None,
    ref: str | None,
    version_tag: str | None,
    labels: str | None,
    window: str,
    since: str | None,
    record: bool,
    engine: Engine | None,
) -> tuple[MonitorResult, History]:
    """The monitor's steps (see :func:`monitor_logs`): its result and the history it extended."""
    from mlops_actions.monitoring.history import monitor_history
    from mlops_actions.monitoring.reference import reference_from_file, reference_from_registry
    from mlops_actions.monitoring.run import run_monitor

    if logs_command:
        from mlops_actions.monitoring.logs_command import fetch_logs

        fetch_logs(config, logs_command, logs)
    if reference_file:
        reference = reference_from_file(reference_file)
    else:
        reference = reference_from_registry(config, ref=ref, version_tag=version_tag)
    joined = None
    if labels:
        from mlops_actions.monitoring.labels import read_labels

        joined = read_labels(labels, config)
    result = run_monitor(config, logs, reference, window=window, since=since, labels=joined, engine=engine)
    return result, monitor_history(config, result, reference, record=record)
