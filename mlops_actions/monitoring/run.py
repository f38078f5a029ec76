"""The monitor: read the logs chunk by chunk (or run the monitor job on an engine, ``monitoring/job.py``),
cut the rows into windows, collect each window, then judge every window against the reference (its outputs
against the release-time eval outputs, else the first full window; its performance on the labelled rows,
else estimated)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_actions.domain.config import Config, MonitorSettings, monitor_settings, performance_settings
from mlops_actions.domain.data.drift import resolve_thresholds
from mlops_actions.domain.data.profile import Profile
from mlops_actions.errors import DataError, UsageError
from mlops_actions.monitoring.accumulate import Outputs, WindowAccumulator, output_bins
from mlops_actions.monitoring.checks import Window, judge_window
from mlops_actions.monitoring.columns import Layout, normalise
from mlops_actions.monitoring.logs import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_CHUNK_ROWS,
    log_files,
    read_ahead,
    read_log,
)
from mlops_actions.monitoring.performance import EVAL_OUTPUTS_FILE, PerformanceCollector
from mlops_actions.monitoring.reference import Reference
from mlops_actions.monitoring.result import MonitorResult
from mlops_actions.monitoring.windows import iso, parse_time, parse_window, split_by_window

if TYPE_CHECKING:
    from mlops_actions.engines.base import Engine
    from mlops_actions.monitoring.accumulate import WindowCounts
    from mlops_actions.monitoring.labels import Labels
    from mlops_actions.monitoring.logs import LogChunk

BASELINE_WINDOW = "the first window with at least monitor.min_window_rows rows"


def monitored_layout(config: Config, profile: Profile) -> Layout:
    """The features (the config's ``data.features``, else the profile's columns without target and id) with
    the reference's dtypes; whether the prediction is a number."""
    skip = {config.target, config.id_column}
    names = list(config.features) if config.features else [n for n in profile.columns if n not in skip]
    unknown = [n for n in names if n not in profile.columns]
    if unknown:
        raise DataError(f"the reference profile has no column {', '.join(repr(n) for n in unknown)}")
    features = {
        n: profile.columns[n].dtype for n in names if profile.columns[n].kind in ("numeric", "categorical")
    }
    known = frozenset(n for n in profile.columns if n not in features) | {n for n in skip if n}
    return Layout(features=features, numeric_prediction=not config.is_classification, known=known)


def _unterminated(path: Path) -> bool:
    """Whether a JSON Lines file ends in a line without its newline (being written: left out)."""
    if path.suffix.lower() not in (".jsonl", ".ndjson"):
        return False
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        if handle.tell() == 0:
            return False
        handle.seek(-1, 2)
        return handle.read(1) != b"\n"


@dataclass
class Scan:
    """What one pass over the logs collected."""

    windows: dict[int, WindowAccumulator] = field(default_factory=dict)
    rows_read: int = 0
    before_since: int = 0
    versions: Counter[str] = field(default_factory=Counter)


def _scan(
    files: list[Path],
    layout: Layout,
    trained: Profile,
    settings: MonitorSettings,
    length: int,
    since_ns: int | None,
    chunk_bytes: int,
    chunk_rows: int,
    on_chunk: Callable[[LogChunk], None] | None,
    outputs: Outputs | None = None,
    performance: PerformanceCollector | None = None,
) -> Scan:
    """Every chunk of every file, normalised, left out before ``since_ns``, added to its windows (outputs
    on the bins of ``outputs``, else of the first chunk; what ``performance`` needs, to it)."""
    import numpy as np

    scan = Scan()
    for path in files:
        for chunk in read_ahead(
            read_log(path, chunk_bytes=chunk_bytes, chunk_rows=chunk_rows, input_types=layout.features)
        ):
            if on_chunk is not None:
                on_chunk(chunk)
            columns = normalise(chunk, layout)
            scan.rows_read += columns.rows
            kept = None
            if since_ns is not None:
                keep = columns.times >= since_ns
                if not keep.all():
                    scan.before_since += int(np.count_nonzero(~keep))
                    kept = np.flatnonzero(keep)
                    columns = columns.take(kept)
            if columns.rows == 0:
                continue
            if performance is not None:
                performance.add(chunk.table, columns, kept)
            if "version" in chunk.table.column_names:
                scan.versions.update(_values(chunk.table.column("version")))
            if outputs is None:
                outputs = output_bins(columns)
            for start, rows in split_by_window(columns.times, length):
                accumulator = scan.windows.get(start)
                if accumulator is None:
                    accumulator = scan.windows[start] = WindowAccumulator(
                        start, layout, trained, outputs, settings.probability_tolerance
                    )
                whole = isinstance(rows, slice) and rows.start == 0 and rows.stop == columns.rows
                accumulator.add(columns if whole else columns.take(rows))
    return scan


@dataclass
class Collected:
    """What a run collected, in order or on an engine: per window start its input profile, output profile
    and counts; the rows read and those before ``--since``; the version logged most often; the files and
    how many end in a line being written."""

    windows: dict[int, tuple[Profile, Profile, WindowCounts]]
    rows_read: int
    before_since: int
    version: str | None
    files: list[str]
    partial_lines: int  # files whose last line is being written (left out)


@dataclass(frozen=True)
class Reading:
    """What a pass over the logs needs, wherever it runs."""

    logs: str
    layout: Layout
    trained: Profile
    settings: MonitorSettings
    length: int
    since_ns: int | None
    chunk_bytes: int
    chunk_rows: int
    outputs: Outputs | None
    performance: PerformanceCollector


def _in_order(reading: Reading, on_chunk: Callable[[LogChunk], None] | None) -> Collected:
    """The logs read here, file after file, chunk after chunk."""
    r = reading
    files = log_files(r.logs)
    scan = _scan(
        files,
        r.layout,
        r.trained,
        r.settings,
        r.length,
        r.since_ns,
        r.chunk_bytes,
        r.chunk_rows,
        on_chunk,
        r.outputs,
        r.performance,
    )
    return Collected(
        windows={start: accumulator.finish() for start, accumulator in scan.windows.items()},
        rows_read=scan.rows_read,
        before_since=scan.before_since,
        version=scan.versions.most_common(1)[0][0] if scan.versions else None,
        files=[str(f) for f in files],
        partial_lines=sum(_unterminated(f) for f in files),
    )


def _on_engine(engine: Engine, reading: Reading) -> Collected:
    """The monitor as a job on ``engine`` (``monitoring/job.py``): the output bins, when the release has none,
    from the first chunk read here; the performance collector given the merged partial."""
    from mlops_actions.engines.sources import resolve_dataset
    from mlops_actions.monitoring.job import MonitorJob, first_outputs, partial_last_lines

    r = reading
    dataset = resolve_dataset(r.logs, kind="logs")
    outputs = r.outputs
    if outputs is None:
        outputs = first_outputs(
            dataset, r.layout, r.since_ns, chunk_bytes=r.chunk_bytes, chunk_rows=r.chunk_rows
        )
    partial = partial_last_lines(dataset)
    job = MonitorJob(
        r.layout,
        r.trained,
        outputs,
        r.settings.probability_tolerance,
        r.length,
        r.since_ns,
        r.performance,
        partial,
    )
    summary = engine.run(dataset, job)
    if summary is None:
        raise DataError(f"{r.logs}: the prediction logs hold no rows")
    r.performance.absorb(summary.performance)
    return Collected(
        windows=job.collected(summary),
        rows_read=summary.rows_read,
        before_since=summary.before_since,
        version=summary.most_common_version(),
        files=list(dataset.files) or [r.logs],
        partial_lines=len(partial),
    )


def run_monitor(
    config: Config,
    logs: str,
    reference: Reference,
    *,
    window: str = "1d",
    since: str | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    on_chunk: Callable[[LogChunk], None] | None = None,
    labels: Labels | None = None,
    engine: Engine | None = None,
) -> MonitorResult:
    """Check the prediction logs ``logs`` (a file, folder or glob) window by window against ``reference``;
    ``labels`` (``monitoring/labels.py``) are joined to the logged rows for the performance check. Without
    an ``engine`` the logs are read here, in order; with one, the monitor runs on it as a job
    (``monitoring/job.py``), with the same result."""
    import importlib.util

    if importlib.util.find_spec("pyarrow") is None:
        raise UsageError("monitor reads logs with pyarrow: pip install 'mlops-actions[parquet]'")
    settings = monitor_settings(config.raw)
    thresholds = resolve_thresholds(settings.drift_thresholds)
    length = parse_window(window)
    since_ns = parse_time(since) if since else None
    layout = monitored_layout(config, reference.profile)
    trained = Profile(
        rows=reference.profile.rows,
        columns={n: reference.profile.columns[n] for n in layout.features},
        sources=reference.profile.sources,
    )
    released = reference.outputs
    outputs = Outputs(released.dtypes, released.profile) if released is not None else None
    performance = PerformanceCollector(
        task=config.task,
        length=length,
        settings=performance_settings(config.raw),
        metric_names=tuple(config.metrics),
        judged=performance_settings(config.raw).metrics or (config.primary_metric,),
        labels=labels,
        outputs=released,
    )
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):  # BLAS threads only contend on these small products
        reading = Reading(
            logs, layout, trained, settings, length, since_ns, chunk_bytes, chunk_rows, outputs, performance
        )
        found = _in_order(reading, on_chunk) if engine is None else _on_engine(engine, reading)
    windows = found.windows
    if found.rows_read == 0:
        raise DataError(f"{logs}: the prediction logs hold no rows")
    if not windows:
        raise DataError(f"{logs}: no rows at or after --since {since}")
    collected = [Window(iso(start), iso(start + length), *windows[start]) for start in sorted(windows)]
    baseline = next((w for w in collected if w.counts.rows >= settings.min_window_rows), None)
    starts = sorted(windows)

    def against(w: Window) -> Profile | None:
        if released is not None:
            return released.profile
        return None if baseline is None or w is baseline else baseline.outputs

    results = tuple(
        judge_window(w, trained, settings, thresholds, against(w), performance.finding(start))
        for w, start in zip(collected, starts, strict=True)
    )
    if released is not None:
        drift_reference = f"the release-time eval outputs ({EVAL_OUTPUTS_FILE}, {released.rows} rows)"
    elif baseline is not None:
        drift_reference = f"{BASELINE_WINDOW} ({baseline.start})"
    else:
        drift_reference = "none (no full window)"
    version = reference.version or found.version
    return MonitorResult(
        model=config.model_name,
        version=version,
        reference=reference.source,
        window=window,
        since=since,
        files=tuple(found.files),
        rows_read=found.rows_read,
        rows_before_since=found.before_since,
        partial_lines=found.partial_lines,
        prediction_drift_reference=drift_reference,
        windows=results,
        settings={
            "nan_output_share": settings.nan_output_share,
            "out_of_range_share": settings.out_of_range_share,
            "unseen_category_share": settings.unseen_category_share,
            "null_share_increase": settings.null_share_increase,
            "probability_tolerance": settings.probability_tolerance,
            "min_window_rows": settings.min_window_rows,
            "constant_output_rows": settings.constant_output_rows,
            "drift_thresholds": thresholds,
            "drift_correction": settings.drift_correction,
            "drift_family_level": settings.drift_family_level,
            "drift_min_psi": settings.drift_min_psi,
            "drift_min_jensenshannon": settings.drift_min_jensenshannon,
        },
        performance_basis=performance.basis(),
    )


def _values(column: object) -> dict[str, int]:
    import pyarrow.compute as pc

    counts = pc.value_counts(column)
    return {
        str(item["values"]): int(item["counts"]) for item in counts.to_pylist() if item["values"] is not None
    }
