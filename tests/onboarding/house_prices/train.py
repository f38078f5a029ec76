"""Train the house-price model: python train.py --train TRAIN --out MODEL --params PARAMS."""

import argparse
import json

import pandas as pd
import skops.io as sio
from house_features import age_at_sale
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

NUMERIC = ["area", "rooms", "lot", "distance_km"]


def build(params):
    numeric = [c for c in NUMERIC if c not in params.get("drop", [])]
    columns = ColumnTransformer(
        [
            ("numeric", "passthrough", numeric),
            ("age", FunctionTransformer(age_at_sale), ["sold_year", "built_year"]),
            ("district", OneHotEncoder(handle_unknown="ignore"), ["district"]),
        ]
    )
    boosting = HistGradientBoostingRegressor(
        max_iter=params.get("max_iter", 150), learning_rate=params.get("learning_rate", 0.1), random_state=0
    )
    return Pipeline([("columns", columns), ("boosting", boosting)]), numeric


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--params", required=True)
    args = parser.parse_args()
    with open(args.params) as handle:
        params = json.load(handle)
    frame = pd.read_csv(args.train)
    model, numeric = build(params)
    # The script picks its own columns: the listing notes and the agent's id are never features.
    X = frame[[*numeric, "sold_year", "built_year", "district"]]
    model.fit(X, frame["price"])
    sio.dump(model, args.out)


if __name__ == "__main__":
    main()
