"""Schema inference policy, YAML round trip and clear errors for malformed schema files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from mlops_actions.domain.data.profile import profile_frame
from mlops_actions.domain.data.schema import (
    dump_schema,
    infer_schema,
    inferred_null_share,
    inferred_range,
    load_schema,
    schema_from_dict,
    schema_hash_of,
)
from mlops_actions.domain.data.validate import validate_frame
from mlops_actions.errors import ConfigError


def sample(seed: int, rows: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": np.arange(rows) + seed * rows,
            "age": rng.integers(18, 90, rows),
            "income": np.where(rng.random(rows) < 0.05, np.nan, rng.normal(50_000, 12_000, rows)),
            "plan": rng.choice(["basic", "pro", "premium"], rows, p=[0.6, 0.3, 0.1]),
            "active": rng.random(rows) < 0.4,
            "churned": rng.integers(0, 2, rows),
        }
    )


def infer(frame: pd.DataFrame, **kwargs):
    return infer_schema([profile_frame(frame, correlation=False)], **kwargs)


def test_inferred_schema_describes_each_column():
    schema = infer(sample(0), target="churned", id_column="customer_id")
    columns = schema.columns
    assert columns["customer_id"].role == "id" and columns["customer_id"].min is None
    assert columns["churned"].role == "target"
    assert columns["age"].dtype == "int" and columns["age"].min == 0 and columns["age"].max >= 89
    assert columns["income"].dtype == "float" and columns["income"].nullable
    assert 0.05 < columns["income"].max_null_share < 0.1
    assert columns["plan"].dtype == "category" and columns["plan"].categories == ["basic", "premium", "pro"]
    assert columns["active"].dtype == "bool" and not columns["active"].nullable
    assert (schema.min_rows, schema.max_rows) == (1000, 4000)


def test_the_same_data_passes_its_inferred_schema():
    data = sample(0)
    assert validate_frame(data, infer(data)).violations == []


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_fresh_sample_from_the_same_distribution_passes(seed):
    schema = infer(sample(0), id_column="customer_id")
    assert validate_frame(sample(seed), schema).violations == []


def test_range_slack_is_a_quarter_span_rounded_outward():
    assert inferred_range(-4.87, 4.9, integer=False) == (-7.32, 7.35)
    assert inferred_range(18, 95, integer=True) == (0, 115)
    assert inferred_range(5.0, 5.0, integer=False)[0] < 5.0 < inferred_range(5.0, 5.0, integer=False)[1]


def test_null_share_bound_has_binomial_slack():
    assert inferred_null_share(0, 1000) == 0.0
    bound = inferred_null_share(50, 1000)
    assert 0.05 + 4 * np.sqrt(0.05 * 0.95 / 1000) < bound <= 0.09
    assert inferred_null_share(1000, 1000) == 1.0


def test_roles_are_guessed_from_conventional_names():
    frame = pd.DataFrame({"id": [1, 2, 3, 4], "x": [0.1, 0.2, 0.3, 0.4], "label": [0, 1, 0, 1]})
    schema = infer(frame)
    assert schema.target == "label" and schema.id_column == "id"


def test_unknown_role_column_is_a_config_error():
    with pytest.raises(ConfigError, match="target column 'nope' is not in the data"):
        infer(sample(0), target="nope")


def test_high_cardinality_strings_stay_free_strings():
    frame = pd.DataFrame({"name": [f"n{i}" for i in range(300)], "x": range(300)})
    assert infer(frame).columns["name"].dtype == "string"
    assert infer(frame).columns["name"].categories is None


def test_schema_survives_a_yaml_round_trip(tmp_path):
    schema = infer(sample(0), target="churned", id_column="customer_id")
    path = tmp_path / "schema.yaml"
    path.write_text(dump_schema(schema))
    loaded = load_schema(path)
    assert schema_hash_of(loaded) == schema_hash_of(schema)
    assert path.read_text().startswith("# Data schema for mlops-actions")
    assert yaml.safe_load(path.read_text())["version"] == 1


def test_schemas_from_several_files_cover_all_of_them():
    a, b = sample(0, 1000), sample(1, 300)
    b.loc[0, "plan"] = "enterprise"
    schema = infer_schema([profile_frame(a), profile_frame(b)])
    assert "enterprise" in schema.columns["plan"].categories
    assert (schema.min_rows, schema.max_rows) == (150, 2000)
    for frame in (a, b):
        assert validate_frame(frame, schema).violations == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "expected a mapping"),
        ({"version": 2, "columns": {"a": {"dtype": "int"}}}, "version must be 1"),
        ({"version": 1, "columns": {}}, "columns must be a non-empty mapping"),
        ({"version": 1, "columns": {"a": {"dtype": "integer"}}}, "columns.a.dtype must be one of"),
        ({"version": 1, "columns": {"a": {"dtype": "int", "colour": 1}}}, "unknown key 'colour'"),
        ({"version": 1, "columns": {"a": {"dtype": "int", "min": 5, "max": 1}}}, "min 5 is above max 1"),
        ({"version": 1, "columns": {"a": {"dtype": "string", "min": 1}}}, "only for int or float"),
        (
            {"version": 1, "columns": {"a": {"dtype": "int", "nullable": "yes"}}},
            "nullable must be true or false",
        ),
        ({"version": 1, "columns": {"a": {"dtype": "int", "max_null_share": 2}}}, "between 0 and 1"),
        ({"version": 1, "rows": {"min": -1}, "columns": {"a": {"dtype": "int"}}}, "rows.min must be"),
        (
            {
                "version": 1,
                "columns": {"a": {"dtype": "int", "role": "target"}, "b": {"dtype": "int", "role": "target"}},
            },
            "only one column may have role target",
        ),
        ({"version": 1, "extra": 1, "columns": {"a": {"dtype": "int"}}}, "unknown key 'extra'"),
    ],
)
def test_malformed_schemas_name_the_key_and_expectation(data, message):
    with pytest.raises(ConfigError, match=message):
        schema_from_dict(data, "schema.yaml")


def test_missing_or_unparsable_schema_file(tmp_path):
    with pytest.raises(ConfigError, match="schema file not found; create it with"):
        load_schema(tmp_path / "schema.yaml")
    (tmp_path / "bad.yaml").write_text("version: [1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:2:1: invalid YAML"):
        load_schema(tmp_path / "bad.yaml")
