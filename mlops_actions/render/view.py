"""The report's content, built once from a result document and shared by the Markdown and HTML renderers.

Values stay raw (strings unescaped, numbers as numbers): each renderer escapes and formats them for its
own language. Built defensively: a renderer must not crash on a document with optional parts missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from mlops_actions.render.format import (
    MISSING,
    fmt_confidence,
    fmt_count,
    fmt_num,
    fmt_pvalue,
    fmt_signed,
    safe_url,
    strip_terminal,
)

TEST_TAIL_MAX_LINES = 400
TEST_TAIL_MAX_CHARS = 40_000

DECISION_TEXT = {
    "interval": "a change rule fails only when the whole {ci} interval of Δ lies beyond the allowance "
    "(a confident regression)",
    "point": "a change rule is judged on the point estimate of Δ",
    "strict": "a change rule passes only when the whole {ci} interval of Δ lies within the allowance",
}
BASELINE_TEXT = {
    "registry": "registry (production version re-scored on the candidate's evaluation rows)",
    "retrain": "retrained from the merge-base of the target branch",
    "none": "none",
}
TEST_NAMES = {"mcnemar": "McNemar", "delong": "DeLong"}
LINK_LABELS = {"html_report": "Full HTML report", "run_url": "CI run"}
ROLES = ("primary", "guard", "advisory")
ADVISORY_NAMES_SHOWN = 8
CHANGE_KINDS = ("change", "change_relative")
VARIANCE_NAMES = {"nadeau-bengio": "Nadeau–Bengio", "bouckaert-frank": "Bouckaert–Frank"}


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return None if math.isnan(number) else number


@dataclass
class MetricView:
    """One row of the metrics table (also used for a slice's primary metric)."""

    name: str
    label: str
    primary: bool
    higher_is_better: bool
    baseline: float | None
    candidate: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    within_noise: bool | None
    direction: str | None  # "better" | "worse" | "same" | None (no delta)
    rules: list[str] = field(default_factory=list)
    allowances: list[tuple[str, float]] = field(default_factory=list)  # (change | change_relative, threshold)
    status: str | None = None  # "pass" | "fail" | "skipped" | None (no rule)
    failures: list[str] = field(default_factory=list)
    test_name: str | None = None
    test_p_value: float | None = None
    test_statistic: float | None = None
    role: str | None = None  # "primary" | "guard" | "advisory"; None in results written before roles

    @property
    def adjusted_delta(self) -> float | None:
        """The delta with its sign flipped for lower-is-better metrics: positive is better."""
        if self.delta is None:
            return None
        return self.delta if self.higher_is_better else -self.delta

    @property
    def adjusted_interval(self) -> tuple[float, float] | None:
        """The delta's interval in the "positive is better" direction."""
        if self.delta is None or self.ci_low is None or self.ci_high is None:
            return None
        if self.higher_is_better:
            return self.ci_low, self.ci_high
        return -self.ci_high, -self.ci_low


@dataclass
class SliceView:
    column: str
    value: str
    rows: int | None
    metric: MetricView | None
    status: str | None  # "pass" | "fail" | "skipped" | None (no slice rule)
    failures: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return self.status == "fail"


@dataclass(frozen=True)
class PowerView:
    """What a change rule can detect on these rows: its minimum detectable effect at 80% power."""

    mde: float | None
    target: float | None
    underpowered: bool
    cannot_fail: bool
    rows_needed: int | None
    note: str | None


@dataclass
class RuleView:
    """One change rule with its inference: margin, p-values, multiplicity family and power."""

    metric: str
    label: str
    slice: str | None
    description: str
    decision: str
    status: str | None
    margin: float | None
    bound: float | None
    p_value: float | None
    p_adjusted: float | None
    family_size: int | None
    equivalent: bool | None
    power: PowerView | None

    @property
    def where(self) -> str:
        """The metric's label, with the slice in brackets for a slice rule: ``ROC AUC [region=north]``."""
        return f"{self.label} [{self.slice}]" if self.slice else self.label

    @property
    def marker(self) -> str | None:
        """What the status alone does not say: "equivalent", "cannot fail" or "underpowered"."""
        if self.equivalent:
            return "equivalent"
        if self.power is not None and self.power.cannot_fail:
            return "cannot fail"
        if self.power is not None and self.power.underpowered:
            return "underpowered"
        return None

    @property
    def power_note(self) -> str | None:
        """The one-line explanation of an underpowered rule or one that cannot fail; None otherwise."""
        power = self.power
        if power is None or not (power.underpowered or power.cannot_fail):
            return None
        if power.note:
            return power.note
        if power.cannot_fail:
            return "cannot fail on these eval rows"
        return f"underpowered: detects a regression of {fmt_num(power.mde)} or more at 80% power"


@dataclass(frozen=True)
class EvaluationView:
    """How the paired rows were obtained: a holdout eval set or cross-fitting over train+eval."""

    mode: str  # "holdout" | "cross_fit"
    folds: int | None
    rows: int | None  # distinct rows
    variance: str | None
    inflation: float | None
    fallback: str | None
    repeats: int | None = None  # cross-fit repetitions (None: results from before repetitions, or holdout)
    paired_rows: int | None = None  # the compared rows: repeats x rows when cross-fitted


@dataclass
class ErrorView:
    """What stopped a check: its one-line message, the step that failed, and how to reproduce it."""

    message: str
    stage: str
    reproduce: str
    kind: str | None


def _error(value: Any) -> ErrorView:
    error = as_dict(value)
    kind = error.get("kind")
    return ErrorView(
        message=str(error.get("message") or "the check stopped with an error"),
        stage=str(error.get("stage") or "unknown"),
        reproduce=str(error.get("reproduce") or "mlops-actions check"),
        kind=str(kind) if isinstance(kind, str) and kind else None,
    )


@dataclass(frozen=True)
class SkippedModel:
    """Another model of the repository that this change did not check, and why."""

    model: str
    reason: str


def _skipped_models(value: Any) -> list[SkippedModel]:
    items = [as_dict(item) for item in as_list(value)]
    return [SkippedModel(str(item.get("model", "?")), str(item.get("reason", ""))) for item in items]


VERDICTS = ("pass", "fail", "error")


@dataclass
class Report:
    """Everything a report shows, in the order it shows it."""

    verdict: str
    model_name: str
    task: str
    primary_metric: str | None
    reasons: list[str]
    decision: str
    decision_text: str
    confidence_label: str  # "95%"
    resamples: int | None
    seed: int | None
    has_baseline: bool
    absolute_only: bool
    baseline_source: str
    baseline_source_text: str
    baseline_reason: str
    baseline_version: str | None
    metrics: list[MetricView]
    rules_total: int
    rules_failed: int
    rules_skipped: int
    other_rules: list[dict[str, Any]]
    slices: list[SliceView]
    slice_metric_label: str | None
    tests: dict[str, Any]
    data_checks: dict[str, Any] | None
    compared: dict[str, Any]
    links: list[tuple[str, str]]
    tool_version: str
    created: str
    schema_version: Any
    error: ErrorView | None = None  # set when the verdict is "error": the check stopped before a verdict
    skipped_models: list[SkippedModel] = field(default_factory=list)  # the other models, not checked
    notes: list[str] = field(default_factory=list)  # what does not change the verdict (e.g. not recorded)
    warnings: list[str] = field(default_factory=list)  # advisory lines shown right under the verdict
    change_rules: list[RuleView] = field(default_factory=list)  # rules with inference (newer results)
    advisory_metrics: list[MetricView] = field(default_factory=list)  # watched, not in the metrics table
    evaluation: EvaluationView | None = None
    correction: str | None = None  # "holm" | "none"; None in results written before it
    alpha: float | None = None  # the one-sided level of a change rule: (1 - confidence) / 2

    @property
    def ci_header(self) -> str:
        return f"{self.confidence_label} CI"

    @cached_property
    def flagged_slices(self) -> int:
        return sum(1 for item in self.slices if item.status == "fail")

    @property
    def tested_metrics(self) -> list[MetricView]:
        return [m for m in self.metrics if m.test_name]

    @property
    def has_roles(self) -> bool:
        return any(m.role for m in self.metrics)

    @property
    def power_notes(self) -> list[tuple[RuleView, str]]:
        """(rule, note) for each change rule that is underpowered or cannot fail, in document order."""
        return [(rule, note) for rule in self.change_rules if (note := rule.power_note)]

    @property
    def holm_family(self) -> int | None:
        """The size of the Holm family when p-values were adjusted over two or more rules, else None."""
        if self.correction == "none":
            return None
        sizes = [rule.family_size for rule in self.change_rules if rule.family_size]
        return max(sizes) if sizes and max(sizes) > 1 else None


def _direction(delta: float | None, higher_is_better: bool) -> str | None:
    if delta is None:
        return None
    if delta == 0:
        return "same"
    return "better" if (delta > 0) == higher_is_better else "worse"


def _rule_status(rules: list[dict[str, Any]]) -> str | None:
    statuses = [rule.get("status") for rule in rules]
    if not statuses:
        return None
    if "fail" in statuses:
        return "fail"
    if "pass" in statuses:
        return "pass"
    return "skipped"


def _failures(rules: list[dict[str, Any]]) -> list[str]:
    return [
        str(rule.get("reason") or rule.get("description") or "rule failed")
        for rule in rules
        if rule.get("status") == "fail"
    ]


def metric_view(row: dict[str, Any], rules: list[dict[str, Any]], *, primary: bool = False) -> MetricView:
    """A metrics-table row from a metric_row of the result and the rules that judge it."""
    higher_is_better = bool(row.get("higher_is_better", True))
    delta = as_number(row.get("delta"))
    test = as_dict(row.get("test"))
    within_noise = row.get("within_noise")
    return MetricView(
        name=str(row.get("name", "")),
        label=str(row.get("label") or row.get("name") or "?"),
        primary=primary,
        higher_is_better=higher_is_better,
        baseline=as_number(row.get("baseline")),
        candidate=as_number(row.get("candidate")),
        delta=delta,
        ci_low=as_number(row.get("ci_low")),
        ci_high=as_number(row.get("ci_high")),
        within_noise=within_noise if isinstance(within_noise, bool) else None,
        direction=_direction(delta, higher_is_better),
        rules=[str(rule.get("description", "")) for rule in rules if rule.get("description")],
        allowances=[
            (str(rule["kind"]), float(rule["threshold"]))
            for rule in rules
            if rule.get("kind") in ("change", "change_relative")
            and as_number(rule.get("threshold")) is not None
        ],
        status=_rule_status(rules),
        failures=_failures(rules),
        test_name=str(test["name"]) if test.get("name") else None,
        test_p_value=as_number(test.get("p_value")),
        test_statistic=as_number(test.get("statistic")),
        role=str(row["role"]) if row.get("role") in ROLES else None,
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _power(value: Any) -> PowerView | None:
    if not isinstance(value, dict):
        return None
    note = value.get("note")
    return PowerView(
        mde=as_number(value.get("mde")),
        target=as_number(value.get("target")),
        underpowered=value.get("underpowered") is True,
        cannot_fail=value.get("cannot_fail") is True,
        rows_needed=_count(value.get("rows_needed")),
        note=str(note) if isinstance(note, str) and note.strip() else None,
    )


INFERENCE_KEYS = ("margin", "bound", "p_value", "p_adjusted", "family_size", "equivalent", "power")


def _change_rules(rules: list[dict[str, Any]], labels: dict[str, str]) -> list[RuleView]:
    """The change rules of a result that carries their inference (margin, p-values, power), else []."""
    changes = [rule for rule in rules if rule.get("kind") in CHANGE_KINDS]
    if not any(rule.get(key) is not None for rule in changes for key in INFERENCE_KEYS):
        return []
    views = []
    for rule in changes:
        metric = str(rule.get("metric", ""))
        where = rule.get("slice")
        equivalent = rule.get("equivalent")
        views.append(
            RuleView(
                metric=metric,
                label=labels.get(metric, metric or "?"),
                slice=str(where) if isinstance(where, str) and where else None,
                description=str(rule.get("description", "")),
                decision=str(rule.get("decision", "")),
                status=str(rule["status"]) if isinstance(rule.get("status"), str) else None,
                margin=as_number(rule.get("margin")),
                bound=as_number(rule.get("bound")),
                p_value=as_number(rule.get("p_value")),
                p_adjusted=as_number(rule.get("p_adjusted")),
                family_size=_count(rule.get("family_size")),
                equivalent=equivalent if isinstance(equivalent, bool) else None,
                power=_power(rule.get("power")),
            )
        )
    return views


def _alpha(confidence: Any) -> float | None:
    number = as_number(confidence)
    return round((1 - number) / 2, 6) if number is not None and 0 < number < 1 else None


def _evaluation(gate: dict[str, Any], result: dict[str, Any]) -> EvaluationView | None:
    evaluation = gate.get("evaluation")
    if not isinstance(evaluation, dict):
        return None
    mode = evaluation.get("mode")
    variance, fallback = evaluation.get("variance"), evaluation.get("fallback")
    rows = _count(evaluation.get("rows"))
    if rows is None:
        rows = _count(as_dict(result.get("evaluation")).get("rows"))
    return EvaluationView(
        mode=mode if mode in ("holdout", "cross_fit") else "holdout",
        folds=_count(evaluation.get("folds")),
        rows=rows,
        variance=str(variance) if isinstance(variance, str) and variance else None,
        inflation=as_number(evaluation.get("inflation")),
        fallback=str(fallback) if isinstance(fallback, str) and fallback.strip() else None,
        repeats=_count(evaluation.get("repeats")),
        paired_rows=_count(evaluation.get("paired_rows")),
    )


def _primary_name(result: dict[str, Any], rows: list[dict[str, Any]]) -> str | None:
    name = as_dict(result.get("model")).get("primary_metric")
    if isinstance(name, str) and name:
        return name
    for row in rows:
        if row.get("primary"):
            return str(row.get("name"))
    return str(rows[0].get("name")) if rows else None


def _slice_views(
    result: dict[str, Any], slice_rules: list[dict[str, Any]], primary: str | None
) -> list[SliceView]:
    rules_by_slice: dict[str, list[dict[str, Any]]] = {}
    for rule in slice_rules:
        rules_by_slice.setdefault(str(rule.get("slice")), []).append(rule)
    views = []
    for item in as_list(result.get("slices")):
        item = as_dict(item)
        column, value = str(item.get("column", "")), str(item.get("value", ""))
        rules = rules_by_slice.get(f"{column}={value}", [])
        rows = [as_dict(row) for row in as_list(item.get("metrics"))]
        chosen = next((row for row in rows if row.get("name") == primary), rows[0] if rows else None)
        metric = None
        if chosen is not None:
            metric = metric_view(chosen, [r for r in rules if r.get("metric") == chosen.get("name")])
        rows_count = item.get("rows")
        views.append(
            SliceView(
                column=column,
                value=value,
                rows=rows_count if isinstance(rows_count, int) and not isinstance(rows_count, bool) else None,
                metric=metric,
                status=_rule_status(rules),
                failures=_failures(rules),
            )
        )
    return views


def _side(value: Any) -> dict[str, Any]:
    side = as_dict(value)
    data = {
        str(role): as_dict(fingerprint)
        for role, fingerprint in as_dict(side.get("data")).items()
        if isinstance(fingerprint, dict)
    }
    return {
        "commit": side.get("commit") if isinstance(side.get("commit"), str) else None,
        "branch": side.get("branch") if isinstance(side.get("branch"), str) else None,
        "dirty": side.get("dirty") if isinstance(side.get("dirty"), bool) else None,
        "version": side.get("version") if isinstance(side.get("version"), str) else None,
        "model_digest": side.get("model_digest") if isinstance(side.get("model_digest"), str) else None,
        "train_seconds": as_number(side.get("train_seconds")),
        "data": data,
    }


def _compared(result: dict[str, Any]) -> dict[str, Any]:
    baseline_model = as_dict(result.get("baseline")).get("model")
    baseline = _side(baseline_model) if isinstance(baseline_model, dict) else None
    candidate = _side(result.get("candidate"))
    roles = list(candidate["data"])
    for role in baseline["data"] if baseline else []:
        if role not in roles:
            roles.append(role)
    evaluation = as_dict(result.get("evaluation"))
    data_changed = result.get("data_changed")
    return {
        "baseline": baseline,
        "candidate": candidate,
        "roles": roles,
        "evaluation": {
            "rows": evaluation.get("rows"),
            "data": as_dict(evaluation.get("data")),
            "split": evaluation.get("split") if isinstance(evaluation.get("split"), str) else None,
            "same_rows": evaluation.get("same_rows")
            if isinstance(evaluation.get("same_rows"), bool)
            else None,
        },
        "data_changed": data_changed if isinstance(data_changed, bool) else None,
    }


def _tests(result: dict[str, Any]) -> dict[str, Any]:
    tests = as_dict(result.get("tests"))
    tail = tests.get("output_tail")
    counts = {}
    for key in ("passed", "failed", "errors", "skipped"):
        value = tests.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            counts[key] = value
    return {
        "status": str(tests.get("status", "not-configured")),
        "command": tests.get("command") if isinstance(tests.get("command"), str) else None,
        "required": tests.get("required") if isinstance(tests.get("required"), bool) else None,
        "exit_code": tests.get("exit_code") if isinstance(tests.get("exit_code"), int) else None,
        "counts": counts,
        "seconds": as_number(tests.get("seconds")),
        "output_tail": strip_terminal(tail, TEST_TAIL_MAX_LINES, TEST_TAIL_MAX_CHARS)
        if isinstance(tail, str) and tail.strip()
        else "",
    }


def _drifted_columns(drift: dict[str, Any]) -> list[str]:
    named = drift.get("drifted_columns")
    if isinstance(named, list):
        return [str(name) for name in named]
    return [
        str(column.get("column"))
        for column in map(as_dict, as_list(drift.get("columns")))
        if column.get("drifted") is True
    ]


def _data_checks(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    schema = as_dict(value.get("schema"))
    changes = as_dict(value.get("changes"))
    leakage = as_dict(value.get("leakage"))
    violations = []
    for file in map(as_dict, as_list(schema.get("files"))):
        for violation in map(as_dict, as_list(file.get("violations"))):
            violations.append(
                {
                    "role": file.get("role"),
                    "path": file.get("path"),
                    "column": violation.get("column"),
                    "kind": violation.get("kind"),
                    "count": violation.get("count"),
                    "examples": [example for example in as_list(violation.get("examples"))[:5]],
                    "message": violation.get("message"),
                }
            )
    change_files, drift_rows, correlation_rows, drifted = [], [], [], []
    for file in map(as_dict, as_list(changes.get("files"))):
        change_files.append(file)
        drift = file.get("drift")
        if not isinstance(drift, dict):
            continue
        for name in _drifted_columns(drift):
            if name not in drifted:
                drifted.append(name)
        for column in map(as_dict, as_list(drift.get("columns"))):
            drift_rows.append({"role": file.get("role"), **column})
        for change in map(as_dict, as_list(drift.get("correlation_changes"))):
            correlation_rows.append({"role": file.get("role"), **change})
    return {
        "status": str(value.get("status", "pass")),
        "schema_status": schema.get("status") if schema else None,
        "schema_path": schema.get("path"),
        "schema_files": [as_dict(file) for file in as_list(schema.get("files"))],
        "violations": violations,
        "changes_status": changes.get("status") if changes else None,
        "change_files": change_files,
        "files_changed": sum(1 for file in change_files if file.get("changed") is True),
        "drift_rows": drift_rows,
        "drifted_columns": drifted,
        "correlation_changes": correlation_rows,
        "leakage_status": leakage.get("status") if leakage else None,
        "leakage_threshold": as_number(leakage.get("threshold")),
        "leakage_flagged": [as_dict(flag) for flag in as_list(leakage.get("flagged"))],
    }


def merged_links(result: dict[str, Any], links: dict[str, str] | None) -> list[tuple[str, str]]:
    """(label, url) pairs from the result's links and the caller's, http(s) URLs only."""
    merged = {**{str(k): v for k, v in as_dict(result.get("links")).items()}, **(links or {})}
    order = [key for key in LINK_LABELS if key in merged] + sorted(k for k in merged if k not in LINK_LABELS)
    pairs = []
    for key in order:
        url = safe_url(merged[key])
        if url:
            pairs.append((LINK_LABELS.get(key, key.replace("_", " ")), url))
    return pairs


def build_report(result: dict[str, Any], links: dict[str, str] | None = None) -> Report:
    """The report's content from a (validated) result document."""
    gate = as_dict(result.get("gate"))
    baseline = as_dict(result.get("baseline"))
    model = as_dict(result.get("model"))
    rules = [as_dict(rule) for rule in as_list(result.get("rules"))]
    metric_rules = [rule for rule in rules if not rule.get("slice")]
    slice_rules = [rule for rule in rules if rule.get("slice")]
    rows = [as_dict(row) for row in as_list(result.get("metrics"))]
    advisory_rows = [as_dict(row) for row in as_list(result.get("advisory_metrics"))]
    primary = _primary_name(result, rows)
    labels = {
        str(row.get("name")): str(row.get("label") or row.get("name"))
        for row in [*advisory_rows, *rows]
        if row.get("name")
    }

    metrics = [
        metric_view(
            row,
            [rule for rule in metric_rules if rule.get("metric") == row.get("name")],
            primary=row.get("name") == primary,
        )
        for row in rows
    ]
    metrics.sort(key=lambda m: not m.primary)  # stable: primary first, the rest in document order
    known = {m.name for m in metrics}
    other_rules = [rule for rule in metric_rules if rule.get("metric") not in known]

    confidence = fmt_confidence(gate.get("confidence"))
    decision = str(gate.get("decision", "interval"))
    source = str(baseline.get("source", "none"))
    has_baseline = source != "none" and any(m.delta is not None for m in metrics)
    absolute_only = bool(gate.get("absolute_only", not has_baseline))
    baseline_model = as_dict(baseline.get("model"))
    slices = _slice_views(result, slice_rules, primary)
    slice_metric = next((s.metric for s in slices if s.metric), None)
    tool = as_dict(result.get("tool"))
    resamples, seed = gate.get("resamples"), gate.get("seed")

    verdict = result.get("verdict") if result.get("verdict") in VERDICTS else "fail"
    return Report(
        verdict=str(verdict),
        model_name=str(model.get("name", "?")),
        task=str(model.get("task", "")),
        primary_metric=primary,
        reasons=[str(reason) for reason in as_list(result.get("reasons"))],
        decision=decision,
        decision_text=DECISION_TEXT.get(decision, decision).format(ci=confidence),
        confidence_label=confidence,
        resamples=resamples if isinstance(resamples, int) else None,
        seed=seed if isinstance(seed, int) else None,
        has_baseline=has_baseline,
        absolute_only=absolute_only,
        baseline_source=source,
        baseline_source_text=BASELINE_TEXT.get(source, source),
        baseline_reason=str(baseline.get("reason", "")),
        baseline_version=baseline_model.get("version")
        if isinstance(baseline_model.get("version"), str)
        else None,
        metrics=metrics,
        rules_total=len(rules),
        rules_failed=sum(1 for rule in rules if rule.get("status") == "fail"),
        rules_skipped=sum(1 for rule in rules if rule.get("status") == "skipped"),
        other_rules=other_rules,
        slices=slices,
        slice_metric_label=slice_metric.label if slice_metric else None,
        tests=_tests(result),
        data_checks=_data_checks(result.get("data_checks")),
        compared=_compared(result),
        links=merged_links(result, links),
        tool_version=str(tool.get("version", "")),
        created=str(result.get("created", "")),
        schema_version=result.get("schema_version"),
        error=_error(result.get("error")) if verdict == "error" else None,
        skipped_models=_skipped_models(result.get("skipped_models")),
        notes=[str(note) for note in as_list(result.get("notes"))],
        warnings=[str(line) for line in as_list(result.get("warnings")) if str(line).strip()],
        change_rules=_change_rules(rules, labels),
        advisory_metrics=[metric_view(row, []) for row in advisory_rows],
        evaluation=_evaluation(gate, result),
        correction=str(gate["correction"]) if gate.get("correction") in ("holm", "none") else None,
        alpha=_alpha(gate.get("confidence")),
    )


def delta_text(metric: MetricView) -> str:
    """The Δ cell: signed delta, then ▲ better / ▼ worse, or △ / ▽ within noise; "—" without a delta."""
    if metric.delta is None:
        return MISSING
    text = fmt_signed(metric.delta)
    if metric.direction == "same":
        return f"{text} ="
    better = metric.direction == "better"
    if metric.within_noise:
        return f"{text} {'△' if better else '▽'} within noise"
    return f"{text} {'▲ better' if better else '▼ worse'}"


def pass_summary(report: Report) -> str:
    """The line under the headline when there are no reasons to list."""
    judged = report.rules_total - report.rules_skipped
    if report.verdict == "fail":
        return "The gate failed (no reason was recorded)."
    if report.rules_total == 0:
        return "No rules are configured: nothing was judged."
    skipped = f" ({report.rules_skipped} skipped)" if report.rules_skipped else ""
    if judged == 1:
        return f"The one judged rule passed{skipped}."
    return f"All {judged} judged rules passed{skipped}."


def resampling_text(report: Report) -> str:
    """How the intervals were computed, e.g. " (2,000 paired bootstrap resamples, seed 0)"; "" if unknown."""
    if report.resamples is None:
        return ""
    seed = f", seed {report.seed}" if report.seed is not None else ""
    return f" ({report.resamples:,} paired bootstrap resamples{seed})"


def evaluation_text(report: Report) -> str | None:
    """How the paired rows were obtained, in one sentence; None for results written before it was recorded.

    E.g. "Cross-fitted on 5 folds of train+eval (10,000 paired rows); intervals widened ×1.50
    (Nadeau–Bengio).", "Cross-fitted on 5 folds × 2 repeats of train+eval (20,000 paired rows: 2 × 10,000);
    intervals widened ×1.87 (Bouckaert–Frank)." or "Holdout eval set (2,000 paired rows), not cross-fitted:
    <why>."
    """
    evaluation = report.evaluation
    if evaluation is None:
        return None
    kind = "paired rows" if report.has_baseline else "rows"
    rows = f" ({fmt_count(evaluation.rows)} {kind})" if evaluation.rows is not None else ""
    if evaluation.mode == "cross_fit":
        folds = f"{evaluation.folds} folds" if evaluation.folds is not None else "folds"
        repeats = evaluation.repeats
        if repeats is not None and repeats > 1:
            folds += f" × {repeats} repeats"
            if evaluation.rows is not None:
                paired = evaluation.paired_rows or repeats * evaluation.rows
                rows = f" ({fmt_count(paired)} {kind}: {repeats} × {fmt_count(evaluation.rows)})"
        text = f"Cross-fitted on {folds} of train+eval{rows}"
        if evaluation.inflation is not None:
            variance = evaluation.variance
            named = f" ({VARIANCE_NAMES.get(variance, variance)})" if variance else ""
            text += f"; intervals widened ×{evaluation.inflation:.2f}{named}"
        return text + "."
    text = f"Holdout eval set{rows}"
    if evaluation.fallback:
        text += f", not cross-fitted: {evaluation.fallback.rstrip('.')}"
    return text + "."


def role_text(report: Report) -> str | None:
    """What the metric roles mean, naming the advisory metrics outside the table; None without roles."""
    if not report.has_roles and not report.advisory_metrics:
        return None
    text = (
        "primary and guard metrics are gated by their rules; advisory metrics never fail the gate "
        "(a confident regression beyond the metric's notable size is a ⚠ line under the verdict)"
    )
    if report.advisory_metrics:
        names = [m.label for m in report.advisory_metrics]
        shown = ", ".join(names[:ADVISORY_NAMES_SHOWN])
        more = f", … ({len(names) - ADVISORY_NAMES_SHOWN} more)" if len(names) > ADVISORY_NAMES_SHOWN else ""
        text += f". Also watched, not in the table: {shown}{more}"
    return text


def rule_legend(report: Report) -> str:
    """What the rules table's columns mean, for the decisions it shows."""
    decisions = {rule.decision for rule in report.change_rules if rule.p_value is not None}
    alpha = f" α = {report.alpha:g}" if report.alpha is not None else " α"
    tests = []
    if "interval" in decisions:
        adjusted = " Holm-adjusted" if report.holm_family else ""
        tests.append(f"an interval rule fails when its{adjusted} p is below{alpha}")
    if "strict" in decisions:
        tests.append(f"a strict rule passes only when its p is below{alpha}")
    parts = [
        "p: one-sided bootstrap p-value against the rule's bound" + (f"; {', '.join(tests)}" if tests else "")
    ]
    parts.append("MDE: the smallest regression the rule detects with 80% power on these rows")
    if any(rule.margin is not None for rule in report.change_rules):
        parts.append("equivalent: the whole interval of Δ lies within ± the margin")
    return " · ".join(parts)


def p_value_text(rule: RuleView, report: Report) -> str:
    """The p-value cell: the adjusted p-value, naming Holm's family when it has two or more rules."""
    value = rule.p_adjusted if rule.p_adjusted is not None else rule.p_value
    if value is None:
        return MISSING
    text = fmt_pvalue(value)
    if report.correction != "none" and rule.family_size is not None and rule.family_size > 1:
        text += f" (Holm, family of {rule.family_size})"
    return text
