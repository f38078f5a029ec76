"""Drift between a reference and a current table: per-column scores, verdicts and correlation changes.

Both tables are profiled (the current one on the reference's bins) and the profiles compared, so a
reference can also be a saved profile (monitoring reuses it against production data).

Numeric columns: PSI on the reference deciles with open outer bins and one bin for missing or infinite
values; Wasserstein-1 normalised by the reference standard deviation; Kolmogorov-Smirnov (exact when
both samples are small enough to keep their values, binned otherwise). Categorical columns:
Jensen-Shannon distance (base 2) and chi-squared, with missing values as a category of their own.
The verdict uses PSI (numeric) or Jensen-Shannon (categorical), or the KS / chi-squared p-value when
either sample has at most ``small_sample`` values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_actions.domain.data import stats
from mlops_actions.domain.data.chunks import DEFAULT_CHUNK_BYTES, read_header
from mlops_actions.domain.data.profile import (
    CategoricalProfile,
    NumericProfile,
    Profile,
    build_profile,
    load_profile,
)
from mlops_actions.errors import ConfigError, DataError

DEFAULT_THRESHOLDS: dict[str, float] = {
    "psi": 0.2,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "ks_pvalue": 0.05,
    "chi2_pvalue": 0.05,
    "small_sample": 1000,
    "drift_share": 0.5,
    "correlation": 0.2,
    "correlation_pvalue": 0.05,
}
THRESHOLD_HELP = {
    "psi": "numeric column drifts when PSI >= this (large samples)",
    "wasserstein": "reported: Wasserstein distance / reference std, flagged when >= this",
    "jensenshannon": "categorical column drifts when the Jensen-Shannon distance >= this (large samples)",
    "ks_pvalue": "numeric column drifts when the KS p-value < this (small samples)",
    "chi2_pvalue": "categorical column drifts when the chi-squared p-value < this (small samples)",
    "small_sample": "samples with at most this many values use the KS / chi-squared tests",
    "drift_share": "the dataset drifts when at least this share of the compared columns drift",
    "correlation": "a pair's correlation change is flagged when |delta| >= this (and significant)",
    "correlation_pvalue": "significance level of Fisher's z test for a correlation change",
}
MISSING_CATEGORY = "(missing)"
TOP_CORRELATIONS = 10


@dataclass
class ColumnDrift:
    column: str
    kind: str
    method: str
    score: float
    threshold: float
    drifted: bool
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class CorrelationChange:
    a: str
    b: str
    before: float
    after: float
    delta: float
    flagged: bool


@dataclass
class DriftReport:
    reference_rows: int
    current_rows: int
    columns: list[ColumnDrift]
    correlation_changes: list[CorrelationChange]
    flagged_correlations: int
    skipped: list[dict[str, str]]
    new_columns: list[str]
    missing_columns: list[str]
    thresholds: dict[str, float]
    reference: str = ""
    current: str = ""

    @property
    def drifted_columns(self) -> int:
        return sum(1 for c in self.columns if c.drifted)

    @property
    def share(self) -> float:
        return self.drifted_columns / len(self.columns) if self.columns else 0.0

    @property
    def drifted(self) -> bool:
        share_drift = bool(self.columns) and self.share >= self.thresholds["drift_share"]
        return share_drift or self.flagged_correlations > 0

    @property
    def reasons(self) -> list[str]:
        reasons = []
        if self.columns and self.share >= self.thresholds["drift_share"]:
            reasons.append(
                f"{self.drifted_columns} of {len(self.columns)} columns drifted "
                f"(share {self.share:.2f} >= {self.thresholds['drift_share']:g})"
            )
        if self.flagged_correlations:
            reasons.append(
                f"{self.flagged_correlations} feature pair(s) changed correlation by at least "
                f"{self.thresholds['correlation']:g}"
            )
        return reasons


def resolve_thresholds(overrides: Mapping[str, float] | None) -> dict[str, float]:
    """The default thresholds updated with overrides; a ConfigError names an unknown key or bad value."""
    thresholds = dict(DEFAULT_THRESHOLDS)
    for key, value in (overrides or {}).items():
        if key not in DEFAULT_THRESHOLDS:
            raise ConfigError(
                f"unknown drift threshold '{key}', expected one of {', '.join(DEFAULT_THRESHOLDS)}"
            )
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"drift threshold '{key}' must be a number, got {value!r}") from None
        if not math.isfinite(number) or number < 0:
            raise ConfigError(f"drift threshold '{key}' must be a non-negative number, got {value!r}")
        thresholds[key] = number
    return thresholds


def parse_threshold_options(items: Iterable[str]) -> dict[str, float]:
    """NAME=VALUE strings (also comma-separated) to a dict; a ConfigError for a malformed item."""
    result: dict[str, float] = {}
    for item in items:
        for part in str(item).split(","):
            if not part.strip():
                continue
            key, sep, value = part.partition("=")
            if not sep:
                raise ConfigError(
                    f"drift threshold '{part.strip()}' must look like NAME=VALUE, e.g. psi=0.25"
                )
            try:
                result[key.strip()] = float(value)
            except ValueError:
                raise ConfigError(
                    f"drift threshold '{key.strip()}' must be a number, got {value!r}"
                ) from None
    resolve_thresholds(result)
    return result


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _null_share(missing: int, total: int) -> float:
    return missing / total if total else 0.0


def _numeric_drift(name: str, ref: NumericProfile, cur: NumericProfile, t: dict[str, float]) -> ColumnDrift:
    import numpy as np

    if ref.edges is None or cur.edges is None or not np.array_equal(ref.edges, cur.edges):
        raise DataError(f"column '{name}': the current profile was not built on the reference's bins")
    ref_hist = np.append(ref.decile_counts(), ref.missing + ref.infinite)
    cur_hist = np.append(cur.decile_counts(), cur.missing + cur.infinite)
    psi = stats.psi(ref_hist, cur_hist)
    wasserstein = stats.wasserstein_from_bins(
        ref.edges, ref.bin_counts, ref.bin_sums, cur.bin_counts, cur.bin_sums
    )
    scale = ref.std if ref.std > 0 else 1.0
    wasserstein_norm = wasserstein / scale
    small = min(ref.count, cur.count) <= t["small_sample"] and ref.count > 0 and cur.count > 0
    exact = small and ref.values is not None and cur.values is not None
    if exact:
        ks_statistic, ks_pvalue = stats.ks_two_sample(ref.values, cur.values)
    elif ref.count > 0 and cur.count > 0:
        ref_cdf = np.cumsum(ref.bin_counts)[:-1] / ref.count  # type: ignore[arg-type]
        cur_cdf = np.cumsum(cur.bin_counts)[:-1] / cur.count  # type: ignore[arg-type]
        ks_statistic = float(np.max(np.abs(ref_cdf - cur_cdf))) if len(ref_cdf) else 0.0
        ks_pvalue = stats.ks_asymptotic_pvalue(ks_statistic, ref.count, cur.count)
    else:
        ks_statistic, ks_pvalue = float("nan"), float("nan")
    extras = {
        "psi": psi,
        "wasserstein_norm": wasserstein_norm,
        "wasserstein_drifted": wasserstein_norm >= t["wasserstein"],
        "ks_statistic": _finite(ks_statistic),
        "ks_pvalue": _finite(ks_pvalue),
        "ks_exact": exact,
        "reference_mean": ref.mean if ref.count else None,
        "current_mean": cur.mean if cur.count else None,
        "reference_std": ref.std,
        "current_std": cur.std,
        "reference_null_share": _null_share(ref.missing, ref.count + ref.missing + ref.infinite),
        "current_null_share": _null_share(cur.missing, cur.count + cur.missing + cur.infinite),
    }
    if small:
        return ColumnDrift(
            name, "numeric", "ks", ks_pvalue, t["ks_pvalue"], ks_pvalue < t["ks_pvalue"], extras
        )
    return ColumnDrift(name, "numeric", "psi", psi, t["psi"], psi >= t["psi"], extras)


def _categorical_drift(
    name: str, ref: CategoricalProfile, cur: CategoricalProfile, t: dict[str, float]
) -> ColumnDrift:
    import numpy as np

    assert ref.counts is not None and cur.counts is not None
    categories = list(ref.counts) + [c for c in cur.counts if c not in ref.counts]
    ref_counts = np.array([ref.counts.get(c, 0) for c in categories] + [ref.missing], dtype=float)
    cur_counts = np.array([cur.counts.get(c, 0) for c in categories] + [cur.missing], dtype=float)
    js = stats.jensen_shannon_distance(ref_counts, cur_counts)
    chi2, pvalue, dof = stats.chi_squared(ref_counts, cur_counts)
    unseen = sorted((c for c in cur.counts if c not in ref.counts), key=lambda c: -cur.counts[c])  # type: ignore[index]
    extras = {
        "jensenshannon": js,
        "chi2_statistic": chi2,
        "chi2_pvalue": pvalue,
        "chi2_dof": dof,
        "new_categories": unseen[:5],
        "reference_null_share": _null_share(ref.missing, ref.count + ref.missing),
        "current_null_share": _null_share(cur.missing, cur.count + cur.missing),
    }
    small = min(ref.count, cur.count) <= t["small_sample"]
    if small:
        return ColumnDrift(
            name, "categorical", "chi2", pvalue, t["chi2_pvalue"], pvalue < t["chi2_pvalue"], extras
        )
    return ColumnDrift(
        name, "categorical", "jensenshannon", js, t["jensenshannon"], js >= t["jensenshannon"], extras
    )


def compare_profiles(
    reference: Profile,
    current: Profile,
    *,
    thresholds: Mapping[str, float] | None = None,
    exclude: Iterable[str] = (),
    top_correlations: int = TOP_CORRELATIONS,
) -> DriftReport:
    """Per-column drift, correlation changes and the dataset verdict of current against reference."""
    t = resolve_thresholds(thresholds)
    excluded = set(exclude)
    columns: list[ColumnDrift] = []
    skipped: list[dict[str, str]] = []
    for name, ref in reference.columns.items():
        if name in excluded or name not in current.columns:
            continue
        cur = current.columns[name]
        if ref.kind != cur.kind:
            columns.append(
                ColumnDrift(
                    name,
                    cur.kind,
                    "kind_change",
                    1.0,
                    0.0,
                    True,
                    {"reference_kind": ref.kind, "current_kind": cur.kind},
                )
            )
        elif isinstance(ref, NumericProfile) and isinstance(cur, NumericProfile):
            columns.append(_numeric_drift(name, ref, cur, t))
        elif isinstance(ref, CategoricalProfile) and isinstance(cur, CategoricalProfile):
            if ref.counts is None or cur.counts is None:
                skipped.append({"column": name, "reason": "too many distinct values to compare"})
            else:
                columns.append(_categorical_drift(name, ref, cur, t))
        else:
            skipped.append({"column": name, "reason": f"{ref.dtype} columns are not compared"})
    changes, flagged = correlation_changes(reference, current, t, excluded, top_correlations)
    return DriftReport(
        reference_rows=reference.rows,
        current_rows=current.rows,
        columns=columns,
        correlation_changes=changes,
        flagged_correlations=flagged,
        skipped=skipped,
        new_columns=[c for c in current.columns if c not in reference.columns and c not in excluded],
        missing_columns=[c for c in reference.columns if c not in current.columns and c not in excluded],
        thresholds=t,
        reference=", ".join(reference.sources),
        current=", ".join(current.sources),
    )


def correlation_changes(
    reference: Profile,
    current: Profile,
    thresholds: dict[str, float],
    excluded: set[str],
    top: int = TOP_CORRELATIONS,
) -> tuple[list[CorrelationChange], int]:
    """The pairs with the largest |change in Pearson correlation| (at most top), and how many are flagged."""
    import numpy as np

    if reference.correlation is None or current.correlation is None:
        return [], 0
    ref_names, cur_names = reference.correlation.columns, current.correlation.columns
    common = [c for c in ref_names if c in cur_names and c not in excluded]
    if len(common) < 2:
        return [], 0
    ri = [ref_names.index(c) for c in common]
    ci = [cur_names.index(c) for c in common]
    before = reference.correlation.matrix()[np.ix_(ri, ri)]
    after = current.correlation.matrix()[np.ix_(ci, ci)]
    n_before = reference.correlation.n[np.ix_(ri, ri)]
    n_after = current.correlation.n[np.ix_(ci, ci)]
    upper_i, upper_j = np.triu_indices(len(common), k=1)
    delta = after[upper_i, upper_j] - before[upper_i, upper_j]
    valid = np.isfinite(delta)
    order = np.argsort(-np.abs(np.where(valid, delta, 0.0)), kind="stable")
    changes: list[CorrelationChange] = []
    flagged = 0
    for k in order:
        if not valid[k]:
            continue
        i, j = int(upper_i[k]), int(upper_j[k])
        d = float(delta[k])
        pvalue = stats.fisher_z_pvalue(float(before[i, j]), n_before[i, j], float(after[i, j]), n_after[i, j])
        is_flagged = abs(d) >= thresholds["correlation"] and pvalue < thresholds["correlation_pvalue"]
        flagged += is_flagged
        if len(changes) < top:
            changes.append(
                CorrelationChange(
                    common[i], common[j], float(before[i, j]), float(after[i, j]), d, is_flagged
                )
            )
    return changes, flagged


def drift_files(
    reference: str | Path,
    current: str | Path,
    *,
    columns: list[str] | None = None,
    exclude: Iterable[str] = (),
    thresholds: Mapping[str, float] | None = None,
    top_correlations: int = TOP_CORRELATIONS,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> DriftReport:
    """Drift of a current data file against a reference data file or saved profile (.json)."""
    reference, current = Path(reference), Path(current)
    t = resolve_thresholds(thresholds)
    excluded = set(exclude)
    current_header = read_header(current)
    if reference.suffix.lower() == ".json":
        reference_profile = load_profile(reference)
        wanted = [c for c in reference_profile.columns if c not in excluded]
    else:
        reference_header = read_header(reference)
        wanted = [c for c in reference_header if c not in excluded]
    if columns:
        unknown = [c for c in columns if c not in wanted]
        if unknown:
            raise DataError(f"{reference}: no column {', '.join(repr(c) for c in unknown)}")
        wanted = list(columns)
    if reference.suffix.lower() != ".json":
        reference_profile = build_profile(reference, columns=wanted, chunk_bytes=chunk_bytes)
    shared = [c for c in wanted if c in current_header]
    if not shared:
        raise DataError(f"{current}: has none of the reference's columns")
    current_profile = build_profile(
        current, columns=shared, edges_from=reference_profile, chunk_bytes=chunk_bytes
    )
    report = compare_profiles(
        reference_profile, current_profile, thresholds=t, exclude=excluded, top_correlations=top_correlations
    )
    report.new_columns = [
        c for c in current_header if c not in reference_profile.columns and c not in excluded
    ]
    if columns:
        report.new_columns = []
    report.missing_columns = [c for c in wanted if c not in current_header]
    report.reference, report.current = str(reference), str(current)
    return report


def column_drift_to_dict(column: ColumnDrift) -> dict[str, Any]:
    """{column, kind, method, score, threshold, drifted, ...extra scores} with JSON-safe numbers."""
    item: dict[str, Any] = {
        "column": column.column,
        "kind": column.kind,
        "method": column.method,
        "score": _finite(column.score),
        "threshold": column.threshold,
        "drifted": bool(column.drifted),
    }
    for key, value in column.extras.items():
        item[key] = _finite(value) if isinstance(value, float) else value
    return item


def correlation_change_to_dict(change: CorrelationChange) -> dict[str, Any]:
    return {
        "a": change.a,
        "b": change.b,
        "before": change.before,
        "after": change.after,
        "delta": change.delta,
        "flagged": change.flagged,
    }


def drift_to_dict(report: DriftReport) -> dict[str, Any]:
    """The JSON form printed by `data drift --json`."""
    return {
        "reference": {"path": report.reference, "rows": report.reference_rows},
        "current": {"path": report.current, "rows": report.current_rows},
        "drifted": report.drifted,
        "drifted_columns": report.drifted_columns,
        "compared_columns": len(report.columns),
        "share": report.share,
        "reasons": report.reasons,
        "thresholds": report.thresholds,
        "columns": [column_drift_to_dict(c) for c in report.columns],
        "correlation_changes": [correlation_change_to_dict(c) for c in report.correlation_changes],
        "flagged_correlations": report.flagged_correlations,
        "skipped": report.skipped,
        "new_columns": report.new_columns,
        "missing_columns": report.missing_columns,
    }
