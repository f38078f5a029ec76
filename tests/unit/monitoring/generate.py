"""Production logs with known truth, from the example project's training data.

Hour-long windows of rows sampled from ``example_project/data/train.csv``, with made-up model outputs
(``P(default) ~ Beta(2, 5)``, the prediction its 0.5 cut) so that outputs change only where a window says so.
Each window states exactly what the monitor must flag in it, check by check (``expected``): the columns of
each failing check, and nothing for the others. The same rows are written in the server's JSON Lines format
(by the server's own writer), and as flat CSV and Parquet files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "example_project"
TRAIN = EXAMPLE / "data" / "train.csv"
CONFIG = EXAMPLE / "mlops.yaml"
START = "2026-11-30T00:00:00Z"
ROWS = 1200  # above the drift measures' small_sample (1000): PSI and Jensen-Shannon decide
FEATURES = [
    "age",
    "income",
    "loan_amount",
    "debt",
    "credit_history_years",
    "utilisation",
    "num_late_payments",
    "region",
    "home_ownership",
    "employment_type",
    "purpose",
]
OUTPUTS = ["prediction", "proba_0", "proba_1"]


@dataclass(frozen=True)
class Scenario:
    """One window: what is done to it, and what the monitor must say (check -> (status, columns))."""

    name: str
    rows: int = ROWS
    expected: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)


def _fail(*columns: str) -> tuple[str, frozenset[str]]:
    return ("fail", frozenset(columns))


SCENARIOS = (
    Scenario("clean"),  # the baseline window of the outputs
    Scenario("clean"),
    Scenario("utilisation shifted to its upper half", expected={"input_drift": _fail("utilisation")}),
    Scenario("3% NaN outputs", expected={"stability": _fail()}),
    Scenario("4% of income above three times the trained maximum", expected={"range": _fail("income")}),
    # a 5% new category is also a change of the region's distribution (Jensen-Shannon about 0.16 >= 0.1)
    Scenario("5% unseen region", expected={"schema": _fail("region"), "input_drift": _fail("region")}),
    Scenario("purpose missing", expected={"schema": _fail("purpose")}),
    Scenario("new column promo_code", expected={"schema": ("warn", frozenset({"promo_code"}))}),
    Scenario("outputs ~ Beta(5, 2)", expected={"prediction_drift": _fail(*OUTPUTS)}),
    Scenario("constant output", expected={"stability": _fail(), "prediction_drift": _fail(*OUTPUTS)}),
    Scenario("clean"),
    Scenario(
        "too few rows",
        rows=50,
        expected={
            c: ("insufficient", frozenset())
            for c in ("stability", "schema", "range", "input_drift", "prediction_drift")
        },
    ),
)
CHECKS = ("stability", "schema", "range", "input_drift", "prediction_drift")

# Drift of several kinds, and healthy windows of many sizes, on both sides of small_sample (1000): small
# windows are judged by tests, which flag noise unless gated (checks.py::gated_verdicts).
HEALTHY_SIZES = (100, 150, 300, 600, 1000, 2500, 10_000)
VARIED = (
    Scenario("clean"),  # the baseline window of the outputs
    *(Scenario("clean", rows=n) for n in HEALTHY_SIZES),
    Scenario(
        "age tilted upward (mean + 0.6 sd, within the trained range)", expected={"input_drift": _fail("age")}
    ),
    Scenario(
        "debt from its outer quartiles (wider spread, same range)", expected={"input_drift": _fail("debt")}
    ),
    Scenario("home_ownership 65% rent", expected={"input_drift": _fail("home_ownership")}),
    Scenario("8% new purpose", expected={"schema": _fail("purpose"), "input_drift": _fail("purpose")}),
    Scenario("3% NaN outputs", rows=400, expected={"stability": _fail()}),
    Scenario(
        "3% of loan_amount below the trained minimum", rows=400, expected={"range": _fail("loan_amount")}
    ),
    Scenario(
        "utilisation shifted to its upper half", rows=300, expected={"input_drift": _fail("utilisation")}
    ),
    Scenario("home_ownership 80% rent", rows=300, expected={"input_drift": _fail("home_ownership")}),
    Scenario("outputs ~ Beta(5, 2)", rows=300, expected={"prediction_drift": _fail(*OUTPUTS)}),
    Scenario("clean", rows=5000),
)


def healthy(sizes: tuple[int, ...] = HEALTHY_SIZES) -> tuple[Scenario, ...]:
    """Healthy windows only: a baseline window, then one of each size."""
    return (Scenario("clean"), *(Scenario("clean", rows=n) for n in sizes))


def expected(scenario: Scenario, check: str) -> tuple[str, frozenset[str]]:
    return scenario.expected.get(check, ("ok", frozenset()))


def generate_rows(seed: int = 11, scenarios: tuple[Scenario, ...] = SCENARIOS) -> Any:
    """One DataFrame of every window's rows, in time order: features, outputs, time, request_id, loan_id."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    train = pd.read_csv(TRAIN)
    start = pd.Timestamp(START)
    frames = []
    for index, scenario in enumerate(scenarios):
        n = scenario.rows
        rows = train.sample(n=n, replace=True, random_state=int(rng.integers(1 << 30))).reset_index(drop=True)
        rows = rows.drop(columns=["defaulted"])
        p1 = rng.beta(2, 5, size=n)
        if scenario.name.startswith("utilisation"):
            upper = train["utilisation"][train["utilisation"] >= train["utilisation"].median()].to_numpy()
            rows["utilisation"] = rng.choice(upper, size=n)
        elif scenario.name.startswith("age tilted"):
            ages = train["age"].to_numpy(dtype=float)
            weights = np.exp(0.6 * (ages - ages.mean()) / ages.std())
            rows["age"] = rng.choice(ages, size=n, p=weights / weights.sum()).astype(int)
        elif scenario.name.startswith("debt from"):
            debt = train["debt"]
            outer = debt[(debt < debt.quantile(0.25)) | (debt > debt.quantile(0.75))].to_numpy()
            rows["debt"] = rng.choice(outer, size=n)
        elif scenario.name.startswith("home_ownership"):
            share = int(scenario.name.split()[1].rstrip("%")) / 100
            rows["home_ownership"] = np.where(
                rng.random(n) < share, "rent", rng.choice(["mortgage", "own"], n, p=[0.7, 0.3])
            )
        elif scenario.name.startswith("8% new purpose"):
            chosen = rng.choice(n, size=int(0.08 * n), replace=False)
            rows.loc[chosen, "purpose"] = "crypto"
        elif scenario.name.startswith("3% of loan_amount"):
            chosen = rng.choice(n, size=int(0.03 * n), replace=False)
            rows.loc[chosen, "loan_amount"] = train["loan_amount"].min() / 2
        elif scenario.name.startswith("4% of income"):
            chosen = rng.choice(n, size=int(0.04 * n), replace=False)
            rows.loc[chosen, "income"] = 3 * train["income"].max()
        elif scenario.name.startswith("5% unseen"):
            chosen = rng.choice(n, size=int(0.05 * n), replace=False)
            rows.loc[chosen, "region"] = "atlantis"
        elif scenario.name == "purpose missing":
            rows["purpose"] = None
        elif scenario.name.startswith("new column"):
            rows["promo_code"] = "SPRING"
        elif scenario.name.startswith("outputs"):
            p1 = rng.beta(5, 2, size=n)
        elif scenario.name == "constant output":
            p1 = np.full(n, 0.3)
        probabilities = np.column_stack([1 - p1, p1])
        prediction = (p1 >= 0.5).astype(int)
        if scenario.name.startswith("3% NaN"):
            chosen = rng.choice(n, size=int(0.03 * n), replace=False)
            probabilities[chosen] = np.nan
            prediction[chosen] = 0  # the server's argmax of NaN probabilities: the first class
        offsets = np.sort(rng.uniform(0, 3600, size=n))
        rows["time"] = start + pd.Timedelta(hours=index) + pd.to_timedelta(offsets, unit="s")
        rows["request_id"] = [f"w{index:02d}-{i:05d}" for i in range(n)]
        rows["prediction"] = prediction
        rows["proba_0"], rows["proba_1"] = probabilities[:, 0], probabilities[:, 1]
        frames.append(rows)
    frame = pd.concat(frames, ignore_index=True)
    if "promo_code" not in frame:
        frame["promo_code"] = None
    return frame


def write_jsonl(frame: Any, path: Path) -> Path:
    """The rows as the server logs them (its own writer), one request per row."""
    import pandas as pd

    from mlops_actions.serving.prediction_log import LoggedRequest, record_lines

    with open(path, "w", encoding="utf-8") as handle:
        for row in frame.to_dict(orient="records"):
            columns = {
                name: [None if _missing(row[name]) else _plain(row[name])]
                for name in ["loan_id", *FEATURES, "promo_code"]
                if not (name in ("purpose", "promo_code") and _missing(row[name]))
            }
            entry = LoggedRequest(
                time=pd.Timestamp(row["time"]).timestamp(),
                request_id=row["request_id"],
                model="credit-default",
                version="1.0.0",
                columns=columns,
                predictions=[int(row["prediction"])],
                probabilities=[[float(row["proba_0"]), float(row["proba_1"])]],
                classes=[0, 1],
                latency_s=0.004,
                rows=1,
            )
            handle.write(record_lines(entry))
    return path


def write_flat(frame: Any, path: Path) -> Path:
    """The rows as flat columns, CSV or Parquet by the suffix (times as ISO text in CSV)."""
    flat = frame.copy()
    if path.suffix == ".csv":
        flat["time"] = flat["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        flat.to_csv(path, index=False)
    else:
        flat.to_parquet(path, index=False, row_group_size=4000)
    return path


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def generate_labels(frame: Any, seed: int = 5) -> Any:
    """The true labels of the generated rows (request_id, loan_id, defaulted), drawn from the outputs'
    P(default) itself, so the logged scores are calibrated; rows without a finite score get none."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    p1 = frame["proba_1"].to_numpy(dtype=float)
    known = np.isfinite(p1)
    labels = (rng.random(len(frame)) < np.where(known, p1, 0.0)).astype(int)
    return pd.DataFrame(
        {"request_id": frame["request_id"], "loan_id": frame["loan_id"], "defaulted": labels}
    ).loc[known]
