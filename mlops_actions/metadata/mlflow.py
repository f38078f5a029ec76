"""The MLflow Tracking backend of the metadata store (optional extra: ``pip install 'mlops-actions[mlflow]'``).

The records of model ``churn`` are the runs of the experiment ``mlops-actions/churn/runs`` (beside the
registry's ``mlops-actions/churn``), one run per record, named ``<stage> <version>`` (``release 1.2.0``) or
``check #<pr>``, starting and ending when the stage did. Its tags: ``mlops.record_id``, ``mlops.stage``,
``mlops.model``, ``mlops.verdict``, and ``mlops.pr``, ``mlops.version``, ``mlops.commit`` when the record has
them. Each metric is an MLflow metric ``<name>`` (its value) with ``<name>.low``, ``<name>.high`` and
``<name>.delta`` where the record has them, at the stage's start time, step 0. The record itself, exactly as
appended, is the tag ``mlops.record`` (its canonical JSON line) when it fits MLflow's tag limit, else the
run's artifact ``mlops-record.json``.

A run is a record once it is FINISHED. ``append`` looks for a run tagged with the record's id first: none,
it creates one (RUNNING), logs the metrics (and the artifact), then sets it FINISHED; one RUNNING (a write
interrupted, or whose answer was lost), it finishes that one; one FINISHED, the record is stored already.
After a failed call it starts over from that search, so a write that took effect is never repeated; at
most ``ATTEMPTS`` times. Every call is bounded by MLflow's own variables, set for the store's calls unless
the environment sets them: ``MLFLOW_HTTP_REQUEST_TIMEOUT`` (``REQUEST_TIMEOUT_S``) and
``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` (0: MLflow would resend a create whose answer was lost; the store
re-checks instead).

The tracking server comes from ``registry.tracking_uri`` or ``MLFLOW_TRACKING_URI``, as the MLflow registry's
does; credentials from MLflow's own variables (``MLFLOW_TRACKING_TOKEN``, ``MLFLOW_TRACKING_USERNAME``...).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from mlops_actions.domain.config import Config
from mlops_actions.errors import RegistryError, StoreError
from mlops_actions.metadata.records import (
    MAX_RECORD_CHARS,
    Listing,
    RunRecord,
    parse_record,
    record_line,
    record_order,
)
from mlops_actions.registry.mlflow import configured_tracking_uri, tracking_client

NAMESPACE = "mlops-actions"  # experiments <namespace>/<model>/runs
RECORD_ARTIFACT = "mlops-record.json"
MAX_RECORD_TAG_CHARS = 5_000  # MLflow servers keep run tag values of 5,000 (MLflow 2) or 8,000 characters
MAX_METRICS_PER_CALL = 1_000  # MLflow's log-batch limit
ATTEMPTS = 3
PAUSE_S = 0.5  # before the second attempt; twice that before the third
REQUEST_TIMEOUT_S = 20
SEARCH_PAGE = 1_000
TAG = {
    "record_id": "mlops.record_id",
    "stage": "mlops.stage",
    "model": "mlops.model",
    "verdict": "mlops.verdict",
    "pr": "mlops.pr",
    "version": "mlops.version",
    "commit": "mlops.commit",
    "record": "mlops.record",
}
METRIC_FIELDS = {"value": "", "low": ".low", "high": ".high", "delta": ".delta"}
REFUSALS = {  # MLflow error codes that another attempt would not change
    "BAD_REQUEST",
    "ENDPOINT_NOT_FOUND",
    "INVALID_PARAMETER_VALUE",
    "INVALID_STATE",
    "PERMISSION_DENIED",
    "RESOURCE_DOES_NOT_EXIST",
    "UNAUTHENTICATED",
}
REQUEST_BOUNDS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT_S),
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
}

T = TypeVar("T")

_bounds_lock = threading.Lock()
_bounds_users = 0
_bounds_set: list[str] = []


@contextlib.contextmanager
def bounded_requests() -> Iterator[None]:
    """MLflow's request time-out and retries for the calls made inside, unless the environment sets them
    (MLflow reads them from the environment at each request; the last caller to leave restores it)."""
    global _bounds_users
    with _bounds_lock:
        if _bounds_users == 0:
            for key, value in REQUEST_BOUNDS.items():
                if key not in os.environ:
                    os.environ[key] = value
                    _bounds_set.append(key)
        _bounds_users += 1
    try:
        yield
    finally:
        with _bounds_lock:
            _bounds_users -= 1
            if _bounds_users == 0:
                while _bounds_set:
                    os.environ.pop(_bounds_set.pop(), None)


def experiment_name(model: str, namespace: str = NAMESPACE) -> str:
    """The experiment holding the records of ``model``."""
    return f"{namespace}/{model}/runs"


def run_name(record: RunRecord) -> str:
    """``release 1.2.0``, ``check #12``, or the stage alone."""
    if record.version:
        return f"{record.stage} {record.version}"
    if record.pr is not None:
        return f"{record.stage} #{record.pr}"
    return record.stage


def metric_key(name: str) -> str:
    """A record's metric name as an MLflow metric key (letters, digits, ``_ - . space``; 240 at most)."""
    key = re.sub(r"[^\w.\- ]", "_", name)[:240]
    return key if key and not key.startswith(".") else f"_{key}"


def record_metrics(record: RunRecord) -> dict[str, float]:
    """MLflow metric key -> value for the value, low, high and delta of each of the record's metrics."""
    found: dict[str, float] = {}
    for name, fields in record.metrics.items():
        if not isinstance(fields, Mapping):
            continue
        for field, suffix in METRIC_FIELDS.items():
            number = fields.get(field)
            if isinstance(number, (int, float)) and not isinstance(number, bool) and math.isfinite(number):
                found[metric_key(name) + suffix] = float(number)
    return found


def record_tags(record: RunRecord, line: str) -> dict[str, str]:
    """The tags of the record's run (the record itself among them when it fits)."""
    tags = {
        TAG["record_id"]: record.id,
        TAG["stage"]: record.stage,
        TAG["model"]: record.model,
        TAG["verdict"]: record.verdict,
    }
    for key, value in (("pr", record.pr), ("version", record.version), ("commit", record.commit)):
        if value is not None:
            tags[TAG[key]] = str(value)
    if len(line) <= MAX_RECORD_TAG_CHARS:
        tags[TAG["record"]] = line
    return tags


def epoch_ms(started_at: str) -> int:
    """The record's ISO 8601 start time in milliseconds since the epoch (now when unreadable)."""
    try:
        moment = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    except ValueError:
        return int(time.time() * 1000)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def display_uri(uri: str) -> str:
    """The tracking URI without any user name or password in it."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _refused(error: Exception) -> bool:
    return str(getattr(error, "error_code", "")) in REFUSALS


class MlflowStore:
    """Run records as the runs of an MLflow Tracking server."""

    def __init__(self, *, tracking_uri: str, namespace: str = NAMESPACE):
        try:
            self.client = tracking_client(tracking_uri, needed_by="metadata.backend mlflow")
        except RegistryError as error:
            raise StoreError(str(error)) from None
        self.tracking_uri = tracking_uri
        self.namespace = namespace
        self.name = f"mlflow store {display_uri(tracking_uri)}"
        self._experiments: dict[str, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MlflowStore(tracking_uri={display_uri(self.tracking_uri)!r})"

    @classmethod
    def from_config(cls, config: Config, env: Mapping[str, str] | None = None) -> MlflowStore:
        """The store at ``registry.tracking_uri`` (default MLFLOW_TRACKING_URI)."""
        uri = configured_tracking_uri(config.registry_options, env)
        if not uri:
            raise StoreError(
                "mlflow store: no tracking server; set registry.tracking_uri in the config or MLFLOW_TRACKING_URI"
            )
        return cls(tracking_uri=uri)

    def close(self) -> None:
        """Nothing to release: every call is a request of its own."""

    # -- calls ---------------------------------------------------------------------------------------

    def _error(self, what: str, error: Exception) -> StoreError:
        said = (str(error).splitlines() or [type(error).__name__])[0]
        said = said.replace(self.tracking_uri, display_uri(self.tracking_uri))[:300]
        return StoreError(f"{self.name}: {what}: {said}")

    def _attempts(self, what: str, step: Callable[[], T]) -> T:
        """``step`` until it succeeds, ``ATTEMPTS`` times at most; a refusal is not retried."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with bounded_requests():
                    return step()
            except StoreError:
                raise
            except Exception as error:
                if attempt == ATTEMPTS or _refused(error):
                    raise self._error(what, error) from None
            time.sleep(PAUSE_S * attempt)
        raise AssertionError("unreachable")

    def _experiment_id(self, model: str, *, create: bool) -> str | None:
        with self._lock:
            if model in self._experiments:
                return self._experiments[model]
        name = experiment_name(model, self.namespace)
        experiment = self.client.get_experiment_by_name(name)
        if experiment is None:
            if not create:
                return None
            with contextlib.suppress(Exception):  # created concurrently, or the answer was lost: read it back
                self.client.create_experiment(name, tags={TAG["model"]: model})
            experiment = self.client.get_experiment_by_name(name)
            if experiment is None:
                raise StoreError(f"{self.name}: the experiment {name!r} could not be created")
        if experiment.lifecycle_stage != "active":
            raise StoreError(
                f"{self.name}: the experiment {name!r} is deleted; restore it (mlflow experiments restore) "
                "or delete it for good"
            )
        with self._lock:
            self._experiments[model] = str(experiment.experiment_id)
        return str(experiment.experiment_id)

    def _runs(self, experiment_ids: list[str], query: str) -> Iterator[Any]:
        token = None
        while True:
            page = self.client.search_runs(
                experiment_ids,
                filter_string=query,
                max_results=SEARCH_PAGE,
                order_by=["attributes.start_time ASC"],
                page_token=token,
            )
            yield from page
            token = page.token
            if not token:
                return

    # -- writing -------------------------------------------------------------------------------------

    def append(self, record: RunRecord) -> None:
        """Store ``record`` as a run of its model's experiment, unless a run holds it already."""
        try:
            parse_record(record.as_dict(), where=f"record {record.id}")
            line = record_line(record).rstrip("\n")
        except ValueError as error:
            raise StoreError(f"{self.name}: refused: {error}") from None
        if len(line) > MAX_RECORD_CHARS:
            raise StoreError(
                f"{self.name}: refused: record {record.id} holds {len(line)} characters, more than {MAX_RECORD_CHARS}"
            )
        what = f"recording the {record.stage} run {record.id} of {record.model!r}"
        self._attempts(what, lambda: self._write(record, line))

    def _write(self, record: RunRecord, line: str) -> None:
        experiment_id = self._experiment_id(record.model, create=True)
        assert experiment_id is not None
        query = f"tags.`{TAG['record_id']}` = '{record.id}'"
        runs = list(self._runs([experiment_id], query))
        if any(run.info.status == "FINISHED" for run in runs):
            return  # stored already, by a call whose answer was lost
        started = epoch_ms(record.started_at)
        if runs:
            run_id = runs[0].info.run_id  # an interrupted write: finish it
        else:
            run = self.client.create_run(
                experiment_id,
                start_time=started,
                tags=record_tags(record, line),
                run_name=run_name(record),
            )
            run_id = run.info.run_id
        self._finish(run_id, record, line, started)

    def _finish(self, run_id: str, record: RunRecord, line: str, started: int) -> None:
        """Log the metrics (and the record's artifact), then mark the run FINISHED; each step idempotent."""
        from mlflow.entities import Metric

        metrics = [Metric(key, value, started, 0) for key, value in record_metrics(record).items()]
        for first in range(0, len(metrics), MAX_METRICS_PER_CALL):
            self.client.log_batch(run_id, metrics=metrics[first : first + MAX_METRICS_PER_CALL])
        if len(line) > MAX_RECORD_TAG_CHARS:
            self.client.log_text(run_id, line, RECORD_ARTIFACT)
        ended = started + round((record.duration_s or 0.0) * 1000)
        self.client.set_terminated(run_id, "FINISHED", end_time=max(ended, started))

    # -- reading -------------------------------------------------------------------------------------

    def list_records(self, model: str | None = None) -> Listing:
        """The records of ``model`` (every model's when None), oldest first; an unreadable one is skipped
        with a warning."""
        return self._attempts("listing the records", lambda: self._read(model))

    def _experiment_ids(self, model: str | None) -> list[str]:
        if model is not None:
            found = self._experiment_id(model, create=False)
            return [] if found is None else [found]
        ids: list[str] = []
        token = None
        prefix, suffix = f"{self.namespace}/", "/runs"  # the experiments experiment_name names
        while True:
            page = self.client.search_experiments(
                filter_string=f"name LIKE '{prefix}%{suffix}'",
                max_results=SEARCH_PAGE,
                page_token=token,
            )
            ids += [
                str(e.experiment_id)
                for e in page
                if e.lifecycle_stage == "active" and e.name.startswith(prefix) and e.name.endswith(suffix)
            ]
            token = page.token
            if not token:
                return ids

    def _read(self, model: str | None) -> Listing:
        experiment_ids = self._experiment_ids(model)
        records: dict[str, RunRecord] = {}
        warnings: list[str] = []
        query = "attributes.status = 'FINISHED'"
        for first in range(0, len(experiment_ids), 100):
            for run in self._runs(experiment_ids[first : first + 100], query):
                tags = dict(run.data.tags or {})
                if TAG["record_id"] not in tags:
                    continue  # not a record: a run someone else logged in the experiment
                where = f"{self.name}: run {run.info.run_id} ({tags.get('mlflow.runName', '')})"
                try:
                    record = self._record_of(run.info.run_id, tags, where)
                except ValueError as error:
                    warnings.append(f"{where}: skipped: {str(error).removeprefix(where + ': ')}")
                    continue
                if model is None or record.model == model:
                    records.setdefault(record.id, record)
        return Listing(sorted(records.values(), key=record_order), warnings)

    def _record_of(self, run_id: str, tags: Mapping[str, str], where: str) -> RunRecord:
        text = tags.get(TAG["record"])
        if text is None:
            text = self._artifact_text(run_id)
        try:
            document = json.loads(text)
        except ValueError as error:
            raise ValueError(f"not JSON ({error})") from None
        record = parse_record(document, where=where)
        if record.id != tags[TAG["record_id"]]:
            raise ValueError(f"its record id {record.id!r} is not the run's {tags[TAG['record_id']]!r}")
        return record

    def _artifact_text(self, run_id: str) -> str:
        with tempfile.TemporaryDirectory(prefix="mlops-mlflow-record-") as tmp:
            try:
                local = self.client.download_artifacts(run_id, RECORD_ARTIFACT, tmp)
            except Exception as error:
                if not _refused(error):
                    raise  # the server failed: the whole listing is tried again
                raise ValueError(f"no tag {TAG['record']} and no artifact {RECORD_ARTIFACT}") from None
            return Path(local).read_text(encoding="utf-8")
