"""Candidate vs baseline on the same rows: metric deltas with paired-bootstrap intervals and paired tests."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mlops_actions.domain.config import Config
from mlops_actions.domain.evaluation import Scored, align_classes
from mlops_actions.domain.gate import BOOTSTRAP_DELTAS, GateOutcome, judge
from mlops_actions.domain.metric_names import METRICS
from mlops_actions.errors import DataError


def _number(value: Any) -> float | None:
    """A JSON-safe float: None for NaN/inf/None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def check_same_rows(candidate: Scored, baseline: Scored) -> None:
    """Both models must have been scored on exactly the same rows in the same order."""
    import numpy as np

    if candidate.rows != baseline.rows or not np.array_equal(candidate.row_keys, baseline.row_keys):
        raise DataError(
            f"candidate ({candidate.rows} rows) and baseline ({baseline.rows} rows) were not scored on the same "
            "evaluation rows; a paired comparison needs identical rows (check data.id)"
        )
    if candidate.task != baseline.task:
        raise DataError(f"candidate task {candidate.task!r} differs from baseline task {baseline.task!r}")


def metric_rows(
    names: tuple[str, ...] | list[str],
    candidate: Scored,
    baseline: Scored | None,
    config: Config,
    *,
    with_tests: bool = True,
    inflation: float = 1.0,
) -> list[dict[str, Any]]:
    """One row per metric: baseline, candidate, delta, interval, within-noise flag, paired test, role, se.

    With a baseline each row also carries its bootstrap deltas under ``gate.BOOTSTRAP_DELTAS`` (a numpy
    array for ``judge``'s p-values; ``without_bootstrap_deltas`` drops it before the rows become JSON).
    ``inflation`` widens the paired bootstrap's deltas (the cross-fitting variance correction, see
    ``mlops_actions.domain.inference.cross_fit_inflation``).
    """
    from mlops_actions.domain.stats import bootstrap_interval, delong_test, mcnemar_test, paired_bootstrap

    rows: list[dict[str, Any]] = []
    if baseline is None:
        intervals = bootstrap_interval(
            list(names),
            config.task,
            candidate.y_true,
            candidate.predictions,
            n_classes=candidate.n_classes,
            resamples=config.resamples,
            confidence=config.confidence,
            seed=config.seed,
        )
        for name in names:
            value, low, high = intervals[name]
            rows.append(_row(name, config, None, value, None, low, high, None, None))
        return rows
    estimates = paired_bootstrap(
        list(names),
        config.task,
        candidate.y_true,
        candidate.predictions,
        baseline.predictions,
        n_classes=candidate.n_classes,
        resamples=config.resamples,
        confidence=config.confidence,
        seed=config.seed,
        inflation=inflation,
    )
    # McNemar's and DeLong's tests take the rows as independent draws scored by fixed models: not so for
    # cross-fitted rows (fold models share training rows; repetitions repeat rows), so they are left out there.
    with_tests = with_tests and inflation == 1.0
    cand, base = candidate.predictions, baseline.predictions
    both_scores = (cand.scores, base.scores) if cand.scores is not None and base.scores is not None else None
    two_classes = config.task == "binary" and len(set(candidate.y_true.tolist())) == 2
    for name in names:
        est = estimates[name]
        test = None
        if with_tests and name == "accuracy" and cand.labels is not None and base.labels is not None:
            test = mcnemar_test(candidate.y_true, cand.labels, base.labels)
        elif with_tests and name == "roc_auc" and both_scores is not None and two_classes:
            test = delong_test(candidate.y_true, *both_scores)
        row = _row(
            name, config, est.baseline, est.candidate, est.delta, est.ci_low, est.ci_high, test, est.se
        )
        row[BOOTSTRAP_DELTAS] = est.samples
        rows.append(row)
    return rows


def metric_role(name: str, config: Config) -> str:
    """primary (the config's primary metric), guard (another metric with a rule) or advisory (no rule)."""
    if name == config.primary_metric:
        return "primary"
    return "guard" if any(rule.metric == name for rule in config.rules) else "advisory"


def without_bootstrap_deltas(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Metric rows (or slices with their metric rows) without the bootstrap deltas: JSON-ready."""
    cleaned = []
    for row in rows:
        row = {k: v for k, v in row.items() if k != BOOTSTRAP_DELTAS}
        if isinstance(row.get("metrics"), list):
            row["metrics"] = without_bootstrap_deltas(row["metrics"])
        cleaned.append(row)
    return cleaned


def _row(
    name: str,
    config: Config,
    baseline: float | None,
    candidate: float | None,
    delta: float | None,
    low: float | None,
    high: float | None,
    test: Any,
    se: float | None,
) -> dict[str, Any]:
    info = METRICS[name]
    low, high = _number(low), _number(high)
    delta = _number(delta)
    within_noise = None
    if delta is not None and low is not None and high is not None:
        within_noise = bool(low <= 0.0 <= high)
    test_doc = None
    if test is not None and _number(test.statistic) is not None and _number(test.p_value) is not None:
        test_doc = {
            "name": test.name,
            "statistic": _number(test.statistic),
            "p_value": min(1.0, max(0.0, float(test.p_value))),
            "details": {k: (_number(v) if isinstance(v, float) else v) for k, v in test.details.items()},
        }
    return {
        "name": name,
        "label": info.label,
        "primary": name == config.primary_metric,
        "higher_is_better": info.higher_is_better,
        "baseline": _number(baseline),
        "candidate": _number(candidate),
        "delta": delta,
        "ci_low": low,
        "ci_high": high,
        "within_noise": within_noise,
        "test": test_doc,
        "role": metric_role(name, config),
        "se": _number(se) if delta is not None else None,
    }


def slice_rows(
    candidate: Scored,
    baseline: Scored | None,
    config: Config,
    *,
    inflation: float = 1.0,
    repeats: int = 1,
) -> list[dict[str, Any]]:
    """Metrics per slice value (each configured slice column); intervals where the slice is large enough.
    A slice's ``rows`` are distinct rows: its paired rows over ``repeats``, the times each row recurs."""
    results: list[dict[str, Any]] = []
    for column, values in candidate.slices.items():
        for value in sorted(set(values.tolist())):
            mask = values == value
            rows = int(mask.sum()) // repeats
            cand = candidate.rows_at(mask)
            base = None if baseline is None else baseline.rows_at(mask)
            names = [n for n in config.metrics if _defined_for(n, cand)]
            if rows < config.min_slice_rows:
                metrics = _point_rows(names, cand, base, config)
            else:
                metrics = metric_rows(names, cand, base, config, with_tests=False, inflation=inflation)
            results.append({"column": column, "value": str(value), "rows": rows, "metrics": metrics})
    return results


def _defined_for(name: str, scored: Scored) -> bool:
    """Ranking metrics need both classes present in a binary slice."""
    if METRICS[name].needs == "scores" and scored.task == "binary":
        return len(set(scored.y_true.tolist())) == 2
    return True


def _point_rows(names: list[str], cand: Scored, base: Scored | None, config: Config) -> list[dict[str, Any]]:
    from mlops_actions.domain.metrics import compute_metrics

    cand_values = compute_metrics(names, config.task, cand.y_true, cand.predictions, cand.n_classes)
    base_values = (
        compute_metrics(names, config.task, base.y_true, base.predictions, base.n_classes) if base else {}
    )
    rows = []
    for name in names:
        b = base_values.get(name)
        c = cand_values[name]
        delta = None if b is None else c - b
        rows.append(_row(name, config, b, c, delta, None, None, None, None))
    return rows


@dataclass(frozen=True)
class Comparison:
    """Candidate vs baseline on the same rows, and the gate's judgement of it.

    Without a baseline only the candidate's values and intervals are known, and only the absolute bounds
    are judged (``absolute_only``). ``advisory_metrics`` are the watched metrics outside the table
    (``metrics.advisory``); the gate's ``warnings`` name confident notable regressions of metrics without a
    rule. Every row here is JSON-ready (no bootstrap deltas).
    """

    metrics: list[dict[str, Any]]
    slices: list[dict[str, Any]]
    gate: GateOutcome
    absolute_only: bool
    advisory_metrics: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.gate.passed

    @property
    def verdict(self) -> str:
        return "pass" if self.passed else "fail"

    @property
    def warnings(self) -> list[str]:
        return self.gate.warnings

    def to_dict(self) -> dict[str, Any]:
        """Verdict, reasons, warnings, metric rows, judged rules and slices, as ``compare --json`` prints them."""
        return {
            "verdict": self.verdict,
            "reasons": self.gate.reasons,
            "warnings": self.gate.warnings,
            "metrics": self.metrics,
            "advisory_metrics": self.advisory_metrics,
            "rules": self.gate.rules,
            "slices": self.slices,
            "absolute_only": self.absolute_only,
        }


def compare(
    candidate: Scored,
    baseline: Scored | None,
    config: Config,
    *,
    inflation: float = 1.0,
    repeats: int = 1,
) -> Comparison:
    """Compare ``candidate`` with ``baseline`` (None: no baseline yet) and judge the config's rules.

    The baseline's classes are put in the candidate's order; both must have been scored on the same rows
    (a DataError says otherwise). Every metric gets a paired-bootstrap interval of its delta, accuracy a
    McNemar test, binary ROC AUC a DeLong test; each slice value gets its own rows. The config's advisory
    metrics are computed in the same bootstrap. ``inflation`` (>= 1) widens every bootstrap delta around its
    estimate: the variance correction of cross-fitted predictions (and the power notes then suggest no
    cross-fitting). ``repeats`` is how often each distinct row recurs among the paired rows (stacked cross-fit
    repetitions): slice sizes and the rows of the power notes count distinct rows.
    """
    if baseline is not None:
        baseline = align_classes(baseline, candidate.classes)
        check_same_rows(candidate, baseline)
    names = list(dict.fromkeys([*config.metrics, *config.advisory_metrics]))
    every = metric_rows(names, candidate, baseline, config, inflation=inflation)
    shown = set(config.metrics)
    metrics = [row for row in every if row["name"] in shown]
    advisory = [row for row in every if row["name"] not in shown]
    slices = slice_rows(candidate, baseline, config, inflation=inflation, repeats=repeats)
    gate = judge(
        config.rules,
        metrics,
        slices,
        min_slice_rows=config.min_slice_rows,
        config=config,
        rows=candidate.rows // repeats,
        advisory=advisory,
        evaluation="cross_fit" if inflation > 1.0 else "holdout",
    )
    return Comparison(
        metrics=without_bootstrap_deltas(metrics),
        slices=without_bootstrap_deltas(slices),
        gate=gate,
        absolute_only=baseline is None,
        advisory_metrics=without_bootstrap_deltas(advisory),
    )
