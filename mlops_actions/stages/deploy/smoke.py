"""The smoke test: known eval rows must get the answers recorded when the version was released.

A release records ``smoke.json`` (:func:`record_smoke`): the first ``deploy.smoke.rows`` eval rows (JSON-safe,
the id column kept, the target left out) with the released model's predictions and class probabilities on
them, computed in-process on all rows at once. At deploy, :func:`run_smoke` posts each row alone, then all rows
in one request, to ``{url}/predict``: predicted classes must be equal, probabilities and regression values
within ``deploy.smoke.tolerance``, and an answer naming another version fails. A version released without
``smoke.json`` is checked against answers computed in-process from its fetched, verified model instead
(:func:`in_process_case`), and the report says so.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_actions.errors import MlopsError

if TYPE_CHECKING:
    from mlops_actions.domain.config import Config
    from mlops_actions.serving.source import ServedModel

SMOKE_FILE = "smoke.json"
SMOKE_FORMAT = 1
REQUEST_TIMEOUT_S = 10.0
SHOWN_FAILURES = 5


@dataclass(frozen=True)
class SmokeCase:
    """The rows to send and the answers they must get."""

    rows: list[dict[str, Any]]
    predictions: list[Any]
    probabilities: list[list[float]] | None
    source: str  # "smoke.json" (recorded at release) or "in-process" (computed from the fetched model)
    id_column: str | None = None

    def row_name(self, index: int) -> str:
        value = self.rows[index].get(self.id_column) if self.id_column else None
        return f"{self.id_column} {value}" if value is not None else f"row {index}"


@dataclass
class SmokeCheck:
    """One row's answers: alone and inside the batch request."""

    row: str
    expected: Any
    single: Any = None
    batch: Any = None
    max_diff: float | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "expected": self.expected,
            "single": self.single,
            "batch": self.batch,
            "max_diff": self.max_diff,
            "ok": self.ok,
            "problem": self.problem,
        }


@dataclass
class SmokeResult:
    """How the target answered the smoke rows."""

    url: str
    source: str
    tolerance: float
    requests: int = 0
    passed_requests: int = 0
    checks: list[SmokeCheck] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return len(self.checks)

    @property
    def mismatches(self) -> int:
        return sum(1 for check in self.checks if not check.ok)

    @property
    def passed(self) -> bool:
        return self.requests > 0 and self.passed_requests == self.requests and not self.failures

    def summary(self) -> str:
        """``smoke 21/21`` (answers that matched of the requests sent)."""
        return f"smoke {self.passed_requests}/{self.requests}"

    def reason(self) -> str:
        """One line: why the smoke test failed."""
        first = self.failures[0] if self.failures else "no answer matched"
        return f"smoke {self.requests - self.passed_requests}/{self.requests} answers wrong: {first}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "source": self.source,
            "tolerance": self.tolerance,
            "rows": self.rows,
            "requests": self.requests,
            "passed_requests": self.passed_requests,
            "mismatches": self.mismatches,
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            "failures": self.failures[:SHOWN_FAILURES],
            "checks": [check.as_dict() for check in self.checks],
        }


def _json_safe(value: Any) -> Any:
    """What the value becomes after a JSON round trip through the server (numpy scalars unwrapped)."""
    return json.loads(json.dumps(value, allow_nan=False, default=_plain))


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def accepted_rows(served: ServedModel, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with only the columns the server accepts for ``served`` (its features, the schema's columns
    but the target), so a data column the model does not know is not sent."""
    from mlops_actions.serving.inputs import InputChecker

    accepted = set(InputChecker(served.features, served.schema).rules)
    return [{name: value for name, value in row.items() if name in accepted} for row in rows]


def predict_in_process(
    config: Config, served: ServedModel, rows: list[dict[str, Any]]
) -> tuple[list[Any], list[list[float]] | None]:
    """``served``'s answers on ``rows`` computed here, all rows in one call, as the server computes them."""
    from mlops_actions.domain.secrets import user_code_environment
    from mlops_actions.serving.inputs import InputChecker
    from mlops_actions.serving.source import USER_SCOPE

    checked = InputChecker(served.features, served.schema).check(rows)
    with user_code_environment(config, USER_SCOPE):  # the project's own transformers run
        predictions, probabilities = served.predict_columns(checked.columns)
    return _json_safe(predictions), _json_safe(probabilities) if probabilities is not None else None


def smoke_source_rows(config: Config, count: int) -> list[dict[str, Any]]:
    """The first ``count`` eval rows as JSON-safe records (id column kept, target left out)."""
    from mlops_actions.serving.loadtest import request_rows

    return [dict(row) for row in request_rows(config, limit=count)]


def record_smoke(config: Config, model_dir: Path) -> dict[str, Any]:
    """The ``smoke.json`` a release publishes for the model in ``model_dir`` (loaded with the config's trust)."""
    from mlops_actions.serving.source import load_served_model

    served = load_served_model(config, model_dir=model_dir)
    rows = accepted_rows(served, smoke_source_rows(config, config.deploy.smoke_rows))
    if not rows:
        raise MlopsError(f"{config.path}: no eval rows to record for the deploy's smoke test")
    predictions, probabilities = predict_in_process(config, served, rows)
    return {
        "format": SMOKE_FORMAT,
        "model": config.model_name,
        "digest": served.digest,
        "id_column": config.id_column,
        "classes": _json_safe(served.classes),
        "rows": _json_safe(rows),
        "predictions": predictions,
        "probabilities": probabilities,
    }


def recorded_case(model_dir: Path) -> SmokeCase | None:
    """The case ``smoke.json`` in a fetched version holds, or None when the version has none."""
    path = model_dir / SMOKE_FILE
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        rows, predictions = document["rows"], document["predictions"]
        probabilities = document.get("probabilities")
        if not isinstance(rows, list) or not isinstance(predictions, list) or len(rows) != len(predictions):
            raise ValueError("rows and predictions differ in length")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise MlopsError(f"{path}: not a smoke record ({error})") from None
    return SmokeCase(rows, predictions, probabilities, "smoke.json", document.get("id_column"))


def in_process_case(config: Config, served: ServedModel) -> SmokeCase:
    """The case of a version without ``smoke.json``: the config's eval rows, answered by the fetched model."""
    rows = accepted_rows(served, smoke_source_rows(config, config.deploy.smoke_rows))
    if not rows:
        raise MlopsError(f"{config.path}: no eval rows for the smoke test")
    predictions, probabilities = predict_in_process(config, served, rows)
    return SmokeCase(rows, predictions, probabilities, "in-process", config.id_column)


def post_json(url: str, document: Any, *, timeout: float = REQUEST_TIMEOUT_S) -> tuple[int, Any]:
    """(status, parsed JSON answer or None) of a POST; status 0 when the target could not be reached."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url,
        data=json.dumps(document).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except (OSError, ValueError) as error:
        return 0, {"error": str(getattr(error, "reason", error))}
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def _difference(expected: Any, got: Any) -> float:
    """Largest absolute difference between two numbers or two lists of numbers (inf when not comparable)."""
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        return max((_difference(e, g) for e, g in zip(expected, got, strict=True)), default=0.0)
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        if isinstance(expected, bool) or isinstance(got, bool):
            return 0.0 if expected == got else math.inf
        return abs(float(expected) - float(got))
    return math.inf


def _compare(
    case: SmokeCase, index: int, answer: Any, position: int, *, regression: bool, tolerance: float
) -> tuple[Any, float | None, str | None]:
    """(the answered prediction, largest difference, problem or None) of row ``index`` in an answer."""
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, list) or len(predictions) <= position:
        return None, None, "no prediction in the answer"
    got, expected = predictions[position], case.predictions[index]
    if regression:
        diff = _difference(expected, got)
        if diff > tolerance:
            return got, diff, f"predicted {got!r}, recorded {expected!r} (|diff| {diff:.3g} > {tolerance:g})"
        return got, diff, None
    if got != expected:
        return got, None, f"predicted {got!r}, recorded {expected!r}"
    if case.probabilities is None:
        return got, None, None
    probabilities = answer.get("probabilities")
    if not isinstance(probabilities, list) or len(probabilities) <= position:
        return got, None, "no probabilities in the answer"
    diff = _difference(case.probabilities[index], probabilities[position])
    if diff > tolerance:
        return got, diff, f"probabilities differ by {diff:.3g} > {tolerance:g} from the recorded ones"
    return got, diff, None


def run_smoke(
    url: str, case: SmokeCase, *, tolerance: float, regression: bool, version: str | None = None
) -> SmokeResult:
    """Post each row of ``case`` alone, then all rows in one request, to ``{url}/predict`` and compare the
    answers with the case's; an answer naming a version other than ``version`` fails too."""
    started = time.monotonic()
    endpoint = url.rstrip("/") + "/predict"
    result = SmokeResult(url=url, source=case.source, tolerance=tolerance)
    checks = [SmokeCheck(case.row_name(i), case.predictions[i]) for i in range(len(case.rows))]
    result.checks = checks

    def answered_by_other(answer: Any) -> str | None:
        named = answer.get("version") if isinstance(answer, dict) else None
        if version is not None and named is not None and str(named) != version:
            return f"answered by version {named}, expected {version}"
        return None

    def send(rows: list[dict[str, Any]], indexes: list[int], attribute: str) -> None:
        result.requests += 1
        status, answer = post_json(endpoint, rows if len(rows) > 1 else rows[0])
        problem = None
        if status != 200:
            detail = answer.get("error") if isinstance(answer, dict) else None
            problem = f"HTTP {status or 'no answer'}" + (f" ({str(detail)[:120]})" if detail else "")
        else:
            problem = answered_by_other(answer)
        if problem is not None:
            for index in indexes:
                checks[index].problem = checks[index].problem or problem
            result.failures.append(
                f"{'batch of ' + str(len(rows)) if len(rows) > 1 else case.row_name(indexes[0])}: {problem}"
            )
            return
        wrong = False
        for position, index in enumerate(indexes):
            got, diff, problem = _compare(
                case, index, answer, position, regression=regression, tolerance=tolerance
            )
            check = checks[index]
            setattr(check, attribute, got)
            if diff is not None and math.isfinite(diff):
                check.max_diff = diff if check.max_diff is None else max(check.max_diff, diff)
            if problem is not None:
                wrong = True
                where = "in the batch" if attribute == "batch" else "alone"
                check.problem = check.problem or f"{problem} ({where})"
                result.failures.append(f"{check.row} {where}: {problem}")
        if not wrong:
            result.passed_requests += 1

    for index, row in enumerate(case.rows):
        send([row], [index], "single")
    if len(case.rows) > 1:
        send(case.rows, list(range(len(case.rows))), "batch")
    result.seconds = time.monotonic() - started
    return result
