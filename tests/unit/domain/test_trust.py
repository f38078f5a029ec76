"""The trust rule: only the reviewed config allows types; a model's own declarations only narrow; the schema
walk refuses what no config may allow, before skops imports or builds anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlops_actions.domain.trust import Trust, audit_model, audit_schema, never_trusted_reason
from mlops_actions.errors import ConfigError, ModelError
from tests.hostile.skops_payloads import (
    IMPORT_MODULE,
    PAYLOADS,
    hostile_model_bytes,
    json_node,
    plant_module,
    real_model_bytes,
    reported_types,
    tuple_node,
    type_node,
    with_schema,
)

NOTHING = Trust(frozenset(), "mlops.yaml")


@pytest.fixture(scope="module")
def genuine() -> bytes:
    return real_model_bytes()


# One Python process loads every payload's model in turn (importing skops costs more than the loads); the
# planted module is forgotten between payloads, so each import payload imports its own and creates its canary.
TRUSTING_LOADER = """\
import importlib, json, sys
import skops.io as sio
for folder, trusted in json.loads(sys.argv[1]):
    sys.path.insert(0, folder)
    sys.modules.pop(sys.argv[2], None)
    importlib.invalidate_caches()
    data = open(folder + "/model.skops", "rb").read()
    try:
        sio.loads(data, trusted=trusted)
    except Exception:
        pass
    sys.path.remove(folder)
import time; time.sleep(0.2)
"""


@pytest.fixture(scope="module")
def canaries_of_a_trusting_loader(
    genuine: bytes, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """payload -> its canary, after skops was told to trust what it reports in each payload's model."""
    import json

    root = tmp_path_factory.mktemp("trusting-loader")
    canaries, runs = {}, []
    for payload in sorted(PAYLOADS):
        folder = root / payload
        folder.mkdir()
        canaries[payload] = folder / "canary"
        data = hostile_model_bytes(payload, canaries[payload], base=genuine)
        (folder / "model.skops").write_bytes(data)
        plant_module(folder, canaries[payload])
        runs.append([str(folder), reported_types(data)])
    code = [sys.executable, "-c", TRUSTING_LOADER, json.dumps(runs), IMPORT_MODULE]
    subprocess.run(code, check=True, timeout=120)
    return canaries


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_every_payload_runs_when_skops_is_told_to_trust_what_it_reports(
    payload, canaries_of_a_trusting_loader
):
    canary = canaries_of_a_trusting_loader[payload]
    assert canary.exists(), f"the {payload} payload did not run; the refusal tests would prove nothing"


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_a_payload_the_model_declares_trusted_is_refused_before_anything_is_imported(
    payload, genuine, tmp_path
):
    canary = tmp_path / "canary"
    data = hostile_model_bytes(payload, canary, base=genuine)
    plant_module(tmp_path, canary)
    sys.path.insert(0, str(tmp_path))
    try:
        trust = NOTHING.narrowed(reported_types(data), "metadata.json")
        with pytest.raises(ModelError) as refused:
            audit_model(data, "model.skops", trust)
        assert IMPORT_MODULE not in sys.modules
    finally:
        sys.path.remove(str(tmp_path))
    assert not canary.exists()
    assert "\n" not in str(refused.value) and str(refused.value).startswith("model.skops: ")


@pytest.mark.parametrize("payload", sorted(p for p, spec in PAYLOADS.items() if not spec.needs_module))
def test_a_payload_calling_a_command_or_code_is_refused_even_when_the_config_lists_it(
    payload, genuine, tmp_path
):
    data = hostile_model_bytes(payload, tmp_path / "canary", base=genuine)
    careless = Trust(frozenset(reported_types(data)), "mlops.yaml")
    with pytest.raises(ModelError, match=r"no config can allow it|expected one of"):
        audit_model(data, "model.skops", careless)
    assert not (tmp_path / "canary").exists()


def test_a_genuine_model_passes_the_audit_with_nothing_beyond_skops_defaults(genuine):
    assert audit_model(genuine, "model.skops", NOTHING) == []


def test_genuine_operator_functions_pass_the_walk_and_need_the_configs_trust():
    import operator

    import skops.io as sio

    functions = {
        "get": operator.attrgetter("a.b", "c"),
        "call": operator.methodcaller("replace", "a", "b"),
        "item": operator.itemgetter(1, "__x"),
    }
    data = sio.dumps(functions)
    configured = Trust(
        frozenset({"operator.attrgetter", "operator.methodcaller", "operator.itemgetter"}), "c"
    )
    assert audit_model(data, "model.skops", configured) == sorted(configured.project_types)
    with pytest.raises(
        ModelError, match=r"operator\.attrgetter, .* list them under train\.trusted_types in mlops\.yaml"
    ):
        audit_model(data, "model.skops", NOTHING)


def test_a_declaration_only_narrows_the_configs_trust():
    config = Trust(frozenset({"pkg.A", "pkg.B"}), "mlops.yaml")
    narrowed = config.narrowed(["pkg.B", "evil.C"], "metadata.json")
    assert narrowed.project_types == {"pkg.B"}
    assert config.narrowed(None, "metadata.json").project_types == {"pkg.A", "pkg.B"}
    assert config.narrowed("pkg.A", "metadata.json").project_types == frozenset()  # not a list: nothing more
    assert config.narrowed([1, {"x": 2}], "metadata.json").project_types == frozenset()


def test_the_refusal_names_the_config_key_to_list_a_type_in_and_the_file_that_narrowed_another():
    trust = Trust(frozenset({"pkg.B"}), "repo/mlops.yaml").narrowed([], "model/metadata.json")
    message = trust.refusal("model/model.skops", ["pkg.A", "pkg.B"])
    assert message == (
        "model/model.skops: model holds types that are not trusted: pkg.A (review them and list them under "
        "train.trusted_types in repo/mlops.yaml to allow them); pkg.B (not listed in model/metadata.json)"
    )


def _edit(top_attribute: dict[str, Any]) -> Any:
    def edit(schema: dict[str, Any], files: dict[str, bytes]) -> None:
        schema["content"]["content"]["planted_"] = top_attribute
        schema["content"]["key_types"]["content"].append(type_node("builtins", "str"))

    return edit


SCHEMA_TRICKS = {
    "unknown-loader": (type_node("numpy", "add", "ExecNode"), "unknown loader 'ExecNode'"),
    "dotted-class-name": (type_node("sklearn", "pipeline.Pipeline"), "expected a module and a plain name"),
    "protocol-0-function-content": (
        {
            **type_node("numpy", "add", "FunctionNode"),
            "content": {"module_path": "posix", "function": "system"},
        },
        "posix.system (in a FunctionNode)",
    ),
    "attrgetter-to-globals": (
        {
            **type_node("operator", "attrgetter", "OperatorFuncNode"),
            "attrs": tuple_node(json_node("__class__.__init__.__globals__")),
        },
        "reaching '__class__.__init__.__globals__'",
    ),
    "methodcaller-private": (
        {
            **type_node("operator", "methodcaller", "OperatorFuncNode"),
            "attrs": tuple_node(json_node("__reduce__")),
        },
        "a private attribute",
    ),
    "attrgetter-name-hidden-in-a-list-node": (
        {
            **type_node("operator", "attrgetter", "OperatorFuncNode"),
            "attrs": tuple_node(
                {**type_node("builtins", "str", "ListNode"), "content": [json_node("__class__")]}
            ),
        },
        "operator.attrgetter without plain attribute names",
    ),
    "methodcaller-name-by-reference": (
        {
            **type_node("operator", "methodcaller", "OperatorFuncNode"),
            "attrs": {"__module__": None, "__class__": None, "__loader__": "CachedNode", "__id__": 1},
        },
        "operator.methodcaller without plain attribute names",
    ),
    "operator-call": (
        {**type_node("operator", "call", "OperatorFuncNode"), "attrs": tuple_node()},
        "expected one of operator.attrgetter",
    ),
    "random-generator-not-a-bit-generator": (
        {
            **type_node("numpy.random._generator", "Generator", "RandomGeneratorNode"),
            "content": {"bit_generator": {"bit_generator": "seed"}},
        },
        "random generator from 'seed'",
    ),
    "method-dunder": (
        {
            **type_node("collections", "OrderedDict", "MethodNode"),
            "content": {
                "func": "__init_subclass__",
                "obj": type_node("collections", "OrderedDict", "ObjectNode"),
            },
        },
        "binds the method '__init_subclass__'",
    ),
    "type-outside-a-loader": ({"__module__": "posix", "__class__": "system"}, "outside any loader"),
    "importlib-module": (type_node("importlib", "import_module", "FunctionNode"), "importlib.import_module"),
    "pickle-loads": (type_node("pickle", "loads", "FunctionNode"), "pickle.loads"),
    "ctypes-cdll": (type_node("ctypes", "CDLL", "TypeNode"), "ctypes.CDLL"),
    "sys-modules-via-object": (type_node("sys", "flags", "ObjectNode"), "sys.flags"),
    "builtins-getattr": (type_node("builtins", "getattr", "FunctionNode"), "builtins.getattr"),
    "builtins-import": (type_node("builtins", "__import__", "FunctionNode"), "builtins.__import__"),
}


@pytest.mark.parametrize(("node", "expected"), list(SCHEMA_TRICKS.values()), ids=list(SCHEMA_TRICKS))
def test_the_schema_walk_refuses_what_no_config_may_allow(node, expected, genuine):
    data = with_schema(genuine, _edit(node))
    with pytest.raises(ModelError) as refused:
        audit_model(data, "model.skops", Trust(frozenset({"posix.system", "operator.call"}), "mlops.yaml"))
    assert expected in str(refused.value)


@pytest.mark.parametrize(
    ("data", "expected"),
    [(b"not a zip", "not a readable skops model file"), (b"PK\x05\x06" + bytes(18), "not a readable skops")],
    ids=["not-a-zip", "empty-zip"],
)
def test_a_file_that_is_not_a_skops_model_is_refused_in_one_line(data, expected):
    with pytest.raises(ModelError, match=expected):
        audit_model(data, "model.skops", NOTHING)


def test_a_schema_without_an_integer_protocol_is_refused():
    with pytest.raises(ModelError, match="no integer skops protocol"):
        audit_schema({"__loader__": "JsonNode", "protocol": True}, "model.skops")


@pytest.mark.parametrize(
    "name",
    ["os.system", "posix.system", "subprocess.Popen", "builtins.exec", "shutil.rmtree", "os.path.join"],
)
def test_names_in_command_running_modules_are_never_trusted(name):
    assert never_trusted_reason(name)


@pytest.mark.parametrize(
    "name",
    ["sklearn.pipeline.Pipeline", "credit_model.features.LoanFeatures", "numpy.float64", "builtins.dict"],
)
def test_ordinary_model_types_may_be_trusted(name):
    assert never_trusted_reason(name) is None


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("os.system", "train.trusted_types[0]: 'os.system' can never be trusted"),
        ("builtins.eval", "train.trusted_types[0]: 'builtins.eval' can never be trusted"),
        ("Pipeline", "train.trusted_types[0]: 'Pipeline' is not a type name, expected module.Name"),
    ],
    ids=["os-system", "builtins-eval", "not-dotted"],
)
def test_a_config_listing_a_never_trustable_or_malformed_type_is_a_config_error(entry, expected, tmp_path):
    from mlops_actions.domain.config import load_config
    from tests.conftest import TINY_CONFIG

    path = tmp_path / "mlops.yaml"
    path.write_text(
        TINY_CONFIG.replace("params: {C: 1.0}", f"params: {{C: 1.0}}\n  trusted_types: [{entry}]")
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert len(error.value.problems) == 1 and error.value.problems[0].startswith(f"{path}: {expected}")


def test_load_model_names_where_the_expected_digest_came_from(genuine, tmp_path):
    from mlops_actions.domain.model_io import load_model

    path = tmp_path / "model.skops"
    path.write_bytes(genuine)
    with pytest.raises(ModelError, match=r"expected sha256:0+ from version 1\.0\.0.s manifest"):
        load_model(
            path,
            expected_digest="sha256:" + "0" * 64,
            trust=NOTHING,
            digest_source="version 1.0.0's manifest",
        )
    assert load_model(path, expected_digest=None, trust=NOTHING).predict([[1.0]]).tolist() == [1]


def test_the_trust_module_imports_nothing_heavy():
    code = "import sys, mlops_actions.domain.trust; print(sorted(m for m in ('skops', 'sklearn', 'numpy') if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path.cwd()
    )
    assert done.stdout.strip() == "[]"


def test_stock_scikit_learn_internals_load_with_an_empty_config_and_survive_narrowing(tmp_path):
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier

    from mlops_actions.domain.model_io import load_model, save_model
    from mlops_actions.domain.trusted_defaults import STOCK_TRUSTED_TYPES

    X = np.random.default_rng(0).normal(size=(200, 3))
    model = HistGradientBoostingClassifier(max_iter=5).fit(X, X[:, 0] > 0)
    digest = save_model(model, tmp_path / "model.skops")
    trust = NOTHING.narrowed([], tmp_path / "metadata.json")  # a metadata list narrows only the config's part
    loaded = load_model(tmp_path / "model.skops", expected_digest=digest, trust=trust)
    assert loaded.predict(X[:5]).tolist() == model.predict(X[:5]).tolist()
    assert trust.types >= STOCK_TRUSTED_TYPES and trust.project_types == frozenset()


def test_no_stock_default_is_a_name_no_config_may_allow():
    from mlops_actions.domain.trusted_defaults import STOCK_TRUSTED_TYPES

    assert [name for name in sorted(STOCK_TRUSTED_TYPES) if never_trusted_reason(name)] == []
