"""Hand-made hostile skops files: a real ``skops.io.dump`` of a fitted estimator whose ``schema.json`` gains an
attribute built by a loader node that calls or imports something, with a payload that creates a canary file.

Every payload really runs when skops is told to trust what it reports (``test_trust.py`` proves it), so a
canary that stays absent proves the refusal, not a broken payload.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IMPORT_MODULE = "mlops_planted_payload"  # a module that creates the canary when imported


def json_node(value: Any) -> dict[str, Any]:
    return {
        "__class__": type(value).__name__,
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
    }


def tuple_node(*items: dict[str, Any]) -> dict[str, Any]:
    return {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode", "content": list(items)}


def list_node(*items: dict[str, Any], module: str = "builtins", name: str = "list") -> dict[str, Any]:
    return {"__class__": name, "__module__": module, "__loader__": "ListNode", "content": list(items)}


def dict_node(content: dict[str, dict[str, Any]], key_types: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "__class__": "dict",
        "__module__": "builtins",
        "__loader__": "DictNode",
        "content": content,
        "key_types": key_types or list_node(*[type_node("builtins", "str") for _ in content]),
    }


def type_node(module: str, name: str, loader: str = "TypeNode") -> dict[str, Any]:
    return {"__class__": name, "__module__": module, "__loader__": loader}


def shell(canary: Path) -> str:
    return f"touch '{canary}'"


def python_code(canary: Path) -> str:
    return f"open({str(canary)!r}, 'w').close()"


def reduce_call(module: str, name: str, *args: dict[str, Any]) -> dict[str, Any]:
    return {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": tuple_node(*args),
    }


def _ndarray_popen(canary: Path, files: dict[str, bytes]) -> dict[str, Any]:
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.array(["touch", str(canary)]), allow_pickle=False)
    files["payload.npy"] = buffer.getvalue()
    return {
        "__class__": "Popen",
        "__module__": "subprocess",
        "__loader__": "NdArrayNode",
        "type": "numpy",
        "file": "payload.npy",
    }


def _loss_system(canary: Path, files: dict[str, bytes]) -> dict[str, Any]:
    return {
        "__class__": "system",
        "__module__": "posix",
        "__loader__": "LossNode",
        "__reduce__": {"args": tuple_node(json_node(shell(canary)))},
        "content": dict_node({}),
    }


def _dict_key_type(canary: Path, files: dict[str, bytes]) -> dict[str, Any]:
    return dict_node({shell(canary): json_node(1)}, key_types=list_node(type_node("posix", "system")))


def _operator_call(canary: Path, files: dict[str, bytes]) -> dict[str, Any]:
    return {
        "__class__": "call",
        "__module__": "operator",
        "__loader__": "OperatorFuncNode",
        "attrs": tuple_node(type_node("builtins", "exec", "FunctionNode"), json_node(python_code(canary))),
    }


def _partial_of_call(canary: Path, files: dict[str, bytes]) -> dict[str, Any]:
    return {
        "__class__": "partial",
        "__module__": "functools",
        "__loader__": "PartialNode",
        "content": {
            "func": type_node("builtins", "print", "FunctionNode"),
            "args": tuple_node(reduce_call("posix", "system", json_node(shell(canary)))),
            "kwds": dict_node({}),
            "namespace": dict_node({}),
        },
    }


def _imported(loader: str) -> Callable[[Path, dict[str, bytes]], dict[str, Any]]:
    def build(canary: Path, files: dict[str, bytes]) -> dict[str, Any]:
        if loader == "MethodNode":
            owner = {**type_node(IMPORT_MODULE, "Planted", "ObjectNode")}
            return {**type_node(IMPORT_MODULE, "Planted", loader), "content": {"func": "run", "obj": owner}}
        if loader == "RandomStateNode":
            return {**type_node(IMPORT_MODULE, "Planted", loader), "content": dict_node({})}
        return type_node(IMPORT_MODULE, "Planted", loader)

    return build


@dataclass(frozen=True)
class Payload:
    """A loader node that runs the canary payload on load, and whether it needs the planted module."""

    build: Callable[[Path, dict[str, bytes]], dict[str, Any]]
    needs_module: bool = False


PAYLOADS: dict[str, Payload] = {
    "reduce-posix-system": Payload(lambda c, f: reduce_call("posix", "system", json_node(shell(c)))),
    "reduce-os-system": Payload(lambda c, f: reduce_call("os", "system", json_node(shell(c)))),
    "reduce-subprocess-popen": Payload(
        lambda c, f: reduce_call("subprocess", "Popen", list_node(json_node("touch"), json_node(str(c))))
    ),
    "reduce-builtins-exec": Payload(lambda c, f: reduce_call("builtins", "exec", json_node(python_code(c)))),
    "reduce-builtins-eval": Payload(lambda c, f: reduce_call("builtins", "eval", json_node(python_code(c)))),
    "list-subprocess-popen": Payload(
        lambda c, f: list_node(json_node("touch"), json_node(str(c)), module="subprocess", name="Popen")
    ),
    "ndarray-subprocess-popen": Payload(_ndarray_popen),
    "loss-posix-system": Payload(_loss_system),
    "dict-key-type-posix-system": Payload(_dict_key_type),
    "operator-call-builtins-exec": Payload(_operator_call),
    "partial-args-posix-system": Payload(_partial_of_call),
    "function-import": Payload(_imported("FunctionNode"), needs_module=True),
    "type-import": Payload(_imported("TypeNode"), needs_module=True),
    "object-import": Payload(_imported("ObjectNode"), needs_module=True),
    "method-import": Payload(_imported("MethodNode"), needs_module=True),
    "random-state-import": Payload(_imported("RandomStateNode"), needs_module=True),
}


def plant_module(folder: Path, canary: Path) -> Path:
    """Write the module the import payloads name: importing it creates ``canary``."""
    path = folder / f"{IMPORT_MODULE}.py"
    path.write_text(
        f"open({str(canary)!r}, 'w').close()\n\n\nclass Planted:\n    def run(self):\n        return None\n"
    )
    return path


def real_model_bytes() -> bytes:
    """A genuine skops file of a small fitted estimator."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    return sio.dumps(LogisticRegression().fit([[0.0], [1.0], [0.2], [0.9]], [0, 1, 0, 1]))


def with_schema(data: bytes, edit: Callable[[dict[str, Any], dict[str, bytes]], None]) -> bytes:
    """``data`` (a skops file) with its schema edited in place by ``edit(schema, extra_files)``."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        files = {name: source.read(name) for name in source.namelist()}
    schema = json.loads(files.pop("schema.json"))
    extra: dict[str, bytes] = {}
    edit(schema, extra)
    files.update(extra)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        target.writestr("schema.json", json.dumps(schema))
        for name, content in files.items():
            target.writestr(name, content)
    return buffer.getvalue()


def hostile_model_bytes(payload: str, canary: Path, *, base: bytes | None = None) -> bytes:
    """A real model file whose estimator gains an attribute that ``PAYLOADS[payload]`` builds on load."""

    def inject(schema: dict[str, Any], files: dict[str, bytes]) -> None:
        schema["content"]["content"]["hostile_"] = PAYLOADS[payload].build(canary, files)
        schema["content"]["key_types"]["content"].append(type_node("builtins", "str"))

    return with_schema(base or real_model_bytes(), inject)


def reported_types(data: bytes) -> list[str]:
    """What skops reports as untrusted in ``data`` (what a careless loader would trust)."""
    import skops.io as sio

    return sio.get_untrusted_types(data=data)


def write_model_folder(
    folder: Path, data: bytes, *, metadata: dict[str, Any] | None = None, trusted: list[str] | None = None
) -> Path:
    """A model folder (model.skops + metadata.json with the matching digest) whose metadata lists ``trusted``
    (default: everything skops reports) as trusted types."""
    import hashlib

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.skops").write_bytes(data)
    document = {
        "metadata_version": 1,
        "model_name": "tiny",
        "task": "binary",
        "model_digest": f"sha256:{hashlib.sha256(data).hexdigest()}",
        "model_file": "model.skops",
        "classes": [0, 1],
        "features": ["x1", "x2", "group"],
        "target": "label",
        "trusted_types": reported_types(data) if trusted is None else trusted,
        **(metadata or {}),
    }
    (folder / "metadata.json").write_text(json.dumps(document, indent=2))
    return folder
