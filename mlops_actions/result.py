"""The result file contract (mlops-result.json): its JSON Schema and validation."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from mlops_actions.errors import MlopsError

SCHEMA_VERSION = 1


@lru_cache(maxsize=1)
def result_schema() -> dict[str, Any]:
    """The JSON Schema of mlops-result.json (schema_version 1)."""
    text = resources.files("mlops_actions").joinpath("schemas/result.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def result_problems(document: Any) -> list[str]:
    """One line per schema violation, each naming the key path."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(result_schema())
    problems = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        problems.append(f"{where or '(top level)'}: {error.message}")
    return problems


def validate_result(document: Any, source: str = "mlops-result.json") -> None:
    """Raise an MlopsError naming the first problem when the document breaks the schema."""
    problems = result_problems(document)
    if problems:
        raise MlopsError(f"{source}: does not match the result schema: {problems[0]}")
