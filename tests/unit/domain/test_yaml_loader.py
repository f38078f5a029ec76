from __future__ import annotations

from pathlib import Path

import pytest

from mlops_actions.domain.yaml_loader import parse_yaml, read_yaml
from mlops_actions.errors import ConfigError, DataError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\nb: 2\na: 3\n", "duplicate key 'a' at lines 1 and 3"),
        ("model:\n  name: x\n  task: binary\n  name: y\n", "duplicate key 'model.name' at lines 2 and 4"),
        (
            "gate:\n  rules:\n    - metric: roc_auc\n      min: 0.7\n      min: 0.1\n",
            "duplicate key 'gate.rules[0].min' at lines 4 and 5",
        ),
        ("data: {train: a.csv, train: b.csv}\n", "duplicate key 'data.train' at lines 1 and 1"),
        ('"a": 1\na: 2\n', "duplicate key 'a' at lines 1 and 2"),
        ("1: x\n0x1: y\n", "duplicate key '1' at lines 1 and 2"),
        ("base: &b\n  k: 1\n  k: 2\nuse: *b\n", "duplicate key 'base.k' at lines 2 and 3"),
    ],
    ids=["top-level", "nested", "in-a-list-item", "flow-mapping", "quoted-and-plain", "same-int", "anchor"],
)
def test_a_key_named_twice_at_any_depth_is_refused_with_both_lines(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_yaml(text, "mlops.yaml")
    assert caught.value.problems == [f"mlops.yaml: {expected}"]


def test_distinct_keys_and_merge_overrides_load_as_plain_yaml() -> None:
    text = "base: &b {k: 1, j: 2}\nuse:\n  <<: *b\n  k: 3\nlist: [1, 1]\nsame: {a: 1}\nother: {a: 1}\n"
    assert parse_yaml(text, "x.yaml") == {
        "base": {"k": 1, "j": 2},
        "use": {"k": 3, "j": 2},
        "list": [1, 1],
        "same": {"a": 1},
        "other": {"a": 1},
    }


def test_python_tags_are_refused_like_the_safe_loader_does() -> None:
    with pytest.raises(ConfigError, match=r"x.yaml:1:\d+: invalid YAML"):
        parse_yaml("a: !!python/object/apply:os.system ['true']\n", "x.yaml")


def test_an_alias_bomb_is_checked_once_per_node() -> None:
    lines = ['a0: &a0 ["x", "x"]'] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 40)]
    assert len(parse_yaml("\n".join(lines) + "\n", "bomb.yaml")) == 40


def test_the_error_class_follows_the_caller(tmp_path: Path) -> None:
    pointer = tmp_path / "data.csv.dvc"
    pointer.write_text("outs:\n- path: data.csv\n  path: other.csv\n")
    with pytest.raises(DataError, match=r"data.csv.dvc: duplicate key 'outs\[0\].path' at lines 2 and 3"):
        read_yaml(pointer, what="DVC", error=DataError)


def test_a_folder_where_a_yaml_file_is_expected_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder, expected a schema YAML file"):
        read_yaml(tmp_path, what="schema YAML")
