"""False-flag and miss rates of the monitor's input-drift verdict, by window size, with and without its gate.

Windows are drawn (with replacement) from the example project's training data, whose profile is the
reference, so a healthy window has exactly the training distribution. A drifted window has one change
(a mean shift, a wider spread, a changed category mix, a new category). Each window is profiled on the
reference's bins and judged by ``monitoring/checks.py::gated_verdicts`` under four gates:

- ``none``: the data checks' per-column verdict (a KS / chi-squared test at 5% when a side has at most 1000
  values, else PSI >= 0.2 / Jensen-Shannon >= 0.1);
- ``holm 5%``: the tests corrected for their number (Holm, family-wise level 5%), no least drift measure;
- ``holm 5% + effect``: the same, and the drift measure less its noise level must also reach the
  large-sample threshold (PSI >= 0.2, Jensen-Shannon >= 0.1);
- ``holm 1%`` and ``holm 1% + effect`` (the monitor's default): the same at the family-wise level 1%.

Printed per size: the share of healthy windows with any false flag, the share of healthy features flagged,
and per drift kind the share of windows where the drifted feature was missed.

    .venv/bin/python benchmarks/bench_drift_gating.py                      # 400 windows a size and kind
    .venv/bin/python benchmarks/bench_drift_gating.py --windows 100 --sizes 100,1000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

TRAIN = Path(__file__).resolve().parents[1] / "example_project" / "data" / "train.csv"
SIZES = (100, 300, 1000, 3000, 10_000, 100_000)
DRIFTS = {  # kind -> (feature, description)
    "mean": ("age", "age + 0.75 sd"),
    "small mean": ("age", "age + 0.25 sd"),
    "spread": ("loan_amount", "loan_amount spread x 1.5 about its mean"),
    "mix": ("home_ownership", "40% of home_ownership set to rent"),
    "new category": ("region", "5% of region an unseen value"),
}


def drifted(frame, kind: str, train, rng):
    """The window with one change of ``kind`` (None: healthy)."""

    n = len(frame)
    if kind == "mean":
        frame["age"] = frame["age"] + 0.75 * train["age"].std()
    elif kind == "small mean":
        frame["age"] = frame["age"] + 0.25 * train["age"].std()
    elif kind == "spread":
        mean = train["loan_amount"].mean()
        frame["loan_amount"] = mean + 1.5 * (frame["loan_amount"] - mean)
    elif kind == "mix":
        frame.loc[rng.random(n) < 0.4, "home_ownership"] = "rent"
    elif kind == "new category":
        frame.loc[rng.choice(n, size=max(1, n // 20), replace=False), "region"] = "atlantis"
    return frame


def main() -> None:
    import numpy as np
    import pandas as pd

    from mlops_actions.domain.data.drift import compare_profiles, resolve_thresholds
    from mlops_actions.domain.data.profile import profile_frame
    from mlops_actions.monitoring.checks import NO_GATE, DriftGate, gated_verdicts

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=400, help="windows per size and kind")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    gates = {
        "none": NO_GATE,
        "holm 5%": DriftGate(level=0.05, min_psi=0.0, min_jensenshannon=0.0),
        "holm 5% + effect": DriftGate(level=0.05),
        "holm 1%": DriftGate(min_psi=0.0, min_jensenshannon=0.0),
        "holm 1% + effect": DriftGate(),
    }
    train = pd.read_csv(TRAIN).drop(columns=["loan_id", "defaulted"])
    reference = profile_frame(train, correlation=False)
    thresholds = resolve_thresholds(None)
    rng = np.random.default_rng(args.seed)
    began = time.perf_counter()
    print(f"{len(train.columns)} features; {args.windows} windows per size and kind; seed {args.seed}")
    header = "| rows | gate | healthy windows with a false flag | healthy features flagged | " + " | ".join(
        f"missed: {DRIFTS[k][1]}" for k in DRIFTS
    )
    print(header + " |")
    print("|" + "---|" * (4 + len(DRIFTS)))
    for size in (int(s) for s in args.sizes.split(",")):
        windows = max(20, args.windows if size <= 10_000 else args.windows // 10)
        any_flag = {g: 0 for g in gates}
        features = {g: 0 for g in gates}
        compared = 0
        missed = {g: dict.fromkeys(DRIFTS, 0) for g in gates}
        for kind in (None, *DRIFTS):
            for _ in range(windows):
                frame = train.sample(n=size, replace=True, random_state=int(rng.integers(1 << 30)))
                frame = frame.reset_index(drop=True)
                if kind is not None:
                    frame = drifted(frame, kind, train, rng)
                current = profile_frame(frame, edges_from=reference, correlation=False)
                report = compare_profiles(reference, current, thresholds=thresholds)
                for name, gate in gates.items():
                    verdicts = gated_verdicts(report, thresholds, gate, reference, current)
                    flagged = {c for c, v in verdicts.items() if v["drifted"]}
                    if kind is None:
                        any_flag[name] += bool(flagged)
                        features[name] += len(flagged)
                    else:
                        missed[name][kind] += DRIFTS[kind][0] not in flagged
                if kind is None:
                    compared += len(report.columns)
        for name in gates:
            cells = [
                f"{size:,}",
                name,
                f"{any_flag[name] / windows:.1%}",
                f"{features[name] / compared:.2%}",
                *(f"{missed[name][k] / windows:.0%}" for k in DRIFTS),
            ]
            print("| " + " | ".join(cells) + " |", flush=True)
    print(f"({time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
