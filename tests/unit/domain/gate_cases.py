"""Shared builders of the gate's tests: a binary config, binormal models, metric rows with bootstrap deltas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mlops_actions.domain.config import Config, parse_config
from mlops_actions.domain.evaluation import Scored
from mlops_actions.domain.gate import BOOTSTRAP_DELTAS
from mlops_actions.domain.metric_names import METRICS, metrics_for_task
from mlops_actions.domain.metrics import Predictions

BINARY_METRICS = metrics_for_task("binary")


def binary_config(
    gate: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None, folder: Path = Path("/project")
) -> Config:
    """A validated binary-classification config with these ``gate`` and ``metrics`` sections."""
    doc: dict[str, Any] = {
        "version": 1,
        "model": {"name": "m", "task": "binary"},
        "train": {"command": "true"},
        "data": {"train": "train.csv", "target": "y"},
        "registry": {"backend": "local", "path": ".registry"},
    }
    if gate is not None:
        doc["gate"] = gate
    if metrics is not None:
        doc["metrics"] = metrics
    return parse_config(doc, folder / "mlops.yaml")


def rule_on_every_metric(**extra: Any) -> list[dict[str, Any]]:
    return [{"metric": name, "allowed_change": 0.0, **extra} for name in BINARY_METRICS]


def binormal_pair(
    rows: int,
    rng: np.random.Generator,
    *,
    correlation: float = 0.7,
    separation: float = 1.5,
    shift: float = 0.0,
) -> tuple[Scored, Scored]:
    """Candidate and baseline of equal quality (binormal scores whose noises correlate), on the same rows.

    ``shift`` moves the candidate's separation: negative makes the candidate worse.
    """
    y = (rng.random(rows) < 0.4).astype(np.int64)
    common = rng.normal(size=rows)
    own = rng.normal(size=(2, rows))
    noise = correlation**0.5 * common + (1 - correlation) ** 0.5 * own
    signal = np.where(y == 1, 1.0, -1.0)
    models = []
    for k, extra in enumerate((shift, 0.0)):
        logit = (separation + extra) * signal + noise[k] * 1.5
        scores = 1 / (1 + np.exp(-logit))
        models.append(
            Scored(
                task="binary",
                classes=[0, 1],
                row_keys=np.arange(rows),
                y_true=y,
                predictions=Predictions(labels=(scores > 0.5).astype(np.int64), scores=scores),
            )
        )
    return models[0], models[1]


def sampled_row(
    name: str, delta: float, se: float, *, baseline: float = 0.8, resamples: int = 4000, seed: int = 0
) -> dict[str, Any]:
    """A metric row whose bootstrap deltas are normal around ``delta``; its interval is their 95% percentiles."""
    deltas = delta + se * np.random.default_rng(seed).standard_normal(resamples)
    low, high = np.percentile(deltas, [2.5, 97.5])
    return {
        "name": name,
        "higher_is_better": METRICS[name].higher_is_better,
        "baseline": baseline,
        "candidate": baseline + delta,
        "delta": delta,
        "ci_low": float(low),
        "ci_high": float(high),
        "se": float(np.std(deltas, ddof=1)),
        BOOTSTRAP_DELTAS: deltas,
    }
