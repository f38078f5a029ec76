"""Reading and validating ``mlops-result.json``: the only input of the renderers.

The fork-safe comment workflow renders a result file written by untrusted pull request code, so a file
is rendered only after it passed the schema (and the shape of its ``data_checks`` section).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from mlops_actions.domain.secrets import current_scrubber
from mlops_actions.errors import InvalidResultError
from mlops_actions.render.format import one_line

RESULT_FILE = "mlops-result.json"  # the result file's name, in an output folder and in an artifact
MAX_RESULT_BYTES = 64 * 1024 * 1024

_STATUS = {"enum": ["pass", "fail", "warn"]}
_STRING_OR_NULL = {"type": ["string", "null"]}
_NUMBER_OR_NULL = {"type": ["number", "null"]}
_INTEGER_OR_NULL = {"type": ["integer", "null"]}

# The shape of the data_checks section (the result schema only says "object or null"). Lenient on
# purpose: unknown keys are allowed so the data checks can grow, known keys must have the right type.
DATA_CHECKS_SCHEMA: dict[str, Any] = {
    "type": ["object", "null"],
    "properties": {
        "status": _STATUS,
        "schema": {
            "type": ["object", "null"],
            "properties": {
                "path": _STRING_OR_NULL,
                "status": {"enum": ["pass", "fail", "not-configured"]},
                "files": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "role": _STRING_OR_NULL,
                            "path": _STRING_OR_NULL,
                            "rows": _INTEGER_OR_NULL,
                            "violations": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "column": _STRING_OR_NULL,
                                        "kind": _STRING_OR_NULL,
                                        "count": _INTEGER_OR_NULL,
                                        "examples": {"type": ["array", "null"]},
                                        "message": _STRING_OR_NULL,
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
        "changes": {
            "type": ["object", "null"],
            "properties": {
                "status": {"enum": ["unchanged", "changed", "no-base"]},
                "files": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "role": _STRING_OR_NULL,
                            "path": _STRING_OR_NULL,
                            "changed": {"type": ["boolean", "null"]},
                            "base_sha256": _STRING_OR_NULL,
                            "sha256": _STRING_OR_NULL,
                            "base_rows": _INTEGER_OR_NULL,
                            "rows": _INTEGER_OR_NULL,
                            "rows_added": _INTEGER_OR_NULL,
                            "rows_removed": _INTEGER_OR_NULL,
                            "drift": {
                                "type": ["object", "null"],
                                "properties": {
                                    "drifted": {"type": ["boolean", "integer", "null"]},
                                    "drifted_columns": {
                                        "type": ["array", "integer", "null"],
                                        "items": {"type": "string"},
                                    },
                                    "columns": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "column": _STRING_OR_NULL,
                                                "kind": _STRING_OR_NULL,
                                                "method": _STRING_OR_NULL,
                                                "score": _NUMBER_OR_NULL,
                                                "threshold": _NUMBER_OR_NULL,
                                                "drifted": {"type": ["boolean", "null"]},
                                            },
                                        },
                                    },
                                    "correlation_changes": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "a": _STRING_OR_NULL,
                                                "b": _STRING_OR_NULL,
                                                "before": _NUMBER_OR_NULL,
                                                "after": _NUMBER_OR_NULL,
                                                "delta": _NUMBER_OR_NULL,
                                            },
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
        "leakage": {
            "type": ["object", "null"],
            "properties": {
                "threshold": _NUMBER_OR_NULL,
                "status": {"enum": ["pass", "warn", "fail"]},
                "flagged": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "column": _STRING_OR_NULL,
                            "association": _NUMBER_OR_NULL,
                            "method": _STRING_OR_NULL,
                        },
                    },
                },
            },
        },
    },
}


@cache
def result_schema() -> dict[str, Any]:
    """The JSON schema of mlops-result.json (package data), with the data_checks shape filled in."""
    text = resources.files("mlops_actions").joinpath("schemas/result.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    schema["properties"] = dict(schema["properties"])
    data_checks = dict(schema["properties"].get("data_checks", {}))
    data_checks.update({k: v for k, v in DATA_CHECKS_SCHEMA.items() if k not in ("type",)})
    schema["properties"]["data_checks"] = data_checks
    return schema


def key_path(parts: Any) -> str:
    """A JSON location as a readable key path: ``metrics[0].delta``; ``(top level)`` for the root."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = one_line(part, 60)
            text += f".{name}" if text else name
    return text or "(top level)"


def _first_problem(errors: list[Any]) -> Any:
    from jsonschema.exceptions import best_match

    return best_match(errors)


def result_problem(result: Any) -> str | None:
    """The first schema problem of a result document as "key path: message", or None when valid."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(result_schema())
    errors = list(validator.iter_errors(result))
    if not errors:
        return None
    error = _first_problem(errors)
    where = key_path(error.absolute_path)
    message = error.message
    if error.validator == "required":
        message = message.replace(" is a required property", " is required")
    elif error.validator == "additionalProperties":
        message = message.replace("were unexpected", "are not allowed").replace(
            "was unexpected", "is not allowed"
        )
    return f"{where}: {one_line(message, 200)}"


def validate_result(result: Any, source: str = "result") -> dict[str, Any]:
    """The result when it matches the schema; an InvalidResultError naming the first problem's key path."""
    problem = result_problem(result)
    if problem is not None:
        raise InvalidResultError(f"{source}: invalid result file at {problem}")
    return dict(result)


def load_result(path: str | Path) -> dict[str, Any]:
    """Read a result file and validate it against the schema.

    Raises InvalidResultError (exit code 2) naming the file and, for an invalid document, the key path
    of the first problem.
    """
    path = Path(path)
    name = one_line(path, 300)
    try:
        size = path.stat().st_size
        if size > MAX_RESULT_BYTES:
            raise InvalidResultError(
                f"{name}: result file is {size:,} bytes, more than the {MAX_RESULT_BYTES:,} allowed"
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidResultError(f"{name}: result file not found") from None
    except IsADirectoryError:
        raise InvalidResultError(
            f"{name}: is a directory, expected a result file (mlops-result.json)"
        ) from None
    except UnicodeDecodeError:
        raise InvalidResultError(f"{name}: result file is not UTF-8 text") from None
    except OSError as error:
        raise InvalidResultError(
            f"{name}: cannot read result file: {one_line(error.strerror or error, 200)}"
        ) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidResultError(
            f"{name}: not valid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    except RecursionError:
        raise InvalidResultError(f"{name}: not valid JSON: nested too deeply") from None
    if not isinstance(document, dict):
        raise InvalidResultError(f"{name}: expected a JSON object, found {type(document).__name__}")
    try:
        return current_scrubber().scrub_data(validate_result(document, name))
    except RecursionError:
        raise InvalidResultError(f"{name}: invalid result file: nested too deeply") from None
