"""Leakage guard: associations with the target by feature and target kind."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from mlops_actions.domain.data.chunks import scan_frame
from mlops_actions.domain.data.leakage import LeakageCollector, leakage_summary


def associations(frame: pd.DataFrame, target: str, exclude=(), chunk_rows=1000):
    collector = LeakageCollector(target, exclude=tuple(exclude))
    scan_frame(frame, [collector], chunk_rows=chunk_rows)
    return {a.column: a for a in collector.finish()}


def classification_frame(rows: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    label = rng.integers(0, 2, rows)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(rows)],
            "noise": rng.normal(size=rows),
            "weak": label * 0.3 + rng.normal(size=rows),
            "leak": label + rng.normal(0, 0.01, rows),
            "leak_text": np.where(label == 1, "yes", "no"),
            "colour": rng.choice(["red", "blue", "green"], rows),
            "label": label,
        }
    )


def test_binary_target_point_biserial_matches_scipy():
    data = classification_frame()
    found = associations(data, "label", exclude=["customer_id"])
    expected = abs(scipy_stats.pointbiserialr(data["label"], data["weak"]).statistic)
    assert found["weak"].method == "point_biserial"
    assert found["weak"].association == pytest.approx(expected, rel=1e-9)


def test_leaky_features_are_flagged_and_honest_ones_are_not():
    found = associations(classification_frame(), "label", exclude=["customer_id"])
    summary = leakage_summary(list(found.values()), 0.95, "label")
    assert summary["status"] == "warn"
    assert {item["column"] for item in summary["flagged"]} == {"leak", "leak_text"}
    assert found["leak_text"].method == "cramers_v"
    assert found["noise"].association < 0.1 and found["colour"].association < 0.1


def test_id_and_target_are_never_features():
    found = associations(classification_frame(), "label", exclude=["customer_id"])
    assert "customer_id" not in found and "label" not in found


def test_an_id_like_category_does_not_look_leaky():
    data = classification_frame(800)
    data["row_code"] = [f"r{i}" for i in range(800)]
    found = associations(data, "label", exclude=["customer_id"])
    assert found["row_code"].association == pytest.approx(0.0, abs=0.05)


def test_numeric_target_uses_pearson_and_correlation_ratio():
    rng = np.random.default_rng(1)
    rows = 2000
    group = rng.choice(["a", "b", "c"], rows)
    x = rng.normal(size=rows)
    y = 2 * x + np.select([group == "a", group == "b"], [0.0, 1.0], 2.0) + rng.normal(0, 0.1, rows)
    data = pd.DataFrame({"x": x, "group": group, "price": y})
    found = associations(data, "price")
    assert found["x"].method == "pearson"
    assert found["x"].association == pytest.approx(abs(np.corrcoef(x, y)[0, 1]), rel=1e-9)
    assert found["group"].method == "correlation_ratio"
    assert 0.2 < found["group"].association < 0.6


def test_multiclass_target_uses_correlation_ratio_for_numbers():
    rng = np.random.default_rng(2)
    species = rng.integers(0, 3, 3000)
    data = pd.DataFrame({"petal": species * 10 + rng.normal(0, 0.1, 3000), "other": rng.normal(size=3000)})
    data["species"] = species
    found = associations(data, "species")
    assert found["petal"].method == "correlation_ratio"
    assert found["petal"].association > 0.99
    assert found["other"].association < 0.05


def test_chunking_does_not_change_associations():
    data = classification_frame(1500)
    one = associations(data, "label", exclude=["customer_id"], chunk_rows=5000)
    many = associations(data, "label", exclude=["customer_id"], chunk_rows=97)
    for name, association in one.items():
        assert many[name].association == pytest.approx(association.association, rel=1e-12)


def test_rows_with_missing_target_or_feature_are_left_out():
    data = classification_frame(1000)
    data.loc[:99, "label"] = np.nan
    data.loc[100:199, "weak"] = np.nan
    found = associations(data, "label", exclude=["customer_id"])
    present = data.dropna(subset=["label", "weak"])
    expected = abs(np.corrcoef(present["weak"], present["label"])[0, 1])
    assert found["weak"].association == pytest.approx(expected, rel=1e-9)
