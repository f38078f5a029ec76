"""The reviewed default trust list covers what stock scikit-learn estimators hold.

How the list in ``mlops_actions/domain/trusted_defaults.py`` is derived: every estimator of
``sklearn.utils.all_estimators()`` that can be built with defaults (meta-estimators get a small inner
estimator) is fitted on a small table for each task it supports, saved with skops, and
``skops.io.get_untrusted_types`` is collected. The union is reviewed by hand (scikit-learn's own internal
types, numpy and scipy containers and pure functions) and written to the module. This test runs the same
derivation and fails when an installed scikit-learn adds a type that is not in the list, naming it and the
estimator that holds it. Print the list for the installed version with
``python -m tests.unit.test_trusted_defaults``.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import pytest


def _tables() -> dict[str, tuple[Any, Any]]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 120
    X = pd.DataFrame({f"x{i}": rng.random(n) + 0.05 for i in range(4)})  # positive: NB, NMF, chi2 accept it
    signal = X["x0"] - X["x1"] + rng.normal(scale=0.2, size=n)
    return {
        "binary": (X, (signal > 0).astype(int)),
        "multiclass": (X, np.digitize(signal, [-0.2, 0.2])),
        "regression": (X, X["x0"] * 2.0 + 0.5 + rng.normal(scale=0.1, size=n)),  # positive: Gamma, Poisson
    }


def _inner(kind: str) -> Any:
    from sklearn.linear_model import LinearRegression, LogisticRegression

    return LinearRegression() if kind == "regression" else LogisticRegression(max_iter=200)


def _build(cls: type, kind: str) -> Any | None:
    """The estimator with defaults, or with a small inner estimator for meta-estimators; None when impossible."""
    for arguments in (
        {},
        {"estimator": _inner(kind)},
        {"estimators": [("a", _inner(kind)), ("b", _inner(kind))]},
    ):
        try:
            return cls(**arguments)
        except TypeError:
            continue
    return None


def untrusted_types_of_stock_estimators() -> dict[str, set[str]]:
    """skops' untrusted types of every fittable stock estimator, mapped to the estimators holding them."""
    import numpy as np
    import skops.io as sio
    from sklearn.base import is_classifier, is_regressor
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
    from sklearn.utils import all_estimators

    found: dict[str, set[str]] = {}

    def collect(name: str, estimator: Any) -> None:
        for type_name in sio.get_untrusted_types(data=sio.dumps(estimator)):
            found.setdefault(type_name, set()).add(name)

    tables = _tables()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, cls in all_estimators():
            for kind, (X, y) in tables.items():
                estimator = _build(cls, kind)
                if estimator is None:
                    break
                try:
                    if (kind == "regression" and is_classifier(estimator)) or (
                        kind != "regression" and is_regressor(estimator)
                    ):
                        continue
                    estimator.fit(X, y)
                except Exception:  # an estimator this table cannot fit (text, graphs, label-only input)
                    continue
                try:
                    collect(name, estimator)
                except Exception:  # a type skops cannot save at all (it then cannot reach a registry either)
                    continue
        X, y = tables["binary"]
        frame = X.assign(group=np.where(X["x2"] > 0.5, "a", "b"))
        columns = ColumnTransformer(
            [
                ("num", StandardScaler(), ["x0", "x1"]),
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["group"]),
            ]
        )
        collect(
            "Pipeline(ColumnTransformer, OneHotEncoder)",
            Pipeline([("prep", columns), ("clf", _inner("binary"))]).fit(frame, y),
        )
        collect(
            "FunctionTransformer(np.log1p)",
            Pipeline([("log", FunctionTransformer(np.log1p)), ("clf", _inner("binary"))]).fit(X, y),
        )
        regression_X, regression_y = tables["regression"]
        collect(
            "TransformedTargetRegressor(np.log, np.exp)",
            TransformedTargetRegressor(_inner("regression"), func=np.log, inverse_func=np.exp).fit(
                regression_X, regression_y
            ),
        )
    return found


def test_every_type_stock_estimators_hold_is_in_the_reviewed_default_list() -> None:
    pytest.importorskip("skops")
    from mlops_actions.domain.trusted_defaults import STOCK_TRUSTED_TYPES

    found = untrusted_types_of_stock_estimators()
    missing = {
        name: sorted(holders)[:3] for name, holders in found.items() if name not in STOCK_TRUSTED_TYPES
    }
    assert not missing, f"review and add to mlops_actions/domain/trusted_defaults.py: {missing}"


def test_the_default_list_trusts_nothing_that_can_run_a_command() -> None:
    from mlops_actions.domain.trusted_defaults import STOCK_TRUSTED_TYPES

    roots = {name.split(".")[0] for name in STOCK_TRUSTED_TYPES}
    assert roots <= {"sklearn", "numpy", "scipy"}, roots


if __name__ == "__main__":
    for type_name, holders in sorted(untrusted_types_of_stock_estimators().items()):
        print(f"{type_name}  # {', '.join(sorted(holders)[:3])}", file=sys.stdout)
