"""Write data/train.csv and data/eval.csv: house prices with a known structure (seeded)."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd


def houses(n, seed, start):
    rng = np.random.default_rng(seed)
    district = rng.choice(["north", "south", "east", "west"], size=n)
    area = rng.gamma(9.0, 12.0, size=n).round(1)
    rooms = np.clip((area / 25 + rng.normal(0, 1, n)).round(), 1, 12)
    lot = rng.gamma(2.0, 300.0, size=n).round()
    distance = rng.gamma(2.0, 4.0, size=n).round(2)
    built = rng.integers(1950, 2024, size=n)
    sold = np.minimum(built + rng.integers(0, 40, size=n), 2025)
    premium = pd.Series(district).map({"north": 1.25, "south": 0.9, "east": 1.0, "west": 1.1}).to_numpy()
    price = (
        premium * (2_000 * area + 8_000 * rooms + 20 * lot) * np.exp(-distance / 40)
        - 900 * (sold - built)
        + rng.normal(0, 15_000, n)
    ).round(-2)
    return pd.DataFrame(
        {
            "house_id": np.arange(start, start + n),
            "district": district,
            "area": area,
            "rooms": rooms,
            "lot": lot,
            "distance_km": distance,
            "built_year": built,
            "sold_year": sold,
            "agent_id": rng.integers(1, 40, size=n),
            "listing_note": rng.choice(["sunny", "quiet street", "needs work", "renovated"], size=n),
            "price": price,
        }
    )


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "data")
    folder.mkdir(parents=True, exist_ok=True)
    houses(3000, 1, 0).to_csv(folder / "train.csv", index=False)
    houses(1500, 2, 3000).to_csv(folder / "eval.csv", index=False)
