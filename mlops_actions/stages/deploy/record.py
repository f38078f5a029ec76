"""What a deploy leaves behind: its result (``deploy-result.json``), its report (``deploy-report.md``) and the
deploy record it appends to the version in the registry (read back to choose the version to roll back to)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULT_FILE = "deploy-result.json"
REPORT_FILE = "deploy-report.md"
RESULT_SCHEMA = "mlops-actions/deploy-result/1"
MAX_REASON_CHARS = 600  # a record holds at most 4,000 characters in all


@dataclass
class StepTiming:
    """One step of the deploy, as the report lists it."""

    name: str
    seconds: float
    ok: bool
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "seconds": round(self.seconds, 3), "ok": self.ok, "detail": self.detail}


@dataclass
class VersionAttempt:
    """One version started on the target: the version deployed, or the one a rollback went back to."""

    version: str
    tag: str
    digest: str
    model_dir: str | None = None
    url: str | None = None
    ready_s: float | None = None
    smoke: Any = None  # SmokeResult
    load: Any = None  # LoadTestResult (the interface of serving.loadtest)
    failure: str | None = None

    @property
    def passed(self) -> bool:
        return self.failure is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "tag": self.tag,
            "digest": self.digest,
            "model_dir": self.model_dir,
            "url": self.url,
            "ready_s": round(self.ready_s, 3) if self.ready_s is not None else None,
            "smoke": self.smoke.as_dict() if self.smoke is not None else None,
            "load": self.load.as_dict() if self.load is not None else None,
            "passed": self.passed,
            "failure": self.failure,
        }


@dataclass
class DeployReport:
    """Everything a deploy did, in the order it did it."""

    model: str
    target: str  # built-in or command
    time: str  # when it started (UTC, ISO 8601)
    attempt: VersionAttempt
    outcome: str = "deployed"
    reason: str | None = None
    headline: str = ""
    untested: str | None = None  # why the target was neither smoke- nor load-tested
    previous: VersionAttempt | None = None  # the version rolled back to
    previous_chosen: str | None = None  # how it was chosen
    previous_serving: str | None = None  # the version serving before this deploy (when known)
    steps: list[StepTiming] = field(default_factory=list)
    production: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    record: dict[str, Any] | None = None
    record_error: str | None = None
    duration_s: float = 0.0
    run_url: str | None = None

    @property
    def deployed(self) -> bool:
        return self.outcome == "deployed"

    def as_dict(self) -> dict[str, Any]:
        """The JSON result (``deploy-result.json``; what ``deploy --json`` prints)."""
        attempt = self.attempt
        return {
            "schema": RESULT_SCHEMA,
            "deployed": self.deployed,
            "outcome": self.outcome,
            "headline": self.headline,
            "reason": self.reason,
            "model": self.model,
            "version": attempt.version,
            "tag": attempt.tag,
            "digest": attempt.digest,
            "model_dir": attempt.model_dir,
            "target": self.target,
            "time": self.time,
            "duration_s": round(self.duration_s, 3),
            "untested": self.untested,
            "attempt": attempt.as_dict(),
            "rollback": (
                {**self.previous.as_dict(), "chosen": self.previous_chosen}
                if self.previous is not None
                else None
            ),
            "previous_chosen": self.previous_chosen,
            "previous_serving": self.previous_serving,
            "production": self.production,
            "steps": [step.as_dict() for step in self.steps],
            "notes": self.notes,
            "record": self.record,
            "record_error": self.record_error,
            "run_url": self.run_url,
        }


def deploy_record(report: DeployReport, *, time: str | None = None) -> dict[str, Any]:
    """The record appended to the version in the registry (its fields are the registry's contract), dated
    ``time`` (when the deploy ended; default its start)."""
    attempt = report.attempt
    smoke = attempt.smoke
    load = attempt.load
    reason = report.reason
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 1] + "…"
    return {
        "time": time or report.time,
        "version": attempt.version,
        "outcome": report.outcome,
        "previous": report.previous.version if report.previous is not None else report.previous_serving,
        "reason": reason,
        "target": report.target,
        "smoke": {"rows": smoke.rows, "mismatches": smoke.mismatches} if smoke is not None else None,
        "load": (
            {"rps": load.rps, "p95_ms": load.p95_ms, "p99_ms": load.p99_ms, "error_rate": load.error_rate}
            if load is not None
            else None
        ),
        "duration_s": round(report.duration_s, 1),
        "run_url": report.run_url,
    }


def write_deploy_files(output_dir: Path, result: dict[str, Any], markdown: str) -> dict[str, Path]:
    """``deploy-result.json`` and ``deploy-report.md`` written atomically to ``output_dir``; their paths."""
    from mlops_actions.domain.model_io import path_errors, write_json_atomic, write_text_atomic
    from mlops_actions.domain.secrets import current_scrubber

    scrubber = current_scrubber()
    paths = {"result": output_dir / RESULT_FILE, "report": output_dir / REPORT_FILE}
    with path_errors(output_dir, "write the deploy report"):
        output_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(paths["result"], scrubber.scrub_data(result))
        write_text_atomic(paths["report"], scrubber.scrub(markdown))
    return paths
