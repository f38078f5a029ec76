"""Feature engineering: ratio features derived from the raw loan columns, then scaling and one-hot encoding."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

NUMERIC_FEATURES = (
    "income",
    "loan_amount",
    "debt",
    "credit_history_years",
    "utilisation",
    "num_late_payments",
    "age",
)
CATEGORICAL_FEATURES = ("region", "home_ownership", "employment_type", "purpose")

# (new column, numerator column, denominator column): each ratio is added by LoanFeatures.
RATIO_FEATURES = (("loan_to_income", "loan_amount", "income"),)

# Denominators are floored at one currency unit so a zero income gives a large, finite ratio.
MIN_DENOMINATOR = 1.0


class LoanFeatures(TransformerMixin, BaseEstimator):
    """Adds ratio columns to a loan table; the input columns pass through unchanged.

    ``ratios`` is a sequence of ``(name, numerator, denominator)`` column triples.
    """

    def __init__(self, ratios: tuple[tuple[str, str, str], ...] = RATIO_FEATURES):
        self.ratios = ratios

    def fit(self, X: pd.DataFrame, y: Any = None) -> LoanFeatures:
        needed = sorted({column for _, *columns in self.ratios for column in columns})
        missing = [column for column in needed if column not in X.columns]
        if missing:
            raise ValueError(f"LoanFeatures: columns not found in the input: {', '.join(missing)}")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "feature_names_in_")
        out = X.copy()
        for name, numerator, denominator in self.ratios:
            out[name] = X[numerator].astype(float) / X[denominator].astype(float).clip(lower=MIN_DENOMINATOR)
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "feature_names_in_")
        return np.asarray([*self.feature_names_in_, *(name for name, _, _ in self.ratios)], dtype=object)


def engineered_feature_names() -> list[str]:
    """Names of the columns LoanFeatures adds."""
    return [name for name, _, _ in RATIO_FEATURES]


def build_preprocessor() -> ColumnTransformer:
    """Scale the numeric and ratio columns, one-hot encode the categorical ones; other columns are dropped."""
    return ColumnTransformer(
        [
            ("numeric", StandardScaler(), [*NUMERIC_FEATURES, *engineered_feature_names()]),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL_FEATURES)),
        ],
        remainder="drop",
    )
