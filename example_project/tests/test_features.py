"""Unit tests of the feature engineering in credit_model.features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline

from credit_model.features import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    LoanFeatures,
    build_preprocessor,
    engineered_feature_names,
)


@pytest.fixture
def loans() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [25, 40, 58, 33],
            "income": [30_000, 60_000, 0, 45_000],
            "loan_amount": [6_000, 15_000, 2_500, 9_000],
            "debt": [12_000, 9_000, 4_000, 22_500],
            "credit_history_years": [2.5, 15.0, 30.0, 8.1],
            "utilisation": [0.8, 0.2, 0.05, 0.5],
            "num_late_payments": [3, 0, 0, 1],
            "region": ["east", "north", "south", "west"],
            "home_ownership": ["rent", "mortgage", "own", "rent"],
            "employment_type": ["contract", "employed", "retired", "self_employed"],
            "purpose": ["car", "debt_consolidation", "other", "education"],
        }
    )


def test_loan_to_income_is_loan_amount_over_income(loans):
    out = LoanFeatures().fit(loans).transform(loans)
    assert out["loan_to_income"][[0, 1, 3]].tolist() == pytest.approx([0.2, 0.25, 0.2])


def test_zero_income_gives_a_large_finite_ratio(loans):
    out = LoanFeatures().fit(loans).transform(loans)
    assert out.loc[2, "loan_to_income"] == pytest.approx(2_500.0)


def test_every_input_column_is_kept(loans):
    out = LoanFeatures().fit(loans).transform(loans)
    assert list(out.columns) == [*loans.columns, *engineered_feature_names()]
    assert len(out) == len(loans)


def test_transform_does_not_modify_its_input(loans):
    before = loans.copy()
    LoanFeatures().fit(loans).transform(loans)
    pd.testing.assert_frame_equal(loans, before)


def test_feature_names_out_are_the_inputs_then_the_ratios(loans):
    features = LoanFeatures().fit(loans)
    assert list(features.get_feature_names_out()) == list(features.transform(loans).columns)


def test_missing_ratio_column_is_named_in_the_error(loans):
    with pytest.raises(ValueError, match="columns not found in the input: income"):
        LoanFeatures().fit(loans.drop(columns=["income"]))


def test_transform_before_fit_is_refused(loans):
    with pytest.raises(NotFittedError):
        LoanFeatures().transform(loans)


def test_preprocessor_scales_numeric_columns_and_encodes_each_category(loans):
    pipeline = make_pipeline(LoanFeatures(), build_preprocessor())
    matrix = pipeline.fit_transform(loans)
    numeric_count = len(NUMERIC_FEATURES) + len(engineered_feature_names())
    category_count = sum(loans[column].nunique() for column in CATEGORICAL_FEATURES)
    assert matrix.shape == (len(loans), numeric_count + category_count)
    assert np.isfinite(matrix).all()
    assert matrix[:, :numeric_count].mean(axis=0) == pytest.approx(np.zeros(numeric_count), abs=1e-9)


def test_unknown_category_is_encoded_as_no_category(loans):
    pipeline = make_pipeline(LoanFeatures(), build_preprocessor()).fit(loans)
    unseen = loans.head(1).assign(region="atlantis")
    encoded = pipeline.transform(unseen)
    region_names = [
        name for name in pipeline.get_feature_names_out() if name.startswith("categorical__region_")
    ]
    region_columns = [list(pipeline.get_feature_names_out()).index(name) for name in region_names]
    assert encoded[0, region_columns].sum() == 0
