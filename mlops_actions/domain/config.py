"""The ``mlops.yaml`` config: JSON Schema, loading, validation with one line per problem, typed access."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_actions.domain.metric_names import (
    DEFAULT_PRIMARY,
    METRICS,
    TASKS,
    MetricInfo,
    format_range,
    metrics_for_task,
)
from mlops_actions.domain.secrets import (
    SERVICE_SECRET_VARIABLES,
    USER_COMMANDS,
    VARIABLE_NAME_PATTERN,
    is_forge_token,
    remember_secret_names,
)
from mlops_actions.domain.trust import trusted_types_problems
from mlops_actions.errors import ConfigError

CONFIG_VERSION = 1
DECISIONS = ("interval", "point", "strict")
BASELINE_SOURCES = ("auto", "registry", "retrain", "none")
REGISTRY_BACKENDS = ("local", "github", "gitlab", "mlflow")
METADATA_BACKENDS = ("auto", "sqlite", "mlflow", "github", "git", "off")
MODEL_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"

_RULE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["metric"],
    "properties": {
        "metric": {"type": "string", "description": "Metric the rule judges (see metrics)."},
        "min": {"type": "number", "description": "Absolute lower bound on the candidate's value."},
        "max": {"type": "number", "description": "Absolute upper bound on the candidate's value."},
        "allowed_change": {
            "type": "number",
            "description": "Allowed change vs the baseline in the metric's better direction, absolute. "
            "Negative: a bounded regression is accepted; positive: an improvement is demanded.",
        },
        "allowed_change_relative": {
            "type": "number",
            "description": "Like allowed_change, as a fraction of the baseline value (-0.02 = 2% worse is fine).",
        },
        "decision": {
            "enum": list(DECISIONS),
            "description": "How a change rule is judged; defaults to gate.decision.",
        },
        "slices": {
            "type": "boolean",
            "default": False,
            "description": "Also judge the change rule in every slice with at least gate.min_slice_rows rows.",
        },
        "margin": {
            "type": "number",
            "minimum": 0,
            "description": "Negligible margin of a change rule: a change this small is equivalent, not a "
            "regression (default per metric, see docs/gate.md; 0 turns it off). Fractions of the baseline for "
            "RMSE, MAE and MAPE.",
        },
    },
}

_SECRETS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "User commands and the training entrypoint run without forge tokens (GITHUB_TOKEN, "
    "CI_JOB_TOKEN, ACTIONS_*...), service credentials (MLFLOW_TRACKING_TOKEN...) and the variables named here; "
    "their values are replaced by *** in every log, result, report and comment.",
    "properties": {
        "names": {
            "type": "array",
            "items": {"type": "string", "pattern": VARIABLE_NAME_PATTERN},
            "uniqueItems": True,
            "description": "More environment variables that hold secrets.",
        },
        "pass": {
            "type": "object",
            "additionalProperties": False,
            "description": "Secrets a command really needs, by command (tests, train, deploy); never a forge token.",
            "properties": {
                command: {
                    "type": "array",
                    "items": {"type": "string", "pattern": VARIABLE_NAME_PATTERN},
                    "description": f"Secrets the {command} command receives.",
                }
                for command in USER_COMMANDS
            },
        },
    },
}

DEFAULT_SMOKE_ROWS = 20
DEFAULT_SMOKE_TOLERANCE = 1e-6
DEFAULT_READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class DeploySettings:
    """The ``deploy`` section: the target (``command``, else the built-in server), smoke and load."""

    command: str | None = None
    url: str | None = None  # where a deploy.command target answers; placeholders {version} {tag} {model}
    port: int | None = None  # the built-in server's port (None: any free one)
    ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S
    smoke_rows: int = DEFAULT_SMOKE_ROWS
    smoke_tolerance: float = DEFAULT_SMOKE_TOLERANCE
    load: bool = True
    timeout_s: float = 1800.0

    @property
    def smoke_tested(self) -> bool:
        """Whether a deploy smoke-tests the target: the built-in server, or a command with deploy.url."""
        return self.command is None or self.url is not None


def deploy_settings(doc: dict[str, Any]) -> DeploySettings:
    """The typed ``deploy`` section of a validated config document."""
    deploy = doc.get("deploy") or {}
    smoke = deploy.get("smoke", {})
    return DeploySettings(
        command=deploy.get("command"),
        url=deploy.get("url"),
        port=deploy.get("port"),
        ready_timeout_s=float(deploy.get("ready_timeout_s", DEFAULT_READY_TIMEOUT_S)),
        smoke_rows=int(smoke.get("rows", DEFAULT_SMOKE_ROWS)),
        smoke_tolerance=float(smoke.get("tolerance", DEFAULT_SMOKE_TOLERANCE)),
        load=bool(deploy.get("load", True)),
        timeout_s=float(deploy.get("timeout_minutes", 30)) * 60,
    )


DEFAULT_MAX_BATCH_SIZE = 1024
DEFAULT_MAX_LATENCY_MS = 200.0
DEFAULT_LOG_MAX_MB = 64.0
DEFAULT_LOG_MAX_MINUTES = 60.0
DEFAULT_LOG_QUEUE_RECORDS = 10_000
DEFAULT_LOG_PARQUET_ROWS = 5_000
LOG_FORMATS = ("jsonl", "parquet")

_SERVE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "The model server (mlops-actions serve, docs/serving.md).",
    "properties": {
        "max_batch_size": {
            "type": "integer",
            "minimum": 1,
            "maximum": 100000,
            "default": DEFAULT_MAX_BATCH_SIZE,
            "description": "Most rows merged into one predict call; a request with more rows is refused (413).",
        },
        "max_latency_ms": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": DEFAULT_MAX_LATENCY_MS,
            "description": "Latency budget of a request, from arrival to answer; a request the measured cost "
            "of the queued batches says would miss it gets 503 with Retry-After.",
        },
        "log": {
            "type": "object",
            "additionalProperties": False,
            "description": "The prediction log: every prediction appended off the request path.",
            "properties": {
                "enabled": {"type": "boolean", "default": True, "description": "Write the prediction log."},
                "format": {
                    "enum": list(LOG_FORMATS),
                    "default": "jsonl",
                    "description": "jsonl: JSON Lines files appended to; parquet: one Parquet file per batch of "
                    "rows (needs pyarrow: mlops-actions[parquet]).",
                },
                "parquet_rows": {
                    "type": "integer",
                    "minimum": 1,
                    "default": DEFAULT_LOG_PARQUET_ROWS,
                    "description": "parquet: rows per file at most (also bounded by queue_records); a file "
                    "is also written past max_mb, after max_minutes and when the server stops.",
                },
                "path": {
                    "type": "string",
                    "default": ".mlops/predictions",
                    "description": "Folder of the log files, relative to this file (env MLOPS_PREDICTION_LOG).",
                },
                "max_mb": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "default": DEFAULT_LOG_MAX_MB,
                    "description": "A log file is closed and a new one started past this size.",
                },
                "max_minutes": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "default": DEFAULT_LOG_MAX_MINUTES,
                    "description": "A log file is closed and a new one started after this long.",
                },
                "queue_records": {
                    "type": "integer",
                    "minimum": 1,
                    "default": DEFAULT_LOG_QUEUE_RECORDS,
                    "description": "Records held in memory for the writer; past this (a slow or full disk) "
                    "records are dropped and counted, never failing a request.",
                },
            },
        },
    },
}


@dataclass(frozen=True)
class ServeSettings:
    """The ``serve`` section: batching limits and the prediction log."""

    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
    max_latency_ms: float = DEFAULT_MAX_LATENCY_MS
    log_enabled: bool = True
    log_path: Path | None = None  # absolute; None: .mlops/predictions beside the config
    log_max_bytes: int = int(DEFAULT_LOG_MAX_MB * 1024 * 1024)
    log_max_seconds: float = DEFAULT_LOG_MAX_MINUTES * 60
    log_queue_records: int = DEFAULT_LOG_QUEUE_RECORDS
    log_format: str = "jsonl"  # one of LOG_FORMATS
    log_parquet_rows: int = DEFAULT_LOG_PARQUET_ROWS


def serve_settings(doc: dict[str, Any], root: Path) -> ServeSettings:
    """The typed ``serve`` section of a validated config document (paths resolved against ``root``)."""
    serve = doc.get("serve", {})
    log = serve.get("log", {})
    return ServeSettings(
        max_batch_size=int(serve.get("max_batch_size", DEFAULT_MAX_BATCH_SIZE)),
        max_latency_ms=float(serve.get("max_latency_ms", DEFAULT_MAX_LATENCY_MS)),
        log_enabled=bool(log.get("enabled", True)),
        log_path=root / log.get("path", ".mlops/predictions"),
        log_max_bytes=int(float(log.get("max_mb", DEFAULT_LOG_MAX_MB)) * 1024 * 1024),
        log_max_seconds=float(log.get("max_minutes", DEFAULT_LOG_MAX_MINUTES)) * 60,
        log_queue_records=int(log.get("queue_records", DEFAULT_LOG_QUEUE_RECORDS)),
        log_format=str(log.get("format", "jsonl")),
        log_parquet_rows=int(log.get("parquet_rows", DEFAULT_LOG_PARQUET_ROWS)),
    )


DEFAULT_LOADTEST_USERS = 16
DEFAULT_LOADTEST_DURATION_S = 30.0
DEFAULT_LOADTEST_MAX_REQUESTS = 20_000
DEFAULT_LOADTEST_TIMEOUT_S = 10.0
DEFAULT_LOADTEST_ERROR_RATE = 0.01
LOADTEST_THRESHOLD_KEYS = ("p95_ms", "p99_ms", "error_rate", "min_rps")

_LOADTEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "The load test of a served model (mlops-actions loadtest, docs/loadtest.md).",
    "properties": {
        "users": {
            "type": "integer",
            "minimum": 1,
            "maximum": 1000,
            "default": DEFAULT_LOADTEST_USERS,
            "description": "Concurrent simulated users, each sending one request after another.",
        },
        "spawn_rate": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 1000,
            "description": "Users started per second (default: all users within the first second).",
        },
        "duration_s": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 3600,
            "default": DEFAULT_LOADTEST_DURATION_S,
            "description": "Run time in seconds; the load stops then, or earlier at max_requests.",
        },
        "max_requests": {
            "type": "integer",
            "minimum": 1,
            "maximum": 10_000_000,
            "default": DEFAULT_LOADTEST_MAX_REQUESTS,
            "description": "The load stops after this many requests.",
        },
        "request_timeout_s": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 300,
            "default": DEFAULT_LOADTEST_TIMEOUT_S,
            "description": "A request not answered within this many seconds counts as an error (timeout).",
        },
        "mix": {
            "type": "array",
            "minItems": 1,
            "description": "Request mix: each request's size is drawn by weight; its rows come from the eval "
            "data (default: one-row requests only).",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["rows"],
                "properties": {
                    "rows": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 10000,
                        "description": "Rows in one request of this kind.",
                    },
                    "weight": {
                        "type": "number",
                        "exclusiveMinimum": 0,
                        "default": 1,
                        "description": "Relative share of the requests of this kind.",
                    },
                },
            },
        },
        "thresholds": {
            "type": "object",
            "additionalProperties": False,
            "description": "Pass/fail thresholds (k6 form); p99_ms defaults to serve.max_latency_ms and "
            "error_rate to 0.01, the others apply only when set.",
            "properties": {
                "p95_ms": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "description": "Highest 95th percentile of the response time, in ms.",
                },
                "p99_ms": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "description": "Highest 99th percentile of the response time, in ms (default: "
                    "serve.max_latency_ms).",
                },
                "error_rate": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": 1,
                    "default": DEFAULT_LOADTEST_ERROR_RATE,
                    "description": "Highest share of failed requests (an HTTP status of 400 or more, a timeout, "
                    "a refused connection).",
                },
                "min_rps": {
                    "type": "number",
                    "minimum": 0,
                    "description": "Lowest throughput: completed requests per second of the run.",
                },
            },
        },
        "abort_on_fail": {
            "type": "boolean",
            "default": True,
            "description": "Stop early once the error rate is over its threshold after at least 200 requests.",
        },
        "abort_delay_s": {
            "type": "number",
            "minimum": 0,
            "maximum": 3600,
            "description": "No early stop before this many seconds of load (k6's delayAbortEval), so a server "
            "warming up is not aborted on its first answers (default: a quarter of the duration, at most 10 s).",
        },
    },
}


@dataclass(frozen=True)
class RequestMix:
    """One kind of request of the load: its rows, and its relative share of the requests."""

    rows: int = 1
    weight: float = 1.0


@dataclass(frozen=True)
class LoadTestThresholds:
    """The ``loadtest.thresholds`` a run must meet; None: not judged."""

    p95_ms: float | None = None
    p99_ms: float | None = DEFAULT_MAX_LATENCY_MS
    error_rate: float | None = DEFAULT_LOADTEST_ERROR_RATE
    min_rps: float | None = None

    def as_dict(self) -> dict[str, float]:
        """The thresholds that are judged, by key (p95_ms, p99_ms, error_rate, min_rps)."""
        values = {key: getattr(self, key) for key in LOADTEST_THRESHOLD_KEYS}
        return {key: float(value) for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class LoadTestSettings:
    """The ``loadtest`` section: the load profile, the request mix and the thresholds."""

    users: int = DEFAULT_LOADTEST_USERS
    spawn_rate: float | None = None  # users started per second; None: all users in the first second
    duration_s: float = DEFAULT_LOADTEST_DURATION_S
    max_requests: int = DEFAULT_LOADTEST_MAX_REQUESTS
    request_timeout_s: float = DEFAULT_LOADTEST_TIMEOUT_S
    mix: tuple[RequestMix, ...] = (RequestMix(),)
    thresholds: LoadTestThresholds = field(default_factory=LoadTestThresholds)
    abort_on_fail: bool = True
    abort_delay_s: float | None = None  # None: a quarter of the duration, at most 10 s

    def abort_delay_for(self, duration_s: float) -> float:
        """Seconds of load before an early stop may be decided, for a run of ``duration_s``."""
        if self.abort_delay_s is not None:
            return float(self.abort_delay_s)
        return min(10.0, duration_s / 4)

    @property
    def users_per_second(self) -> float:
        """The spawn rate in effect: ``spawn_rate``, else every user within the first second."""
        return float(self.spawn_rate) if self.spawn_rate is not None else float(self.users)


def loadtest_settings(doc: dict[str, Any]) -> LoadTestSettings:
    """The typed ``loadtest`` section of a validated config document (p99 defaults to serve.max_latency_ms)."""
    section = doc.get("loadtest", {})
    given = section.get("thresholds", {})
    p99_default = float(doc.get("serve", {}).get("max_latency_ms", DEFAULT_MAX_LATENCY_MS))
    thresholds = LoadTestThresholds(
        p95_ms=float(given["p95_ms"]) if "p95_ms" in given else None,
        p99_ms=float(given.get("p99_ms", p99_default)),
        error_rate=float(given.get("error_rate", DEFAULT_LOADTEST_ERROR_RATE)),
        min_rps=float(given["min_rps"]) if "min_rps" in given else None,
    )
    mix = tuple(
        RequestMix(rows=int(kind["rows"]), weight=float(kind.get("weight", 1)))
        for kind in section.get("mix", [{"rows": 1}])
    )
    return LoadTestSettings(
        users=int(section.get("users", DEFAULT_LOADTEST_USERS)),
        spawn_rate=float(section["spawn_rate"]) if "spawn_rate" in section else None,
        duration_s=float(section.get("duration_s", DEFAULT_LOADTEST_DURATION_S)),
        max_requests=int(section.get("max_requests", DEFAULT_LOADTEST_MAX_REQUESTS)),
        request_timeout_s=float(section.get("request_timeout_s", DEFAULT_LOADTEST_TIMEOUT_S)),
        mix=mix,
        thresholds=thresholds,
        abort_on_fail=bool(section.get("abort_on_fail", True)),
        abort_delay_s=float(section["abort_delay_s"]) if "abort_delay_s" in section else None,
    )


DEFAULT_MONITOR: dict[str, float] = {
    "nan_output_share": 0.0,
    "out_of_range_share": 0.01,
    "unseen_category_share": 0.01,
    "null_share_increase": 0.05,
    "probability_tolerance": 1e-6,
    "min_window_rows": 100,
    "constant_output_rows": 100,
}

MONITOR_HISTORY_WINDOWS = 48  # window states the registry keeps per version (monitor.history_windows)
SEVERITIES = ("high", "medium", "low")
DEFAULT_ALERT_SEVERITY = {
    "stability": "high",  # NaN, infinite or impossible outputs: the model answers nonsense
    "performance": "high",
    "schema": "medium",
    "range": "medium",
    "input_drift": "medium",
    "prediction_drift": "medium",
}  # a failing check not named here is low
DEFAULT_RETRAIN_CHECKS = ("stability", "input_drift", "prediction_drift")

_MONITOR_ALERT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "The monitor's issue (`monitor --alert`): one per model, opened while a check fails.",
    "properties": {
        "labels": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 50, "pattern": "^[^,]+$"},
            "default": [],
            "description": "Labels added to `mlops`, the model name and `severity:<level>`.",
        },
        "severity": {
            "type": "object",
            "additionalProperties": {"enum": list(SEVERITIES)},
            "description": "Severity of a failing check (the issue takes the highest); default: stability "
            "and performance high, schema, range and drift medium, any other check low.",
        },
    },
}

_MONITOR_RETRAIN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "When `monitor --dispatch-retrain` starts the retrain workflow or pipeline.",
    "properties": {
        "after_windows": {
            "type": "integer",
            "minimum": 1,
            "default": 3,
            "description": "Dispatch when this many consecutive windows breach (windows with too few "
            "rows neither count nor break the run).",
        },
        "checks": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "minItems": 1,
            "default": list(DEFAULT_RETRAIN_CHECKS),
            "description": "The checks that count as a breach.",
        },
        "level": {
            "enum": ["warn", "fail"],
            "default": "fail",
            "description": "The status a check must reach to count.",
        },
        "workflow": {
            "type": "string",
            "minLength": 1,
            "default": "mlops-retrain.yml",
            "description": "The workflow file (GitHub) or dispatch target (GitLab pipeline variable "
            "MLOPS_DISPATCH) to start.",
        },
        "ref": {
            "type": "string",
            "minLength": 1,
            "description": "The branch it runs on; default: `baseline.target_branch`.",
        },
    },
}

DEFAULT_PERFORMANCE: dict[str, float] = {
    "allowed_drop": 0.02,
    "min_labelled_rows": 100,
    "max_calibration_error": 0.05,
    "min_eval_rows": 1000,
    "resamples": 200,
}

_MONITOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "What `mlops-actions monitor` flags in the prediction log (docs/monitoring.md).",
    "properties": {
        "nan_output_share": {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "default": DEFAULT_MONITOR["nan_output_share"],
            "description": "A window fails when more than this share of its outputs is NaN, infinite or "
            "null (0: any).",
        },
        "out_of_range_share": {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "default": DEFAULT_MONITOR["out_of_range_share"],
            "description": "A window fails when more than this share of a numeric column lies outside "
            "the trained [min, max].",
        },
        "unseen_category_share": {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "default": DEFAULT_MONITOR["unseen_category_share"],
            "description": "A window fails when more than this share of a categorical column holds "
            "values never seen in training.",
        },
        "null_share_increase": {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "default": DEFAULT_MONITOR["null_share_increase"],
            "description": "A window fails when a column's share of missing values exceeds the "
            "training share by more than this.",
        },
        "probability_tolerance": {
            "type": "number",
            "minimum": 0,
            "default": DEFAULT_MONITOR["probability_tolerance"],
            "description": "How far class probabilities may sum away from 1 (and stray outside [0, 1]).",
        },
        "min_window_rows": {
            "type": "integer",
            "minimum": 1,
            "default": DEFAULT_MONITOR["min_window_rows"],
            "description": "A window with fewer rows is reported as insufficient, not judged.",
        },
        "constant_output_rows": {
            "type": "integer",
            "minimum": 2,
            "default": DEFAULT_MONITOR["constant_output_rows"],
            "description": "A window of at least this many rows whose outputs are all equal fails.",
        },
        "drift_thresholds": {
            "type": "object",
            "additionalProperties": {"type": "number", "minimum": 0},
            "description": "Drift thresholds of the monitor (psi, jensenshannon, ks_pvalue, ...); "
            "default: data.drift_thresholds, else the data checks' defaults.",
        },
        "history_windows": {
            "type": "integer",
            "minimum": 1,
            "maximum": 1000,
            "default": MONITOR_HISTORY_WINDOWS,
            "description": "How many of the newest window states the registry keeps with the version, "
            "for the trend and for the retrain decision.",
        },
        "alert": _MONITOR_ALERT_SCHEMA,
        "retrain": _MONITOR_RETRAIN_SCHEMA,
        "drift_correction": {
            "enum": ["holm", "none"],
            "default": "holm",
            "description": "Correction of a window's KS / chi-squared tests (small samples) for their "
            "number: holm holds the chance of any false flag per window and check at drift_family_level; "
            "none tests each column at ks_pvalue / chi2_pvalue, as the data checks do.",
        },
        "drift_family_level": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 1,
            "default": 0.01,
            "description": "With drift_correction holm: the chance that noise alone flags any column of a "
            "window's drift check by its tests.",
        },
        "drift_min_psi": {
            "type": "number",
            "minimum": 0,
            "description": "A numeric feature of a small sample drifts only when its significant KS test "
            "comes with at least this PSI, less the PSI noise alone gives at that size (default: "
            "drift_thresholds.psi, as for large samples; 0: the test alone).",
        },
        "drift_min_jensenshannon": {
            "type": "number",
            "minimum": 0,
            "description": "A categorical feature of a small sample drifts only when its significant "
            "chi-squared test comes with at least this Jensen-Shannon distance, less its noise level "
            "(default: drift_thresholds.jensenshannon; 0: the test alone).",
        },
        "performance": {
            "type": "object",
            "additionalProperties": False,
            "description": "The performance check: metrics on labelled rows (`monitor --labels`), else a "
            "confidence-based estimate for binary classifiers (docs/monitoring.md).",
            "properties": {
                "allowed_drop": {
                    "type": "number",
                    "minimum": 0,
                    "default": DEFAULT_PERFORMANCE["allowed_drop"],
                    "description": "A window fails when a judged metric is confidently worse than at "
                    "release by more than this (its whole interval beyond it).",
                },
                "metrics": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "The metrics judged (default: metrics.primary); every configured "
                    "metric is reported.",
                },
                "min_labelled_rows": {
                    "type": "integer",
                    "minimum": 1,
                    "default": DEFAULT_PERFORMANCE["min_labelled_rows"],
                    "description": "A window with fewer labelled rows is insufficient (or estimated).",
                },
                "estimate": {
                    "type": "boolean",
                    "default": True,
                    "description": "Estimate a binary classifier's accuracy and ROC AUC from its scores "
                    "where labels are absent (CBPE).",
                },
                "max_calibration_error": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": 1,
                    "default": DEFAULT_PERFORMANCE["max_calibration_error"],
                    "description": "The estimate is trusted only when the eval set's expected "
                    "calibration error is at most this (else a warning).",
                },
                "min_eval_rows": {
                    "type": "integer",
                    "minimum": 1,
                    "default": DEFAULT_PERFORMANCE["min_eval_rows"],
                    "description": "Eval rows needed to check the calibration; with fewer, no estimate "
                    "is made.",
                },
                "resamples": {
                    "type": "integer",
                    "minimum": 1,
                    "default": DEFAULT_PERFORMANCE["resamples"],
                    "description": "Bootstrap resamples of each window's metric intervals.",
                },
            },
        },
    },
}


@dataclass(frozen=True)
class PerformanceSettings:
    """``monitor.performance``: how labelled metrics are judged and when an estimate is trusted."""

    allowed_drop: float = DEFAULT_PERFORMANCE["allowed_drop"]
    metrics: tuple[str, ...] = ()  # judged; empty: the primary metric
    min_labelled_rows: int = int(DEFAULT_PERFORMANCE["min_labelled_rows"])
    estimate: bool = True
    max_calibration_error: float = DEFAULT_PERFORMANCE["max_calibration_error"]
    min_eval_rows: int = int(DEFAULT_PERFORMANCE["min_eval_rows"])
    resamples: int = int(DEFAULT_PERFORMANCE["resamples"])


def performance_settings(doc: dict[str, Any]) -> PerformanceSettings:
    """The typed ``monitor.performance`` section of a validated config document."""
    section = doc.get("monitor", {}).get("performance", {})
    return PerformanceSettings(
        allowed_drop=float(section.get("allowed_drop", DEFAULT_PERFORMANCE["allowed_drop"])),
        metrics=tuple(section.get("metrics", ())),
        min_labelled_rows=int(section.get("min_labelled_rows", DEFAULT_PERFORMANCE["min_labelled_rows"])),
        estimate=bool(section.get("estimate", True)),
        max_calibration_error=float(
            section.get("max_calibration_error", DEFAULT_PERFORMANCE["max_calibration_error"])
        ),
        min_eval_rows=int(section.get("min_eval_rows", DEFAULT_PERFORMANCE["min_eval_rows"])),
        resamples=int(section.get("resamples", DEFAULT_PERFORMANCE["resamples"])),
    )


@dataclass(frozen=True)
class MonitorSettings:
    """The ``monitor`` section: the thresholds of the monitor's checks."""

    nan_output_share: float = DEFAULT_MONITOR["nan_output_share"]
    out_of_range_share: float = DEFAULT_MONITOR["out_of_range_share"]
    unseen_category_share: float = DEFAULT_MONITOR["unseen_category_share"]
    null_share_increase: float = DEFAULT_MONITOR["null_share_increase"]
    probability_tolerance: float = DEFAULT_MONITOR["probability_tolerance"]
    min_window_rows: int = int(DEFAULT_MONITOR["min_window_rows"])
    constant_output_rows: int = int(DEFAULT_MONITOR["constant_output_rows"])
    drift_thresholds: dict[str, float] = field(default_factory=dict)  # overrides of the data checks' own
    history_windows: int = MONITOR_HISTORY_WINDOWS
    drift_correction: str = "holm"  # of a window's small-sample tests: "holm" or "none"
    drift_family_level: float = 0.01  # with holm: the chance of any false flag by the tests of a check
    drift_min_psi: float | None = None  # least PSI of a small sample's drift (None: drift_thresholds' psi)
    drift_min_jensenshannon: float | None = None  # the same for categories (None: jensenshannon's)


def monitor_settings(doc: dict[str, Any]) -> MonitorSettings:
    """The typed ``monitor`` section of a validated config document; drift thresholds fall back to
    ``data.drift_thresholds``."""
    monitor = doc.get("monitor", {})
    drift = monitor.get("drift_thresholds", doc.get("data", {}).get("drift_thresholds", {}))
    values = {key: monitor.get(key, default) for key, default in DEFAULT_MONITOR.items()}
    return MonitorSettings(
        nan_output_share=float(values["nan_output_share"]),
        out_of_range_share=float(values["out_of_range_share"]),
        unseen_category_share=float(values["unseen_category_share"]),
        null_share_increase=float(values["null_share_increase"]),
        probability_tolerance=float(values["probability_tolerance"]),
        min_window_rows=int(values["min_window_rows"]),
        constant_output_rows=int(values["constant_output_rows"]),
        drift_thresholds={str(k): float(v) for k, v in drift.items()},
        history_windows=int(monitor.get("history_windows", MONITOR_HISTORY_WINDOWS)),
        drift_correction=str(monitor.get("drift_correction", "holm")),
        drift_family_level=float(monitor.get("drift_family_level", 0.01)),
        drift_min_psi=_optional_float(monitor.get("drift_min_psi")),
        drift_min_jensenshannon=_optional_float(monitor.get("drift_min_jensenshannon")),
    )


@dataclass(frozen=True)
class AlertSettings:
    """The ``monitor.alert`` section: the issue's extra labels and the severity of each failing check."""

    labels: tuple[str, ...] = ()
    severity: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ALERT_SEVERITY))


def alert_settings(doc: dict[str, Any]) -> AlertSettings:
    """The typed ``monitor.alert`` section of a validated config document."""
    alert = doc.get("monitor", {}).get("alert", {})
    return AlertSettings(
        labels=tuple(str(label) for label in alert.get("labels", ())),
        severity={**DEFAULT_ALERT_SEVERITY, **{str(k): str(v) for k, v in alert.get("severity", {}).items()}},
    )


@dataclass(frozen=True)
class RetrainSettings:
    """The ``monitor.retrain`` section: which breaches, for how many windows, start which workflow where."""

    after_windows: int = 3
    checks: tuple[str, ...] = DEFAULT_RETRAIN_CHECKS
    level: str = "fail"
    workflow: str = "mlops-retrain.yml"
    ref: str = "main"


def retrain_settings(doc: dict[str, Any]) -> RetrainSettings:
    """The typed ``monitor.retrain`` section of a validated config document (``ref`` defaults to the
    production branch, ``baseline.target_branch``)."""
    retrain = doc.get("monitor", {}).get("retrain", {})
    return RetrainSettings(
        after_windows=int(retrain.get("after_windows", 3)),
        checks=tuple(str(c) for c in retrain.get("checks", DEFAULT_RETRAIN_CHECKS)),
        level=str(retrain.get("level", "fail")),
        workflow=str(retrain.get("workflow", "mlops-retrain.yml")),
        ref=str(retrain.get("ref") or doc.get("baseline", {}).get("target_branch") or "main"),
    )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://mlops-actions.dev/schemas/mlops-config-v1.json",
    "title": "mlops-actions config (mlops.yaml)",
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "model", "train", "data"],
    "properties": {
        "version": {"const": CONFIG_VERSION, "description": "Config format version."},
        "model": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "task"],
            "description": "The model this file describes.",
            "properties": {
                "name": {
                    "type": "string",
                    "pattern": MODEL_NAME_PATTERN,
                    "description": "Model name; used in tags (<name>@v1.2.0) and the sticky comment marker.",
                },
                "task": {"enum": list(TASKS), "description": "binary, multiclass or regression."},
                "description": {"type": "string", "description": "One line for the model card."},
            },
        },
        "train": {
            "type": "object",
            "additionalProperties": False,
            "description": "Exactly one of command or entrypoint.",
            "properties": {
                "command": {
                    "type": "string",
                    "minLength": 1,
                    "description": "Shell command that trains and saves the model with skops to {model}. "
                    "Placeholders: {model} {train} {eval} {params} {workdir}.",
                },
                "entrypoint": {
                    "type": "string",
                    "pattern": r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
                    "description": "module:function called as function(X, y, params) -> fitted estimator.",
                },
                "params": {"type": "object", "description": "Hyper-parameters passed to the training."},
                "trusted_types": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Extra types (module.Class) allowed when loading the skops model.",
                },
                "timeout_minutes": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "default": 60,
                    "description": "The training is stopped and reported after this long.",
                },
            },
        },
        "data": {
            "type": "object",
            "additionalProperties": False,
            "required": ["train", "target"],
            "description": "The data files and their columns.",
            "properties": {
                "train": {
                    "type": "string",
                    "description": "Training data (CSV or Parquet), relative to this file.",
                },
                "eval": {"type": "string", "description": "Evaluation data; omit to use split."},
                "split": {
                    "type": "object",
                    "additionalProperties": False,
                    "description": "Deterministic split of the training file when eval is not given: a row goes to "
                    "eval by a seeded hash of its id (or content), so it stays on the same side as data grows.",
                    "properties": {
                        "eval_fraction": {
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "exclusiveMaximum": 1,
                            "default": 0.2,
                            "description": "Share of rows that go to eval.",
                        },
                        "seed": {"type": "integer", "default": 0, "description": "Seed of the split's hash."},
                    },
                },
                "target": {"type": "string", "minLength": 1, "description": "Target column."},
                "id": {"type": "string", "description": "Row id column (pairs rows, not a feature)."},
                "slices": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Columns whose values define slices with their own metrics.",
                },
                "features": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Feature columns; default: every column but target and id.",
                },
                "schema": {"type": "string", "description": "Committed data schema (data schema infer)."},
                "drift_thresholds": {
                    "type": "object",
                    "additionalProperties": {"type": "number"},
                    "description": "Overrides of the drift thresholds (see docs/data-checks.md).",
                },
                "leakage_threshold": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": 1,
                    "default": 0.95,
                    "description": "A feature whose association with the target reaches this is flagged as leakage.",
                },
                "allow_outside_project": {
                    "type": "boolean",
                    "default": False,
                    "description": "Allow data.train, data.eval and data.schema to resolve outside the config "
                    "file's folder (via .., an absolute path or a symlink); refused by default.",
                },
            },
        },
        "metrics": {
            "type": "object",
            "additionalProperties": False,
            "description": "Which metrics are reported (names in the metric table).",
            "properties": {
                "primary": {
                    "type": "string",
                    "description": "The metric the report leads with and the default rule judges "
                    "(default per task: see the metric table).",
                },
                "others": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "More metrics to report (default: every metric of the task).",
                },
                "advisory": {
                    "enum": ["all", "listed"],
                    "default": "all",
                    "description": "Which metrics without a rule are watched for a confident notable "
                    "regression (a warning under the verdict, never a failure): every metric of the task, or "
                    "only the listed ones.",
                },
                "notable": {
                    "type": "object",
                    "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
                    "description": "The smallest change that matters, per metric (default per metric, see "
                    "docs/gate.md): advisory warnings and each rule's power use it.",
                },
            },
        },
        "gate": {
            "type": "object",
            "additionalProperties": False,
            "description": "When the check fails.",
            "properties": {
                "decision": {
                    "enum": list(DECISIONS),
                    "default": "interval",
                    "description": "How change rules are judged: interval (a confident regression fails), point "
                    "(the point estimate), strict (the whole interval must meet the allowance).",
                },
                "confidence": {
                    "type": "number",
                    "exclusiveMinimum": 0.5,
                    "exclusiveMaximum": 1,
                    "default": 0.95,
                    "description": "Confidence level of the intervals.",
                },
                "resamples": {
                    "type": "integer",
                    "minimum": 100,
                    "maximum": 100000,
                    "default": 1000,
                    "description": "Paired bootstrap resamples.",
                },
                "seed": {"type": "integer", "default": 0, "description": "Seed of the bootstrap."},
                "min_slice_rows": {
                    "type": "integer",
                    "minimum": 1,
                    "default": 30,
                    "description": "Slices with fewer eval rows are reported but not judged.",
                },
                "correction": {
                    "enum": ["holm", "none"],
                    "default": "holm",
                    "description": "Several interval change rules (slices included) are one family: Holm's "
                    "correction keeps the chance that equally good models fail any of them at "
                    "(1 - confidence) / 2; none judges each rule alone.",
                },
                "evaluation": {
                    "enum": ["holdout", "cross_fit"],
                    "default": "holdout",
                    "description": "holdout: both models are scored on the eval rows; cross_fit: both are "
                    "trained on folds - 1 folds of train + eval and scored on the held-out fold, so every row "
                    "is a paired eval row (needs baseline retrain; docs/gate.md).",
                },
                "folds": {
                    "type": "integer",
                    "minimum": 2,
                    "maximum": 20,
                    "default": 5,
                    "description": "Folds of gate.evaluation cross_fit.",
                },
                "repeats": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 10,
                    "default": 2,
                    "description": "Repetitions of gate.evaluation cross_fit, each with its own fold "
                    "assignment; their out-of-fold predictions are stacked as paired rows and the variance "
                    "is Bouckaert and Frank's corrected repeated k-fold (docs/gate.md).",
                },
                "rules": {
                    "type": "array",
                    "items": _RULE_SCHEMA,
                    "description": "Rules per metric (default: the primary metric must not be confidently worse).",
                },
            },
        },
        "tests": {
            "type": "object",
            "additionalProperties": False,
            "required": ["command"],
            "description": "The project's own tests, run before training.",
            "properties": {
                "command": {
                    "type": "string",
                    "minLength": 1,
                    "description": "The project's own tests (e.g. of feature code). {junit} expands to a "
                    "JUnit XML path whose counts are reported.",
                },
                "required": {
                    "type": "boolean",
                    "default": True,
                    "description": "Failing tests fail the gate.",
                },
                "timeout_minutes": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "default": 30,
                    "description": "The tests are stopped and reported after this long.",
                },
            },
        },
        "metadata": {
            "type": "object",
            "additionalProperties": False,
            "description": "The metadata store: one record per check, release, deploy and monitor run (docs/metadata.md).",
            "properties": {
                "backend": {
                    "enum": list(METADATA_BACKENDS),
                    "default": "auto",
                    "description": "auto follows registry.backend (local: sqlite beside the local registry; mlflow: "
                    "MLflow Tracking; github: a JSON Lines file on a data branch through the REST API; gitlab: the same "
                    "file pushed with git), or sqlite, mlflow, github, git, or off.",
                },
                "path": {
                    "type": "string",
                    "minLength": 1,
                    "description": "sqlite backend: the database file, relative to this file (default: "
                    "metadata.sqlite in the local registry folder; env MLOPS_METADATA_PATH).",
                },
                "branch": {
                    "type": "string",
                    "pattern": r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$",
                    "default": "mlops-metadata",
                    "description": "github and git backends: the data branch holding the records.",
                },
                "remote": {
                    "type": "string",
                    "minLength": 1,
                    "description": "git backend: the remote the data branch is pushed to (default: origin; env "
                    "MLOPS_METADATA_REMOTE).",
                },
            },
        },
        "watch": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "description": "Extra globs (relative to this file) whose changes mean this model must be checked, beyond "
            "the config itself and the paths it names.",
        },
        "registry": {
            "type": "object",
            "description": "Where released versions live.",
            "properties": {
                "backend": {
                    "enum": list(REGISTRY_BACKENDS),
                    "default": "local",
                    "description": "local (a folder, for laptops), github (Releases), gitlab (releases and generic "
                    "packages) or mlflow (Model Registry).",
                },
                "path": {
                    "type": "string",
                    "default": ".mlops/registry",
                    "description": "local backend: registry directory, relative to this file (env MLOPS_REGISTRY_PATH). "
                    "For laptops: a CI runner starts with an empty folder, so without a github, gitlab or mlflow "
                    "registry every pull request retrains the target branch as its baseline.",
                },
                "repository": {
                    "type": "string",
                    "pattern": r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
                    "description": "github backend: owner/name of the repository holding the releases "
                    "(default: GITHUB_REPOSITORY).",
                },
                "api_url": {
                    "type": "string",
                    "description": "github/gitlab backends: API base URL (default: GITHUB_API_URL / CI_API_V4_URL).",
                },
                "tracking_uri": {
                    "type": "string",
                    "description": "mlflow backend: tracking server URI (default: MLFLOW_TRACKING_URI).",
                },
                "registered_model": {
                    "type": "string",
                    "description": "mlflow backend: registered model name (default: model.name).",
                },
                "experiment": {
                    "type": "string",
                    "description": "mlflow backend: experiment of the release runs (default: mlops-actions/<model>).",
                },
            },
        },
        "deploy": {
            "type": "object",
            "additionalProperties": False,
            "description": "How a released version is deployed and tested (docs/deploy.md): deploy.command "
            "for a target of your own, else the built-in server on the runner.",
            "properties": {
                "command": {
                    "type": "string",
                    "minLength": 1,
                    "description": "Shell command that deploys a fetched, digest-checked version. Placeholders: "
                    "{model_dir} {version} {tag} {model}; also in the environment as MLOPS_MODEL_DIR, "
                    "MLOPS_VERSION, MLOPS_TAG, MLOPS_MODEL_NAME, MLOPS_MODEL_DIGEST.",
                },
                "timeout_minutes": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "default": 30,
                    "description": "The deploy command is stopped and reported after this long.",
                },
                "url": {
                    "type": "string",
                    "pattern": "^https?://",
                    "description": "Where the target deploy.command started answers (GET /ready, POST /predict); "
                    "placeholders {version} {tag} {model}. Without it a command target is neither smoke- nor "
                    "load-tested.",
                },
                "port": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 65535,
                    "description": "Port of the built-in server on the runner (default: any free port).",
                },
                "ready_timeout_s": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "default": DEFAULT_READY_TIMEOUT_S,
                    "description": "How long the target may take to answer GET /ready with 200.",
                },
                "smoke": {
                    "type": "object",
                    "additionalProperties": False,
                    "description": "Known eval rows must get the answers recorded at release time (smoke.json).",
                    "properties": {
                        "rows": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 1000,
                            "default": DEFAULT_SMOKE_ROWS,
                            "description": "Eval rows a release records with its predictions for the smoke test.",
                        },
                        "tolerance": {
                            "type": "number",
                            "minimum": 0,
                            "default": DEFAULT_SMOKE_TOLERANCE,
                            "description": "Largest absolute difference allowed on a probability or a "
                            "regression value (predicted classes must be equal).",
                        },
                    },
                },
                "load": {
                    "type": "boolean",
                    "default": True,
                    "description": "Load-test the target (the loadtest section) before promoting it.",
                },
            },
        },
        "baseline": {
            "type": "object",
            "additionalProperties": False,
            "description": "What the candidate is compared with.",
            "properties": {
                "source": {
                    "enum": list(BASELINE_SOURCES),
                    "default": "auto",
                    "description": "auto: the registry's production version, else the target branch retrained.",
                },
                "target_branch": {
                    "type": "string",
                    "default": "main",
                    "description": "The production branch PRs are compared against.",
                },
            },
        },
        "serve": _SERVE_SCHEMA,
        "loadtest": _LOADTEST_SCHEMA,
        "secrets": _SECRETS_SCHEMA,
        "monitor": _MONITOR_SCHEMA,
    },
}


@dataclass(frozen=True)
class Rule:
    metric: str
    min: float | None = None
    max: float | None = None
    allowed_change: float | None = None
    allowed_change_relative: float | None = None
    decision: str = "interval"
    slices: bool = False
    margin: float | None = None  # None: the metric's default (MetricInfo.margin)


@dataclass(frozen=True)
class Config:
    """A validated config. Paths are absolute (resolved against the config file's folder)."""

    path: Path
    root: Path
    raw: dict[str, Any]
    model_name: str
    task: str
    train_command: str | None
    train_entrypoint: str | None
    train_params: dict[str, Any]
    trusted_types: tuple[str, ...]
    train_timeout_s: float
    train_data: Path
    eval_data: Path | None
    split_fraction: float
    split_seed: int
    target: str
    id_column: str | None
    slices: tuple[str, ...]
    features: tuple[str, ...] | None
    schema_path: Path | None
    drift_thresholds: dict[str, float]
    leakage_threshold: float
    primary_metric: str
    metrics: tuple[str, ...]
    decision: str
    confidence: float
    resamples: int
    seed: int
    min_slice_rows: int
    rules: tuple[Rule, ...]
    tests_command: str | None
    tests_required: bool
    tests_timeout_s: float
    registry_backend: str
    registry_options: dict[str, Any] = field(default_factory=dict)
    baseline_source: str = "auto"
    target_branch: str = "main"
    deploy_command: str | None = None
    deploy_timeout_s: float = 1800.0
    deploy: DeploySettings = field(default_factory=DeploySettings)
    secret_names: tuple[str, ...] = ()  # secrets.names
    pass_env: dict[str, tuple[str, ...]] = field(default_factory=dict)  # secrets.pass: command -> names
    serve: ServeSettings = field(default_factory=ServeSettings)
    loadtest: LoadTestSettings = field(default_factory=LoadTestSettings)
    metadata_backend: str = "auto"  # metadata.backend
    metadata_options: dict[str, Any] = field(default_factory=dict)  # the other metadata.* keys
    watch: tuple[str, ...] = ()  # watch: extra globs, relative to root
    # Metrics without a rule that are not listed but still watched for a confident notable regression
    # (metrics.advisory: all): computed, never shown in the metric table, warned about under the verdict.
    advisory_metrics: tuple[str, ...] = ()
    notable: dict[str, float] = field(default_factory=dict)  # metrics.notable: overrides MetricInfo.notable
    correction: str = "holm"  # gate.correction: holm | none
    evaluation: str = "holdout"  # gate.evaluation: holdout | cross_fit
    folds: int = 5  # gate.folds (cross_fit)
    repeats: int = 2  # gate.repeats (cross_fit): fold assignments, each a full cross-fit

    def notable_size(self, metric: str) -> float:
        """The smallest change of ``metric`` that matters (metric units, or a fraction of the baseline)."""
        from mlops_actions.domain.metric_names import METRICS

        return self.notable.get(metric, METRICS[metric].notable)

    def __post_init__(self) -> None:
        remember_secret_names(self.secret_names)  # so every error line and output of this process is scrubbed

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"


def _key_path(parts: list[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _describe_schema_error(error: Any) -> str:
    where = _key_path(list(error.absolute_path))
    validator = error.validator
    if validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        key = ".".join([*(str(p) for p in error.absolute_path), *(missing[:1] or ["?"])])
        return f"{key}: required key is missing"
    if validator == "additionalProperties":
        unknown = re.findall(r"'([^']+)'", error.message)
        allowed = sorted(error.schema.get("properties", {}))
        return f"{where}: unknown key {', '.join(repr(u) for u in unknown)}, expected one of {', '.join(allowed)}"
    if validator == "enum":
        return (
            f"{where}: expected one of {', '.join(map(str, error.validator_value))}, got {error.instance!r}"
        )
    if validator == "const":
        return f"{where}: expected {error.validator_value!r}, got {error.instance!r}"
    if validator == "type":
        return f"{where}: expected {error.validator_value}, got {type(error.instance).__name__} {error.instance!r}"
    if validator == "pattern":
        return f"{where}: {error.instance!r} does not match the expected form {error.validator_value}"
    return f"{where}: {error.message}"


def _threshold_problems(where: str, rule: dict[str, Any], info: MetricInfo, task: str) -> list[str]:
    """Bounds and allowances a value of the metric can never meet, or can never miss."""
    problems: list[str] = []
    low, high = info.value_range(task)
    shown = format_range(low, high)
    for key in ("min", "max", "allowed_change", "allowed_change_relative"):
        if key in rule and not math.isfinite(rule[key]):
            problems.append(f"{where}.{key}: expected a finite number, got {rule[key]!r}")
    if problems:
        return problems
    for key in ("min", "max"):
        if key in rule and not low <= rule[key] <= high:
            problems.append(
                f"{where}.{key}: {rule[key]!r} is outside the range of {info.name}, expected a value in {shown}"
            )
    if "min" in rule and "max" in rule and rule["min"] > rule["max"]:
        problems.append(
            f"{where}: min {rule['min']!r} is above max {rule['max']!r}, so no value passes; expected min <= max"
        )
    span = high - low
    change = rule.get("allowed_change")
    if change is not None and math.isfinite(span) and abs(change) > span:
        problems.append(
            f"{where}.allowed_change: {change!r} is larger than the whole range of {info.name} {shown}, "
            f"expected a change between {-span:g} and {span:g}"
        )
    relative = rule.get("allowed_change_relative")
    if relative is not None and low == 0:  # a fraction of a non-negative baseline
        if info.higher_is_better and relative < -1:
            problems.append(
                f"{where}.allowed_change_relative: {relative!r} accepts any value of {info.name} "
                "(a drop of more than 100%), expected a value of at least -1"
            )
        if not info.higher_is_better and relative > 1:
            problems.append(
                f"{where}.allowed_change_relative: {relative!r} asks {info.name} to fall below 0, "
                "expected a value of at most 1"
            )
    return problems


def _secrets_problems(doc: dict[str, Any]) -> list[str]:
    secrets = doc.get("secrets", {})
    named = set(secrets.get("names", []))
    problems = []
    for command, names in secrets.get("pass", {}).items():
        for i, name in enumerate(names):
            key = f"secrets.pass.{command}[{i}]"
            if is_forge_token(name):
                problems.append(f"{key}: {name} is a forge token, which user commands never receive")
            elif name not in named and name not in SERVICE_SECRET_VARIABLES:
                problems.append(
                    f"{key}: {name} is not a secret, expected a name in secrets.names or one of "
                    f"{', '.join(SERVICE_SECRET_VARIABLES)} (other variables reach commands anyway)"
                )
    return problems


def _semantic_problems(doc: dict[str, Any]) -> list[str]:
    problems: list[str] = _secrets_problems(doc)
    task = doc["model"]["task"]
    valid = metrics_for_task(task)
    train = doc.get("train", {})
    if ("command" in train) == ("entrypoint" in train):
        problems.append("train: expected exactly one of 'command' or 'entrypoint'")
    problems += trusted_types_problems(train.get("trusted_types", []))
    data = doc["data"]
    if "eval" in data and "split" in data:
        problems.append("data: expected either 'eval' or 'split', not both")
    metrics = doc.get("metrics", {})
    named = [("metrics.primary", metrics["primary"])] if "primary" in metrics else []
    named += [(f"metrics.others[{i}]", m) for i, m in enumerate(metrics.get("others", []))]
    named += [(f"metrics.notable.{m}", m) for m in metrics.get("notable", {})]
    named += [
        (f"gate.rules[{i}].metric", r["metric"]) for i, r in enumerate(doc.get("gate", {}).get("rules", []))
    ]
    judged = doc.get("monitor", {}).get("performance", {}).get("metrics", [])
    named += [(f"monitor.performance.metrics[{i}]", m) for i, m in enumerate(judged)]
    for key, name in named:
        if name not in METRICS:
            problems.append(f"{key}: unknown metric {name!r}, expected one of {', '.join(valid)}")
        elif name not in valid:
            problems.append(
                f"{key}: metric {name!r} does not apply to task {task!r}, expected one of {', '.join(valid)}"
            )
    for i, rule in enumerate(doc.get("gate", {}).get("rules", [])):
        judged = {"min", "max", "allowed_change", "allowed_change_relative"} & set(rule)
        if not judged:
            problems.append(
                f"gate.rules[{i}]: expected at least one of min, max, allowed_change, allowed_change_relative"
            )
        if "allowed_change" in rule and "allowed_change_relative" in rule:
            problems.append(f"gate.rules[{i}]: expected allowed_change or allowed_change_relative, not both")
        if rule.get("slices") and not data.get("slices"):
            problems.append(f"gate.rules[{i}].slices: true needs data.slices to name slice columns")
        if rule["metric"] in valid:
            problems.extend(_threshold_problems(f"gate.rules[{i}]", rule, METRICS[rule["metric"]], task))
    if data.get("id") == data["target"]:
        problems.append(f"data.id: the id column cannot be the target column {data['target']!r}")
    for i, column in enumerate(data.get("slices", [])):
        if column == data["target"]:
            problems.append(f"data.slices[{i}]: the target column {column!r} cannot be a slice")
    if data.get("drift_thresholds"):
        from mlops_actions.domain.data.drift import resolve_thresholds

        try:
            resolve_thresholds(data["drift_thresholds"])
        except ConfigError as error:  # checked now, not after training when the data checks run
            problems.extend(f"data.drift_thresholds: {problem}" for problem in error.problems)
    for i, column in enumerate(data.get("features", [])):
        for role, name in (("target", data["target"]), ("id", data.get("id"))):
            if column == name:
                problems.append(f"data.features[{i}]: the {role} column {column!r} cannot be a feature")
    return problems


DATA_PATH_KEYS = ("train", "eval", "schema")


def _path_problems(doc: dict[str, Any], root: Path) -> list[str]:
    """Data paths that resolve outside the project folder (``..``, absolute, symlinks) unless allowed, and a
    local registry path that is a file."""
    data = doc["data"]
    problems = []
    for key in DATA_PATH_KEYS if not data.get("allow_outside_project") else ():
        if key not in data:
            continue
        resolved = (root / data[key]).resolve()
        if not resolved.is_relative_to(root):
            problems.append(
                f"data.{key}: {data[key]!r} resolves outside the project folder {root} (to {resolved}), "
                "expected a path inside it; set data.allow_outside_project: true to allow it"
            )
    registry = doc.get("registry", {})
    if registry.get("backend", "local") == "local" and "path" in registry:
        folder = root / registry["path"]
        if folder.exists() and not folder.is_dir():
            problems.append(
                f"registry.path: {registry['path']!r} is a file, expected a folder for the local registry"
            )
    return problems


def parse_config(doc: Any, path: Path) -> Config:
    """Validate a parsed config document; a ConfigError lists one line per problem."""
    import jsonschema

    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {type(doc).__name__}")
    metadata = doc.get("metadata")
    if isinstance(metadata, dict) and metadata.get("backend") is False:  # YAML reads an unquoted off as false
        doc = {**doc, "metadata": {**metadata, "backend": "off"}}
    validator = jsonschema.Draft202012Validator(CONFIG_SCHEMA)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    problems = [_describe_schema_error(e) for e in errors]
    root = path.parent.resolve()
    if not problems:
        problems = _semantic_problems(doc) + _path_problems(doc, root)
    if problems:
        raise ConfigError([f"{path}: {p}" for p in problems])

    model, train, data = doc["model"], doc["train"], doc["data"]
    metrics_doc, gate = doc.get("metrics", {}), doc.get("gate", {})
    task = model["task"]
    primary = metrics_doc.get("primary", DEFAULT_PRIMARY[task])
    others = metrics_doc.get("others") or [m for m in metrics_for_task(task) if m != primary]
    metric_names = tuple(dict.fromkeys([primary, *others]))
    decision = gate.get("decision", "interval")
    rules_doc = gate.get("rules") or [{"metric": primary, "allowed_change": 0.0}]
    rules = tuple(
        Rule(
            metric=r["metric"],
            min=r.get("min"),
            max=r.get("max"),
            allowed_change=r.get("allowed_change"),
            allowed_change_relative=r.get("allowed_change_relative"),
            decision=r.get("decision", decision),
            slices=bool(r.get("slices", False)),
            margin=None if r.get("margin") is None else float(r["margin"]),
        )
        for r in rules_doc
    )
    metric_names = tuple(dict.fromkeys([*metric_names, *(r.metric for r in rules)]))
    advisory = (
        tuple(m for m in metrics_for_task(task) if m not in metric_names)
        if metrics_doc.get("advisory", "all") == "all"
        else ()
    )
    split = data.get("split", {})
    tests = doc.get("tests")
    registry = dict(doc.get("registry", {}))
    baseline = doc.get("baseline", {})
    deploy = doc.get("deploy", {})
    return Config(
        path=path.resolve(),
        root=root,
        raw=doc,
        model_name=model["name"],
        task=task,
        train_command=train.get("command"),
        train_entrypoint=train.get("entrypoint"),
        train_params=dict(train.get("params", {})),
        trusted_types=tuple(train.get("trusted_types", [])),
        train_timeout_s=float(train.get("timeout_minutes", 60)) * 60,
        train_data=root / data["train"],
        eval_data=root / data["eval"] if "eval" in data else None,
        split_fraction=float(split.get("eval_fraction", 0.2)),
        split_seed=int(split.get("seed", 0)),
        target=data["target"],
        id_column=data.get("id"),
        slices=tuple(data.get("slices", [])),
        features=tuple(data["features"]) if "features" in data else None,
        schema_path=root / data["schema"] if "schema" in data else None,
        drift_thresholds=dict(data.get("drift_thresholds", {})),
        leakage_threshold=float(data.get("leakage_threshold", 0.95)),
        primary_metric=primary,
        metrics=metric_names,
        decision=decision,
        confidence=float(gate.get("confidence", 0.95)),
        resamples=int(gate.get("resamples", 1000)),
        seed=int(gate.get("seed", 0)),
        min_slice_rows=int(gate.get("min_slice_rows", 30)),
        rules=rules,
        tests_command=tests["command"] if tests else None,
        tests_required=bool(tests.get("required", True)) if tests else False,
        tests_timeout_s=float(tests.get("timeout_minutes", 30)) * 60 if tests else 0.0,
        registry_backend=registry.pop("backend", "local"),
        registry_options=registry,
        baseline_source=baseline.get("source", "auto"),
        target_branch=baseline.get("target_branch", "main"),
        deploy_command=deploy.get("command"),
        deploy_timeout_s=float(deploy.get("timeout_minutes", 30)) * 60,
        deploy=deploy_settings(doc),
        secret_names=tuple(doc.get("secrets", {}).get("names", [])),
        pass_env={k: tuple(v) for k, v in doc.get("secrets", {}).get("pass", {}).items()},
        serve=serve_settings(doc, root),
        loadtest=loadtest_settings(doc),
        metadata_backend=doc.get("metadata", {}).get("backend", "auto"),
        metadata_options={k: v for k, v in doc.get("metadata", {}).items() if k != "backend"},
        watch=tuple(doc.get("watch", [])),
        advisory_metrics=advisory,
        notable={k: float(v) for k, v in metrics_doc.get("notable", {}).items()},
        correction=gate.get("correction", "holm"),
        evaluation=gate.get("evaluation", "holdout"),
        folds=int(gate.get("folds", 5)),
        repeats=int(gate.get("repeats", 2)),
    )


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; a ConfigError names the file, key path and what was expected."""
    from mlops_actions.domain.yaml_loader import read_yaml

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    return parse_config(read_yaml(path, what="config"), path)
