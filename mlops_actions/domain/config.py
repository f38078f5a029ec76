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
            "required": ["command"],
            "description": "How a released version is deployed.",
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
        "secrets": _SECRETS_SCHEMA,
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
    secret_names: tuple[str, ...] = ()  # secrets.names
    pass_env: dict[str, tuple[str, ...]] = field(default_factory=dict)  # secrets.pass: command -> names
    serve: ServeSettings = field(default_factory=ServeSettings)

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
    named += [
        (f"gate.rules[{i}].metric", r["metric"]) for i, r in enumerate(doc.get("gate", {}).get("rules", []))
    ]
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
        )
        for r in rules_doc
    )
    metric_names = tuple(dict.fromkeys([*metric_names, *(r.metric for r in rules)]))
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
        secret_names=tuple(doc.get("secrets", {}).get("names", [])),
        pass_env={k: tuple(v) for k, v in doc.get("secrets", {}).get("pass", {}).items()},
        serve=serve_settings(doc, root),
    )


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; a ConfigError names the file, key path and what was expected."""
    from mlops_actions.domain.yaml_loader import read_yaml

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    return parse_config(read_yaml(path, what="config"), path)
