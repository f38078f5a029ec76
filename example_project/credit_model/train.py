"""Training entrypoint called by mlops-actions (``train.entrypoint`` in mlops.yaml)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from credit_model.features import RATIO_FEATURES, LoanFeatures, build_preprocessor

DEFAULT_PARAMS: dict[str, Any] = {"C": 1.0, "max_iter": 1000}


def build_pipeline(params: dict[str, Any]) -> Pipeline:
    """The unfitted pipeline: ratio features, scaling and encoding, logistic regression."""
    unknown = sorted(set(params) - set(DEFAULT_PARAMS))
    if unknown:
        raise ValueError(
            f"unknown training params: {', '.join(unknown)}; expected some of {', '.join(DEFAULT_PARAMS)}"
        )
    settings = {**DEFAULT_PARAMS, **params}
    model = LogisticRegression(C=float(settings["C"]), max_iter=int(settings["max_iter"]), random_state=0)
    return Pipeline(
        [
            ("features", LoanFeatures(ratios=RATIO_FEATURES)),
            ("preprocess", build_preprocessor()),
            ("model", model),
        ]
    )


def train_model(X: pd.DataFrame, y: pd.Series, params: dict[str, Any]) -> Pipeline:
    """Fit the credit-default pipeline on the loan table ``X`` and the 0/1 target ``y``."""
    return build_pipeline(params).fit(X, y)
