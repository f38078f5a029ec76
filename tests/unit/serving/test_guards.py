"""Live guards: exact per-column counts of out-of-range and unseen-category inputs and of non-finite outputs,
on a real server on 127.0.0.1 and on the counting alone; guards off without a training-data profile."""

from __future__ import annotations

import copy
import dataclasses
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from mlops_actions.domain.config import load_config
from mlops_actions.domain.data.profile import profile_frame, save_profile
from mlops_actions.serving.guards import LiveGuards
from mlops_actions.serving.metrics import ServerMetrics
from mlops_actions.serving.server import start_server
from mlops_actions.serving.source import RELEASE_PROFILE_FILE, load_served_model
from tests.conftest import REPO_ROOT
from tests.unit.serving.conftest import Client, metric_values

ROW = {"x1": 0.3, "x2": -1.2, "group": "a"}


@pytest.fixture(scope="module")
def config(served_project):
    return load_config(served_project[0])


@pytest.fixture(scope="module")
def train_frame(config):
    return pd.read_csv(config.root / "train.csv")


def folder_with_profile(served_project, tmp_path, frame):
    """A copy of the model folder with ``frame``'s profile stored beside it, as a release stores it."""
    folder = tmp_path / "model"
    shutil.copytree(served_project[1], folder)
    save_profile(profile_frame(frame), folder / RELEASE_PROFILE_FILE)
    return folder


@pytest.fixture(scope="module")
def guarded(served_project, config, train_frame, tmp_path_factory):
    """The tiny model with its training-data profile, served under a reviewed schema that also allows the
    category "d", which training never had."""
    folder = folder_with_profile(served_project, tmp_path_factory.mktemp("guarded"), train_frame)
    served = load_served_model(config, model_dir=folder)
    schema = copy.deepcopy(served.schema)
    schema.columns["group"].categories = ["a", "b", "c", "d"]
    return dataclasses.replace(served, schema=schema)


def metrics_of(url):
    client = Client(url)
    try:
        status, _, text = client.request("GET", "/metrics")
    finally:
        client.close()
    assert status == 200
    return text, metric_values(text)


def series(values, name, served, column=None):
    labels = f'model="tiny",version="{served.label}"' + (f',column="{column}"' if column else "")
    return values.get(f"mlops_serve_{name}{{{labels}}}")


def test_out_of_range_and_unseen_inputs_are_counted_per_column_on_the_real_server(
    guarded, config, train_frame, tmp_path
):
    low1, high1 = train_frame["x1"].min(), train_frame["x1"].max()
    low2 = train_frame["x2"].min()
    schema = guarded.schema.columns
    above1 = (high1 + schema["x1"].max) / 2  # allowed by the schema's slack, beyond what training saw
    below2 = (low2 + schema["x2"].min) / 2
    with start_server(guarded, config.serve, log_dir=tmp_path / "log") as server:
        client = Client(server.url)
        status, _, _ = client.request(
            "POST", "/predict", [ROW, {**ROW, "x1": low1, "x2": low2}, {**ROW, "x1": high1, "group": "c"}]
        )
        assert status == 200
        status, _, _ = client.request(
            "POST",
            "/predict",
            {
                "x1": [above1, above1, 0.0, 0.0],
                "x2": [0.0, below2, 0.0, 0.0],
                "group": ["a", "d", "d", "b"],
                "row_id": [10**9, 0, 0, 0],  # the id column: accepted, logged, never guarded
            },
        )
        assert status == 200
        text, values = metrics_of(server.url)
    assert series(values, "input_guards_enabled", guarded) == 1
    assert series(values, "input_rows_total", guarded) == 7  # the warm-up's rows are not counted
    assert series(values, "output_nonfinite_total", guarded) == 0
    assert series(values, "input_out_of_range_total", guarded, "x1") == 2
    assert series(values, "input_out_of_range_total", guarded, "x2") == 1
    assert series(values, "input_unseen_category_total", guarded, "group") == 2
    guarded_columns = {
        line.split('column="')[1].split('"')[0] for line in text.splitlines() if 'column="' in line
    }
    assert guarded_columns == {"x1", "x2", "group"}


def test_a_feature_the_profile_does_not_describe_is_not_guarded(
    served_project, config, train_frame, tmp_path
):
    folder = folder_with_profile(served_project, tmp_path, train_frame.drop(columns=["x2"]))
    served = load_served_model(config, model_dir=folder)
    beyond = (train_frame["x2"].max() + served.schema.columns["x2"].max) / 2
    with start_server(served, config.serve, log_dir=tmp_path / "log") as server:
        assert Client(server.url).request("POST", "/predict", {**ROW, "x2": beyond})[0] == 200
        text, values = metrics_of(server.url)
    assert series(values, "input_out_of_range_total", served, "x1") == 0
    assert 'column="x2"' not in text
    assert series(values, "input_rows_total", served) == 1


class NanForLargeX1:
    """Answers NaN probabilities for rows whose x1 is above 1, 0.5 otherwise."""

    classes_ = (0, 1)

    def predict_proba(self, frame):
        scores = np.full((len(frame), 2), 0.5)
        scores[frame["x1"].to_numpy() > 1] = np.nan
        return scores


def test_nan_outputs_are_counted_and_answered_as_null(guarded, config, tmp_path):
    served = dataclasses.replace(guarded, estimator=NanForLargeX1())
    with start_server(served, config.serve, log_dir=tmp_path / "log") as server:
        client = Client(server.url)
        status, _, answer = client.request(
            "POST", "/predict", {"x1": [2.0, 0.0, 1.5], "x2": [0.0] * 3, "group": ["a"] * 3}
        )
        assert status == 200
        assert answer["probabilities"] == [[None, None], [0.5, 0.5], [None, None]]
        assert client.request("POST", "/predict", ROW)[0] == 200
        _, values = metrics_of(server.url)
    assert series(values, "output_nonfinite_total", served) == 2
    assert series(values, "input_rows_total", served) == 4


def test_without_a_profile_the_input_guards_are_off_and_metrics_say_so(served_project, config, tmp_path):
    served = load_served_model(config, model_dir=served_project[1])
    assert served.profile is None
    with start_server(served, config.serve, log_dir=tmp_path / "log") as server:
        assert Client(server.url).request("POST", "/predict", {**ROW, "x1": 1.0})[0] == 200
        text, values = metrics_of(server.url)
    assert series(values, "input_guards_enabled", served) == 0
    assert f"# mlops_serve_input guards off: the model folder has no {RELEASE_PROFILE_FILE}" in text
    assert 'column="' not in text
    assert series(values, "input_rows_total", served) == 1
    assert series(values, "output_nonfinite_total", served) == 0


def test_counting_covers_nan_inputs_infinite_regression_outputs_and_missing_categories():
    guards = LiveGuards(
        ranges={"age": (18.0, 90.0)}, categories={"region": frozenset({"north"})}, inputs_on=True
    )
    guards.observe(
        {
            "age": np.array([17.0, np.nan, 18.0, 90.0, np.inf]),
            "region": ["north", None, "mars", "mars", "north"],
        },
        np.array([1.0, np.nan, np.inf, -np.inf, 2.0]),
        None,
    )
    assert (guards.rows, guards.nonfinite_rows) == (5, 3)
    assert guards.out_of_range == {"age": 2} and guards.unseen == {"region": 2}
    guards.observe(
        {"age": np.array([20.0, 30.0]), "region": ["north", "north"]}, None, np.array([[0.5, 0.5]] * 2)
    )
    assert (guards.rows, guards.nonfinite_rows, guards.out_of_range, guards.unseen) == (
        7,
        3,
        {"age": 2},
        {"region": 2},
    )
    guards.reset()
    assert (guards.rows, guards.nonfinite_rows, guards.out_of_range, guards.unseen) == (
        0,
        0,
        {"age": 0},
        {"region": 0},
    )


def test_column_labels_are_escaped_as_the_text_format_asks():
    guards = LiveGuards(ranges={'odd"name\\x\nnext': (0.0, 1.0)}, inputs_on=True)
    text = ServerMetrics(model="m", version="1.0.0", digest="sha256:0").render(guards=guards)
    assert (
        'mlops_serve_input_out_of_range_total{model="m",version="1.0.0",column="odd\\"name\\\\x\\nnext"} 0'
        in text
    )


def test_a_profile_without_category_counts_or_range_guards_nothing_for_that_column(guarded):
    profile = copy.deepcopy(guarded.profile)
    profile.columns["group"].counts = None  # too many distinct values were seen to keep them
    profile.columns["x1"].min = None
    guards = LiveGuards.from_profile(profile, guarded.features, guarded.schema)
    assert guards.inputs_on and set(guards.ranges) == {"x2"} and guards.categories == {}


@pytest.mark.parametrize("rows", [3, 64, 65, 5000])
def test_small_and_large_batches_count_the_same_values_outside_the_range(rows):
    rng = np.random.default_rng(rows)
    values = rng.normal(size=rows)
    values[rng.random(rows) < 0.1] = np.nan
    values[0] = np.nan  # first: Python's min and max then answer NaN
    values[1] = 5.0
    guards = LiveGuards(ranges={"x": (-1.0, 1.5)}, inputs_on=True)
    guards.observe({"x": values}, np.zeros(rows), None)
    with np.errstate(invalid="ignore"):
        expected = int(np.sum(values < -1.0) + np.sum(values > 1.5))
    assert expected > 0 and guards.out_of_range == {"x": expected}
    inside = np.clip(np.nan_to_num(values), -1.0, 1.5)
    guards.observe({"x": inside}, np.zeros(rows), None)
    assert guards.out_of_range == {"x": expected}


ALERT_RULES = REPO_ROOT / "docs" / "prometheus" / "mlops-alerts.yml"
METRIC_NAME = re.compile(r"\bmlops_[a-z0-9_]+\b")
GROUPING = re.compile(r"\b(?:by|on)\s*\(([^)]*)\)")


def test_the_alert_rules_parse_and_name_only_series_and_labels_a_served_model_exposes(
    guarded, config, tmp_path
):
    document = yaml.safe_load(ALERT_RULES.read_text())
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} >= {
        "MlopsServeNonFiniteOutputs",
        "MlopsServeInputsOutOfRange",
        "MlopsServeUnseenCategories",
    }
    with start_server(guarded, config.serve, log_dir=tmp_path / "log") as server:
        _, values = metrics_of(server.url)
    exposed: dict[str, set[str]] = {}
    for key in values:
        name, _, labels = key.partition("{")
        exposed.setdefault(name, set()).update(re.findall(r'(\w+)="', labels))
    for rule in rules:
        expr = rule["expr"]
        assert expr.count("(") == expr.count(")"), rule["alert"]
        named = set(METRIC_NAME.findall(expr))
        assert named and named <= set(exposed), (rule["alert"], named - set(exposed))
        labels = {label.strip() for found in GROUPING.findall(expr) for label in found.split(",")}
        carried = set().union(*(exposed[name] for name in named))
        assert labels <= carried, (rule["alert"], labels - carried)
        assert rule["labels"]["severity"] in ("high", "medium", "low")
