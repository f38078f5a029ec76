"""A model's trend across versions and runs, from the store's records and the registry's versions: the metrics
of every released version with their intervals, the PR checks over time, the deploys and the monitor runs.

Plain data for the renderers (``render/trend.py``, ``render/trend_html.py``); nothing here reads a file or the
network: :func:`model_trends` is handed the records and the versions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_actions.metadata.records import Listing, RunRecord

if TYPE_CHECKING:
    from mlops_actions.domain.config import Config
    from mlops_actions.registry.base import ModelVersion

RELEASE_NOTE_VERSIONS = 5  # released versions the release notes and the model card show before this one


@dataclass(frozen=True)
class MetricPoint:
    """One metric's value and its interval (any may be None); for a version gated against a baseline, the
    interval of its change instead (``change_low``, ``change_high``: the value's own was not measured)."""

    value: float | None
    low: float | None = None
    high: float | None = None
    change_low: float | None = None
    change_high: float | None = None


@dataclass(frozen=True)
class VersionPoint:
    """A released version: its metrics (name -> point), when and from which commit it was released."""

    version: str
    released_at: str | None
    commit: str | None
    metrics: dict[str, MetricPoint]
    production: bool = False
    current: bool = False  # the version being released now (release notes, model card)


@dataclass(frozen=True)
class RunPoint:
    """One check, deploy or monitor run: its verdict, when, on what, and the primary metric it saw."""

    stage: str
    verdict: str
    started_at: str
    commit: str | None = None
    version: str | None = None
    pr: int | None = None
    title: str | None = None  # the pull request's title, when the record holds it
    primary: MetricPoint | None = None
    delta: float | None = None  # a check's primary-metric change against its baseline
    links: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelTrend:
    """Everything the trend of one model shows, oldest first."""

    model: str
    primary_metric: str
    higher_is_better: bool
    versions: list[VersionPoint]
    checks: list[RunPoint]
    deploys: list[RunPoint]
    monitors: list[RunPoint]
    warnings: list[str] = field(default_factory=list)

    @property
    def metric_names(self) -> list[str]:
        """The metrics the versions carry, the primary first."""
        names = dict.fromkeys([self.primary_metric])
        for point in self.versions:
            names.update(dict.fromkeys(point.metrics))
        return list(names)

    def counts(self, stage: str) -> dict[str, int]:
        """How many runs of ``stage`` (check, deploy, monitor) ended with each verdict."""
        runs = {"check": self.checks, "deploy": self.deploys, "monitor": self.monitors}[stage]
        return dict(Counter(run.verdict for run in runs))

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["counts"] = {stage: self.counts(stage) for stage in ("check", "deploy", "monitor")}
        return document


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def metric_point(document: Any) -> MetricPoint | None:
    """A metric as the registry (``value``, ``ci_low``, ``ci_high``) or a record (``value``, ``low``, ``high``)
    keeps it, or a bare number; None when it has no finite value."""
    if isinstance(document, Mapping):
        value = _number(document.get("value"))
        low = _number(document.get("low", document.get("ci_low")))
        high = _number(document.get("high", document.get("ci_high")))
    else:
        value, low, high = _number(document), None, None
    return None if value is None else MetricPoint(value, low, high)


def _metrics(document: Any, *, value_intervals: bool = True) -> dict[str, MetricPoint]:
    """Name -> point; the intervals kept only when they are the value's (``value_intervals``) and hold it."""
    if not isinstance(document, Mapping):
        return {}
    points: dict[str, MetricPoint] = {}
    for name, metric in document.items():
        point = metric_point(metric)
        if point is None:
            continue
        change = metric if isinstance(metric, Mapping) else {}
        if point.low is None and _number(change.get("delta_low")) is not None:  # a record's change interval
            point = MetricPoint(
                point.value,
                change_low=_number(change["delta_low"]),
                change_high=_number(change.get("delta_high")),
            )
        elif point.low is None or point.high is None:
            point = MetricPoint(point.value)
        elif not value_intervals:
            point = MetricPoint(point.value, change_low=point.low, change_high=point.high)
        elif not point.low <= point.value <= point.high:  # type: ignore[operator]
            point = MetricPoint(point.value)  # not the value's interval, and whose it is is unknown
        points[str(name)] = point
    return points


def _gated(baseline: Any) -> bool:
    """Whether a release with this ``baseline`` ({source, version}) was gated against one: its published
    intervals are then the change's (a paired bootstrap of the difference), not the value's."""
    source = baseline.get("source") if isinstance(baseline, Mapping) else None
    return source not in (None, "none")


def compared_at_release(version: ModelVersion) -> bool:
    """Whether ``version`` was gated against a baseline at release: its registry intervals are then the change's."""
    release = version.lineage.get("release") if isinstance(version.lineage, Mapping) else None
    return _gated(release.get("baseline") if isinstance(release, Mapping) else None)


def _version_key(version: str) -> tuple[int, tuple[int, ...], str]:
    from mlops_actions.domain.semver import parse_version
    from mlops_actions.errors import MlopsError

    try:
        return 0, parse_version(version), version
    except MlopsError:
        return 1, (), version


def version_points(versions: Iterable[ModelVersion], records: Iterable[RunRecord] = ()) -> list[VersionPoint]:
    """Every released version, by version number: the registry's versions with their metrics, completed by the
    store's release records (metrics the registry lacks, versions it no longer lists)."""
    points: dict[str, VersionPoint] = {}
    for version in versions:
        points[version.version] = VersionPoint(
            version=version.version,
            released_at=version.created,
            commit=version.commit,
            metrics=_metrics(version.metrics, value_intervals=not compared_at_release(version)),
            production="production" in version.aliases,
        )
    for record in records:
        if record.stage != "release" or not record.version or record.verdict == "error":
            continue
        known = points.get(record.version)
        metrics = _metrics(record.metrics, value_intervals=not _gated(record.baseline))
        if known is None:
            points[record.version] = VersionPoint(record.version, record.started_at, record.commit, metrics)
        else:  # a record's metric completes the registry's: one it lacks, or the value's interval it lacks
            merged = dict(known.metrics)
            for name, point in metrics.items():
                if name not in merged or (point.low is not None and merged[name].low is None):
                    merged[name] = point
            points[record.version] = VersionPoint(
                known.version,
                known.released_at or record.started_at,
                known.commit or record.commit,
                merged,
                known.production,
            )
    return [points[key] for key in sorted(points, key=_version_key)]


def run_point(record: RunRecord, primary_metric: str) -> RunPoint:
    """A check, deploy or monitor record as a point of the trend."""
    metric = record.metrics.get(primary_metric) if isinstance(record.metrics, Mapping) else None
    title = record.details.get("title") if isinstance(record.details, Mapping) else None
    return RunPoint(
        stage=record.stage,
        verdict=str(record.verdict),
        started_at=str(record.started_at),
        commit=_text(record.commit),
        version=_text(record.version),
        pr=record.pr if isinstance(record.pr, int) and not isinstance(record.pr, bool) else None,
        title=_text(title),
        primary=metric_point(metric),
        delta=_number(metric.get("delta")) if isinstance(metric, Mapping) else None,
        links={str(k): str(v) for k, v in record.links.items()} if isinstance(record.links, Mapping) else {},
    )


def model_trends(config: Config, listing: Listing, versions: Iterable[ModelVersion]) -> ModelTrend:
    """The trend of the config's model from its store records (``listing``) and its registry ``versions``."""
    return build_trend(
        config.model_name, config.primary_metric, listing, versions, higher_is_better=_higher(config)
    )


def _higher(config: Config) -> bool:
    from mlops_actions.domain.metric_names import METRICS

    info = METRICS.get(config.primary_metric)
    return True if info is None else info.higher_is_better


def build_trend(
    model: str,
    primary_metric: str,
    listing: Listing,
    versions: Iterable[ModelVersion],
    *,
    higher_is_better: bool = True,
) -> ModelTrend:
    """The trend of ``model``: its records of ``listing`` (others are left out) and its registry ``versions``."""
    records = [r for r in listing.records if r.model == model]
    by_stage: dict[str, list[RunPoint]] = {"check": [], "deploy": [], "monitor": []}
    for record in records:
        if record.stage in by_stage:
            by_stage[record.stage].append(run_point(record, primary_metric))
    return ModelTrend(
        model=model,
        primary_metric=primary_metric,
        higher_is_better=higher_is_better,
        versions=version_points(versions, records),
        checks=by_stage["check"],
        deploys=by_stage["deploy"],
        monitors=by_stage["monitor"],
        warnings=list(listing.warnings),
    )


def release_trend(
    versions: Iterable[ModelVersion],
    primary_metric: str,
    *,
    version: str,
    result: Mapping[str, Any],
    last: int = RELEASE_NOTE_VERSIONS,
) -> list[VersionPoint]:
    """The primary metric of the last ``last`` released versions and of ``version``, the one being released
    with the check ``result``; [] when no earlier version carries the metric (nothing to compare)."""
    earlier = [
        point
        for point in version_points(versions)
        if point.version != version and primary_metric in point.metrics
    ][-last:]
    if not earlier:
        return []
    rows = result.get("metrics")
    rows = rows if isinstance(rows, list) else []
    row = next((m for m in rows if isinstance(m, Mapping) and m.get("name") == primary_metric), None)
    current = None
    if isinstance(row, Mapping):
        compared = row.get("delta") is not None  # then ci_low/ci_high are the change's interval
        current = _metrics(
            {
                primary_metric: {
                    "value": row.get("candidate"),
                    "low": row.get("ci_low"),
                    "high": row.get("ci_high"),
                }
            },
            value_intervals=not compared,
        ).get(primary_metric)
    commit = (result.get("candidate") or {}).get("commit") if isinstance(result, Mapping) else None
    this = VersionPoint(
        version, None, _text(commit), {primary_metric: current} if current else {}, current=True
    )
    kept = [
        VersionPoint(
            p.version, p.released_at, p.commit, {primary_metric: p.metrics[primary_metric]}, p.production
        )
        for p in earlier
    ]
    return [*kept, this]
