"""Loading and validating result files: the fixtures are valid, bad documents fail with one clear line."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from mlops_actions.errors import MlopsError
from mlops_actions.render import InvalidResultError, load_result, validate_result
from mlops_actions.render.result import key_path, result_problem

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "results"
FIXTURE_FILES = sorted(FIXTURES.glob("*.json"))


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def write(tmp_path: Path, document: Any, name: str = "mlops-result.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_there_are_fixtures_for_every_scenario() -> None:
    names = {path.stem for path in FIXTURE_FILES}
    assert {
        "pass_with_baseline",
        "fail_change_and_slice",
        "no_baseline",
        "regression",
        "data_checks_violations",
        "hostile_strings",
        "error",
    } <= names


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_fixture_is_valid_against_the_schema(path: Path) -> None:
    assert result_problem(json.loads(path.read_text(encoding="utf-8"))) is None
    assert load_result(path)["schema_version"] == 1


def test_load_result_is_an_mlops_error_with_exit_code_2() -> None:
    assert issubclass(InvalidResultError, MlopsError)
    assert InvalidResultError.exit_code == 2


def mutate(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(fixture("pass_with_baseline"))
    change(document)
    return document


INVALID = [
    ("missing verdict", lambda d: d.pop("verdict"), "(top level): 'verdict' is required"),
    ("unknown verdict", lambda d: d.update(verdict="maybe"), "verdict: 'maybe' is not one of"),
    (
        "delta is a string",
        lambda d: d["metrics"][0].update(delta="0.1"),
        "metrics[0].delta: '0.1' is not of type",
    ),
    ("wrong schema version", lambda d: d.update(schema_version=2), "schema_version: 1 was expected"),
    ("extra top-level key", lambda d: d.update(evil=1), "(top level): Additional properties are not allowed"),
    ("bad digest", lambda d: d["candidate"].update(model_digest="md5:x"), "candidate.model_digest"),
    ("p-value above 1", lambda d: d["metrics"][1]["test"].update(p_value=3), "metrics[1].test.p_value"),
    (
        "data checks status",
        lambda d: d["data_checks"].update(status="great"),
        "data_checks.status: 'great' is not one of",
    ),
    (
        "drift score is text",
        lambda d: d["data_checks"]["changes"]["files"][0]["drift"]["columns"][0].update(score="high"),
        "data_checks.changes.files[0].drift.columns[0].score",
    ),
    (
        "violations is not a list",
        lambda d: d["data_checks"]["schema"]["files"][0].update(violations="none"),
        "data_checks.schema.files[0].violations",
    ),
    (
        "leakage flagged is an object",
        lambda d: d["data_checks"]["leakage"].update(flagged={"column": "x"}),
        "data_checks.leakage.flagged",
    ),
]


@pytest.mark.parametrize(("case", "change", "expected"), INVALID, ids=[case[0] for case in INVALID])
def test_invalid_document_names_the_file_and_the_key_path(
    tmp_path: Path, case: str, change: Any, expected: str
) -> None:
    path = write(tmp_path, mutate(change))
    with pytest.raises(InvalidResultError) as raised:
        load_result(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: invalid result file at ")
    assert expected in message
    assert "\n" not in message


def test_file_that_is_not_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "mlops-result.json"
    path.write_text('{"verdict": "pass",\n  oops}', encoding="utf-8")
    with pytest.raises(InvalidResultError, match=r"mlops-result.json: not valid JSON at line 2 column 3"):
        load_result(path)


def test_missing_file_is_reported_by_name(tmp_path: Path) -> None:
    with pytest.raises(InvalidResultError, match=r"nope.json: result file not found"):
        load_result(tmp_path / "nope.json")


def test_directory_is_not_a_result_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidResultError, match="is a directory"):
        load_result(tmp_path)


def test_json_array_is_not_a_result(tmp_path: Path) -> None:
    with pytest.raises(InvalidResultError, match="expected a JSON object, found list"):
        load_result(write(tmp_path, [1, 2]))


def test_binary_file_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "mlops-result.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InvalidResultError, match="not UTF-8"):
        load_result(path)


def test_deeply_nested_json_is_rejected_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "mlops-result.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(InvalidResultError, match=r"mlops-result\.json: .*nested too deeply"):
        load_result(path)


def test_hostile_values_in_the_message_stay_on_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, mutate(lambda d: d.update(verdict="x\n\n<script>\n" * 50)))
    with pytest.raises(InvalidResultError) as raised:
        load_result(path)
    assert "\n" not in str(raised.value)
    assert len(str(raised.value)) < 400


def test_validate_result_returns_the_document() -> None:
    document = fixture("regression")
    assert validate_result(document) == document


def test_data_checks_may_be_null_or_carry_unknown_keys() -> None:
    assert result_problem(mutate(lambda d: d.update(data_checks=None))) is None
    assert result_problem(mutate(lambda d: d["data_checks"].update(profile={"rows": 3}))) is None


def test_key_path_reads_like_python() -> None:
    assert key_path(["metrics", 0, "delta"]) == "metrics[0].delta"
    assert key_path([]) == "(top level)"


# -- a check stopped by an error ----------------------------------------------------------------------------


def test_an_error_result_needs_its_error_but_none_of_the_verdict_sections() -> None:
    document = fixture("error")
    assert result_problem(document) is None
    document.pop("error")
    assert result_problem(document) == "(top level): 'error' is required"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda e: e.pop("stage"), "error: 'stage' is required"),
        (lambda e: e.pop("reproduce"), "error: 'reproduce' is required"),
        (lambda e: e.update(message=7), "error.message: 7 is not of type 'string'"),
        (lambda e: e.update(script="rm -rf /"), "error: Additional properties are not allowed"),
    ],
    ids=["no-stage", "no-reproduce", "message-not-text", "unknown-key"],
)
def test_a_malformed_error_object_is_named_by_its_key_path(change: Any, expected: str) -> None:
    document = fixture("error")
    change(document["error"])
    problem = result_problem(document)
    assert problem is not None and problem.startswith(expected.split(" are not")[0]), problem


def test_a_pass_or_fail_result_still_needs_every_section_and_the_task() -> None:
    document = fixture("pass_with_baseline")
    document.pop("metrics")
    assert result_problem(document) == "(top level): 'metrics' is required"
    document = fixture("pass_with_baseline")
    document["model"].pop("task")
    assert result_problem(document) == "model: 'task' is required"


def test_timings_are_seconds_per_step() -> None:
    document = fixture("pass_with_baseline")
    document["timings"] = {"tests": 1.5, "training candidate": 12}
    assert result_problem(document) is None
    document["timings"]["bootstrap"] = -1
    assert result_problem(document) == "timings.bootstrap: -1 is less than the minimum of 0"


def test_skipped_models_hold_a_model_and_a_reason_and_nothing_else() -> None:
    result = json.loads((FIXTURES / "pass_with_baseline.json").read_text(encoding="utf-8"))
    validate_result({**result, "skipped_models": [{"config": "b/mlops.yaml", "model": "b", "reason": "r"}]})
    with pytest.raises(InvalidResultError):
        validate_result({**result, "skipped_models": [{"model": "b"}]})
    with pytest.raises(InvalidResultError):
        validate_result({**result, "skipped_models": [{"model": "b", "reason": "r", "extra": 1}]})
