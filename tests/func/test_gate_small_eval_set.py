"""A recall regression on a small medical eval set (171 rows) never goes unmentioned, whatever the docs' rule set.

The candidate ranks the rows exactly as the baseline does (ROC AUC unchanged) but its decision threshold has
moved, so it misses about 15% more of the malignant cases. Under every ``gate:`` rule set that the docs and
the README show for a binary task, the comparison ends with a failed guard rule or a warning naming recall.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from mlops_actions.domain.comparison import compare
from mlops_actions.domain.config import Config, parse_config
from mlops_actions.domain.evaluation import Scored
from mlops_actions.domain.metric_names import metrics_for_task
from mlops_actions.domain.metrics import Predictions
from mlops_actions.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
BASE_CONFIG: dict[str, Any] = {
    "version": 1,
    "model": {"name": "breast-cancer", "task": "binary"},
    "train": {"command": "true"},
    "data": {"train": "train.csv", "target": "malignant"},
    "registry": {"backend": "local", "path": ".registry"},
}
# Always judged, whether or not a document shows them: the default rule, a typical allowance on ROC AUC,
# and recall gated non-inferior.
ALWAYS: dict[str, dict[str, Any]] = {
    "default rule": {},
    "roc_auc allowed_change -0.005": {"gate": {"rules": [{"metric": "roc_auc", "allowed_change": -0.005}]}},
    "recall non-inferior": {
        "gate": {
            "rules": [
                {"metric": "roc_auc", "allowed_change": -0.005},
                {"metric": "recall", "allowed_change": -0.02, "decision": "strict"},
            ]
        }
    },
}


def yaml_blocks_with_a_gate() -> dict[str, dict[str, Any]]:
    """The ``gate`` (and ``metrics``) sections of every YAML code block in docs/*.md and README.md that
    applies to a binary task, by 'file:line'."""
    found: dict[str, dict[str, Any]] = {}
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"^```ya?ml[^\n]*\n(.*?)^```", text, flags=re.M | re.S):
            if "gate:" not in match.group(1):
                continue
            try:
                doc = yaml.safe_load(match.group(1))
            except yaml.YAMLError:
                continue
            if not isinstance(doc, dict) or not isinstance(doc.get("gate"), dict):
                continue
            if isinstance(doc.get("model"), dict) and doc["model"].get("task", "binary") != "binary":
                continue
            sections = {key: doc[key] for key in ("gate", "metrics") if isinstance(doc.get(key), dict)}
            if _applies_to_binary(sections):
                line = text.count("\n", 0, match.start()) + 1
                found[f"{path.relative_to(REPO)}:{line}"] = sections
    return found


def _applies_to_binary(sections: dict[str, Any]) -> bool:
    binary = set(metrics_for_task("binary"))
    metrics = sections.get("metrics", {})
    named = [r.get("metric") for r in sections["gate"].get("rules") or [] if isinstance(r, dict)]
    named += [metrics.get("primary")] if metrics.get("primary") else []
    named += list(metrics.get("others") or [])
    return all(name in binary for name in named)


def rule_sets() -> dict[str, dict[str, Any]]:
    return {**ALWAYS, **yaml_blocks_with_a_gate()}


def config_for(sections: dict[str, Any], folder: Path) -> Config | None:
    """The base config with these sections; None when the block is not a complete section of its own."""
    try:
        return parse_config({**BASE_CONFIG, **sections}, folder / "mlops.yaml")
    except ConfigError:
        return None


@pytest.fixture(scope="module")
def models() -> tuple[Scored, Scored]:
    """(candidate, baseline) logistic models on a 30% split of the breast-cancer data: 171 eval rows."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, benign = load_breast_cancer(return_X_y=True)
    malignant = 1 - benign
    x_train, x_eval, y_train, y_eval = train_test_split(
        features, malignant, test_size=0.3, random_state=0, stratify=malignant
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x_train, y_train)
    logit = model.decision_function(x_eval)
    baseline_scores = 1 / (1 + np.exp(-logit))

    def recall(scores: np.ndarray) -> float:
        return float(np.mean(scores[y_eval == 1] > 0.5))

    # the smallest shift of the decision threshold that costs 15 points of recall; the ranking is unchanged
    shift = next(
        s
        for s in np.arange(0.0, 20.0, 0.05)
        if recall(baseline_scores) - recall(1 / (1 + np.exp(s - logit))) >= 0.15
    )
    candidate_scores = 1 / (1 + np.exp(shift - logit))

    def scored(scores: np.ndarray) -> Scored:
        return Scored(
            task="binary",
            classes=[0, 1],
            row_keys=np.arange(len(y_eval)),
            y_true=y_eval.astype(np.int64),
            predictions=Predictions(labels=(scores > 0.5).astype(np.int64), scores=scores),
        )

    return scored(candidate_scores), scored(baseline_scores)


def test_the_case_is_a_171_row_eval_set_with_a_recall_drop_and_an_unchanged_ranking(
    models: tuple[Scored, Scored], tmp_path: Path
) -> None:
    candidate, baseline = models
    config = config_for({}, tmp_path)
    assert config is not None and candidate.rows == 171
    rows = {row["name"]: row for row in compare(candidate, baseline, config).metrics}
    assert -0.2 <= rows["recall"]["delta"] <= -0.14
    assert rows["roc_auc"]["delta"] >= -0.005


def test_the_default_rule_passes_but_warns_about_recall(
    models: tuple[Scored, Scored], tmp_path: Path
) -> None:
    config = config_for({}, tmp_path)
    assert config is not None
    comparison = compare(*models, config)
    assert comparison.passed
    assert any(
        re.fullmatch(r"recall −0\.1\d\d \[−0\.\d{3}, −0\.\d{3}\], not gated", w) for w in comparison.warnings
    )


@pytest.mark.parametrize("name", sorted(rule_sets()))
def test_every_documented_rule_set_fails_a_guard_or_warns_about_recall(
    name: str, models: tuple[Scored, Scored], tmp_path: Path
) -> None:
    config = config_for(rule_sets()[name], tmp_path)
    if config is None:
        pytest.skip(f"{name}: not a complete gate section on its own")
    comparison = compare(*models, config)
    failed_guards = [
        r
        for r in comparison.gate.rules
        if r["status"] == "fail" and (r["metric"] != config.primary_metric or r["metric"] == "recall")
    ]
    recall_warnings = [w for w in comparison.warnings if w.split()[0] == "recall"]
    assert failed_guards or recall_warnings, (name, comparison.gate.reasons, comparison.warnings)
