"""Prometheus text (exposition format 0.0.4) of the server: requests, latency, batches, model, log, and
the live guards' counters (non-finite outputs, inputs outside the trained range, unseen categories).

Counters live in this process; with several workers each one answers ``/metrics`` for itself and labels
its series with ``worker`` (Prometheus sums them).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_actions.serving.batcher import Batcher
    from mlops_actions.serving.guards import LiveGuards
    from mlops_actions.serving.prediction_log import PredictionLog

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
PREFIX = "mlops_serve_"


@dataclass
class Histogram:
    """Cumulative-bucket histogram with a sum and a count."""

    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1

    def lines(self, name: str, labels: str) -> Iterable[str]:
        running = 0
        sep = "," if labels else ""
        for bound, count in zip(self.buckets, self.counts, strict=False):
            running += count
            yield f'{name}_bucket{{{labels}{sep}le="{_number(bound)}"}} {running}'
        yield f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.count}'
        yield f"{name}_sum{_braces(labels)} {_number(self.total)}"
        yield f"{name}_count{_braces(labels)} {self.count}"


def _guard_lines(guards: LiveGuards, labels: str) -> Iterable[str]:
    """The live guards' series, each labelled with the model and version (and the column)."""
    families = (
        ("input_guards_enabled", "gauge", "1 when the inputs are guarded against the training-data profile."),
        ("input_rows_total", "counter", "Rows the live guards looked at (predicted rows)."),
        ("output_nonfinite_total", "counter", "Rows with a NaN, infinite or missing output."),
        ("input_out_of_range_total", "counter", "Input values outside the trained [min, max], by column."),
        ("input_unseen_category_total", "counter", "Input categories training never had, by column."),
    )
    values: dict[str, list[tuple[str | None, int]]] = {
        "input_guards_enabled": [(None, int(guards.inputs_on))],
        "input_rows_total": [(None, guards.rows)],
        "output_nonfinite_total": [(None, guards.nonfinite_rows)],
        "input_out_of_range_total": sorted(guards.out_of_range.items()),
        "input_unseen_category_total": sorted(guards.unseen.items()),
    }
    if not guards.inputs_on:
        reason = (guards.off_reason or "").replace("\n", " ")
        yield f"# {PREFIX}input guards off: {reason}"
    for name, kind, help_text in families:
        full = PREFIX + name
        yield f"# HELP {full} {help_text}"
        yield f"# TYPE {full} {kind}"
        for column, count in values[name]:
            shown = labels if column is None else f'{labels},column="{_label(column)}"'
            yield f"{full}{{{shown}}} {count}"


def _braces(labels: str) -> str:
    return f"{{{labels}}}" if labels else ""


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class ServerMetrics:
    """What ``/metrics`` shows, updated by the routes and the batcher."""

    def __init__(self, *, model: str, version: str, digest: str, worker: int | None = None):
        self.model, self.version, self.digest = model, version, digest
        self.worker = worker
        self.requests: dict[tuple[str, int], int] = {}
        self.latency = Histogram(LATENCY_BUCKETS_S)
        self.batch_size = Histogram(BATCH_SIZE_BUCKETS)
        self.batch_seconds = Histogram(LATENCY_BUCKETS_S)
        self.rows = 0

    def count_request(self, endpoint: str, status: int, seconds: float | None = None) -> None:
        key = (endpoint, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        if seconds is not None and endpoint == "/predict":
            self.latency.observe(seconds)

    def observe_batch(self, rows: int, seconds: float) -> None:
        self.batch_size.observe(rows)
        self.batch_seconds.observe(seconds)
        self.rows += rows

    def render(
        self,
        batcher: Batcher | None = None,
        log: PredictionLog | None = None,
        guards: LiveGuards | None = None,
    ) -> str:
        """The exposition text."""
        base = f'worker="{self.worker}"' if self.worker is not None else ""
        sep = "," if base else ""
        out: list[str] = []

        def family(name: str, kind: str, help_text: str) -> str:
            full = PREFIX + name
            out.append(f"# HELP {full} {help_text}")
            out.append(f"# TYPE {full} {kind}")
            return full

        name = family("model_info", "gauge", "The served model version (value 1).")
        out.append(
            f'{name}{{{base}{sep}model="{_label(self.model)}",version="{_label(self.version)}",'
            f'digest="{_label(self.digest)}"}} 1'
        )
        name = family("requests_total", "counter", "Answered requests by endpoint and HTTP status.")
        for (endpoint, status), count in sorted(self.requests.items()):
            out.append(f'{name}{{{base}{sep}endpoint="{_label(endpoint)}",status="{status}"}} {count}')
        name = family("request_duration_seconds", "histogram", "Latency of POST /predict, arrival to answer.")
        out.extend(self.latency.lines(name, base))
        name = family("batch_size_rows", "histogram", "Rows per predict call (merged requests).")
        out.extend(self.batch_size.lines(name, base))
        name = family("batch_duration_seconds", "histogram", "Seconds per predict call.")
        out.extend(self.batch_seconds.lines(name, base))
        name = family("predicted_rows_total", "counter", "Rows predicted.")
        out.append(f"{name}{_braces(base)} {self.rows}")
        if batcher is not None:
            name = family("queued_rows", "gauge", "Rows waiting for a predict call.")
            out.append(f"{name}{_braces(base)} {batcher.queued_rows}")
            name = family(
                "overloaded_total", "counter", "Requests refused with 503: they would miss their deadline."
            )
            out.append(f"{name}{_braces(base)} {batcher.refused}")
            name = family(
                "batch_cost_seconds", "gauge", "Fitted cost of a predict call: fixed + per_row * rows."
            )
            out.append(f'{name}{{{base}{sep}term="fixed"}} {_number(batcher.cost.fixed)}')
            out.append(f'{name}{{{base}{sep}term="per_row"}} {_number(batcher.cost.per_row)}')
        if log is not None:
            name = family("prediction_log_rows_total", "counter", "Prediction log rows by outcome.")
            out.append(f'{name}{{{base}{sep}outcome="written"}} {log.written}')
            out.append(f'{name}{{{base}{sep}outcome="dropped"}} {log.dropped}')
            name = family("prediction_log_queued_rows", "gauge", "Rows waiting for the log writer.")
            out.append(f"{name}{_braces(base)} {log.queued}")
        if guards is not None:
            labels = f'{base}{sep}model="{_label(self.model)}",version="{_label(self.version)}"'
            out.extend(_guard_lines(guards, labels))
        return "\n".join(out) + "\n"
