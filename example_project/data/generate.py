"""Generate the loan tables data/train.csv and data/eval.csv (synthetic, deterministic, no downloads).

Run ``python data/generate.py`` from the project root to rewrite the committed files; the same seed gives the
same bytes. The default risk is a logistic function of the borrower's situation in which:

- the debt-to-income ratio (debt / income) is the strongest driver. Raw debt and raw income, each scaled on its
  own, describe it poorly because incomes span a wide range, so a model that sees the ratio ranks borrowers
  clearly better;
- in region ``east`` late payments are common (about 2.5 per borrower against 0.25 elsewhere) and carry much
  of the risk there, so a change that loses the late-payment signal hurts that region most.

Both tables come from one stream of 12,000 loans: the first 8,000 rows are the training table, the rest the
evaluation table.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SEED = 20240611
TRAIN_ROWS = 8_000
EVAL_ROWS = 4_000
TARGET = "defaulted"

REGIONS = ("north", "south", "east", "west", "central")
REGION_SHARES = (0.22, 0.24, 0.18, 0.20, 0.16)
HOME_OWNERSHIP = ("rent", "mortgage", "own")
HOME_SHARES = (0.42, 0.40, 0.18)
EMPLOYMENT_TYPES = ("employed", "self_employed", "contract", "retired")
EMPLOYMENT_SHARES = (0.66, 0.14, 0.13, 0.07)
PURPOSES = ("debt_consolidation", "home_improvement", "car", "education", "other")
PURPOSE_SHARES = (0.36, 0.20, 0.20, 0.08, 0.16)

COLUMNS = (
    "loan_id",
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
    TARGET,
)


def generate_loans(n_rows: int, seed: int = SEED) -> dict[str, np.ndarray]:
    """Columns of ``n_rows`` synthetic loans (see the module docstring for how default risk is made)."""
    rng = np.random.default_rng(seed)
    region = rng.choice(np.array(REGIONS), size=n_rows, p=REGION_SHARES)
    east = region == "east"
    age = np.clip(np.round(rng.normal(41.0, 11.0, n_rows)), 21, 75).astype(np.int64)
    history_years = np.round(np.minimum(rng.gamma(3.0, 3.0, n_rows), age - 18), 1)
    income = np.maximum(np.round(np.exp(rng.normal(np.log(48_000.0), 0.6, n_rows)) / 100) * 100, 8_000)
    debt_to_income = rng.beta(2.2, 4.5, n_rows) * 1.1
    debt = np.round(debt_to_income * income / 10) * 10
    loan_to_income = np.clip(rng.lognormal(np.log(0.22), 0.55, n_rows), 0.02, 1.5)
    loan_amount = np.maximum(np.round(loan_to_income * income / 250) * 250, 250)
    utilisation = np.round(rng.beta(2.0, 3.5, n_rows), 3)
    late_payments = np.where(east, rng.poisson(2.5, n_rows), rng.poisson(0.25, n_rows)).astype(np.int64)
    home = rng.choice(np.array(HOME_OWNERSHIP), size=n_rows, p=HOME_SHARES)
    employment = rng.choice(np.array(EMPLOYMENT_TYPES), size=n_rows, p=EMPLOYMENT_SHARES)
    purpose = rng.choice(np.array(PURPOSES), size=n_rows, p=PURPOSE_SHARES)

    logit = (
        -2.5
        + 8.0 * (debt / income - 0.35)
        + 0.7 * late_payments
        + 1.2 * (utilisation - 0.36)
        - 0.035 * (history_years - 9.0)
        + 0.9 * (loan_amount / income - 0.25)
        - 0.012 * (age - 41)
        + 0.35 * (home == "rent")
        - 0.2 * (home == "own")
        + 0.35 * (employment == "self_employed")
        + 0.25 * (employment == "contract")
        + 0.2 * (purpose == "debt_consolidation")
        - 1.2 * east
    )
    probability = 1.0 / (1.0 + np.exp(-logit))
    defaulted = (rng.random(n_rows) < probability).astype(np.int64)
    return {
        "loan_id": np.array([f"L{i:06d}" for i in range(1, n_rows + 1)]),
        "age": age,
        "income": income.astype(np.int64),
        "loan_amount": loan_amount.astype(np.int64),
        "debt": debt.astype(np.int64),
        "credit_history_years": history_years,
        "utilisation": utilisation,
        "num_late_payments": late_payments,
        "region": region,
        "home_ownership": home,
        "employment_type": employment,
        "purpose": purpose,
        TARGET: defaulted,
    }


def _format_column(name: str, values: np.ndarray) -> list[str]:
    if name == "credit_history_years":
        return [f"{v:.1f}" for v in values]
    if name == "utilisation":
        return [f"{v:.3f}" for v in values]
    return [str(v) for v in values.tolist()]


def to_csv_text(columns: dict[str, np.ndarray], rows: slice) -> str:
    """CSV text (header + rows, LF line ends) with fixed number formats, so the bytes never vary."""
    cells = [_format_column(name, columns[name][rows]) for name in COLUMNS]
    lines = [",".join(COLUMNS), *(",".join(row) for row in zip(*cells, strict=True))]
    return "\n".join(lines) + "\n"


def write_datasets(out_dir: Path, seed: int = SEED) -> list[Path]:
    """Write train.csv and eval.csv into ``out_dir``; return their paths."""
    columns = generate_loans(TRAIN_ROWS + EVAL_ROWS, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in (("train.csv", slice(0, TRAIN_ROWS)), ("eval.csv", slice(TRAIN_ROWS, None))):
        path = out_dir / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_bytes(to_csv_text(columns, rows).encode("utf-8"))
        tmp.replace(path)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="folder to write train.csv and eval.csv into (default: this script's folder)",
    )
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default: {SEED})")
    args = parser.parse_args(argv)
    for path in write_datasets(args.out_dir, args.seed):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
