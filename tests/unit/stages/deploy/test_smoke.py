"""The smoke test: each row alone and all rows at once must get the recorded answers, within the tolerance."""

from __future__ import annotations

import json

import pytest

from mlops_actions.errors import MlopsError
from mlops_actions.stages.deploy.smoke import SmokeCase, recorded_case, run_smoke

ROWS = [{"id": 1, "x": 0.5}, {"id": 2, "x": 3.0}, {"id": 3, "x": -1.0}]
CASE = SmokeCase(
    rows=ROWS,
    predictions=[0, 1, 0],
    probabilities=[[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]],
    source="smoke.json",
    id_column="id",
)
ANSWERS = {1: (0, [0.9, 0.1]), 2: (1, [0.2, 0.8]), 3: (0, [0.6, 0.4])}


def model(*, shift: float = 0.0, alone_wrong: bool = False, version: str = "1.2.0"):
    """A server answering ANSWERS (probabilities shifted by ``shift``; a row alone answered wrongly)."""

    def answer(path, body):
        if path != "/predict":
            return 404, {"error": "no such route"}
        rows = body if isinstance(body, list) else [body]
        found = [ANSWERS[row["id"]] for row in rows]
        predictions = [p for p, _ in found]
        if alone_wrong and len(rows) == 1:
            predictions = [1 - predictions[0]]
        probabilities = [[a + shift, b - shift] for _, (a, b) in found]
        return 200, {"predictions": predictions, "probabilities": probabilities, "version": version}

    return answer


def test_answers_equal_to_the_recorded_ones_pass_alone_and_in_one_batch(answering):
    result = run_smoke(answering(model()), CASE, tolerance=1e-6, regression=False, version="1.2.0")
    assert result.passed and result.requests == 4 and result.passed_requests == 4
    assert result.summary() == "smoke 4/4" and result.mismatches == 0
    assert [check.single for check in result.checks] == [0, 1, 0] == [check.batch for check in result.checks]


def test_probabilities_within_the_tolerance_pass_and_beyond_it_fail(answering):
    assert run_smoke(answering(model(shift=1e-9)), CASE, tolerance=1e-6, regression=False).passed
    failed = run_smoke(answering(model(shift=1e-3)), CASE, tolerance=1e-6, regression=False)
    assert not failed.passed and failed.mismatches == 3 and failed.passed_requests == 0
    assert "probabilities differ by 0.001 > 1e-06" in failed.reason()


def test_a_row_answered_differently_alone_than_in_the_batch_fails_naming_the_row(answering):
    result = run_smoke(answering(model(alone_wrong=True)), CASE, tolerance=1e-6, regression=False)
    assert not result.passed and result.passed_requests == 1  # the batch request alone was right
    assert result.reason().startswith("smoke 3/4 answers wrong: id 1 alone: predicted 1, recorded 0")
    assert [check.batch for check in result.checks] == [0, 1, 0]


def test_an_answer_from_another_version_fails(answering):
    result = run_smoke(
        answering(model(version="1.1.0")), CASE, tolerance=1e-6, regression=False, version="1.2.0"
    )
    assert not result.passed and "answered by version 1.1.0, expected 1.2.0" in result.reason()


def test_regression_values_are_compared_within_the_tolerance(answering):
    case = SmokeCase(rows=ROWS, predictions=[0.5, 2.0, -1.0], probabilities=None, source="in-process")

    def answer(path, body):
        rows = body if isinstance(body, list) else [body]
        return 200, {"predictions": [{1: 0.5, 2: 2.0 + 1e-8, 3: -1.2}[row["id"]] for row in rows]}

    result = run_smoke(answering(answer), case, tolerance=1e-6, regression=True)
    assert not result.passed and result.mismatches == 1
    assert result.failures[0] == "row 2 alone: predicted -1.2, recorded -1.0 (|diff| 0.2 > 1e-06)"


def test_an_error_status_or_an_unreachable_target_fails_every_row_it_concerns(answering):
    result = run_smoke(
        answering(lambda path, body: (503, {"error": "overloaded"})), CASE, tolerance=0, regression=False
    )
    assert not result.passed and result.mismatches == 3 and "HTTP 503 (overloaded)" in result.failures[0]
    unreachable = run_smoke("http://127.0.0.1:9", CASE, tolerance=0, regression=False)
    assert not unreachable.passed and "HTTP no answer" in unreachable.failures[0]


def test_a_recorded_case_is_read_back_and_a_damaged_one_is_refused(tmp_path):
    assert recorded_case(tmp_path) is None
    document = {"rows": ROWS, "predictions": [0, 1, 0], "probabilities": None, "id_column": "id"}
    (tmp_path / "smoke.json").write_text(json.dumps(document))
    case = recorded_case(tmp_path)
    assert case is not None and case.source == "smoke.json" and case.row_name(1) == "id 2"
    (tmp_path / "smoke.json").write_text(json.dumps({**document, "predictions": [0]}))
    with pytest.raises(MlopsError, match=r"smoke\.json: not a smoke record"):
        recorded_case(tmp_path)
