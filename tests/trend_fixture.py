"""Canned store records and registry versions of one model: two released versions, two PR checks (one passing,
one failing), a deploy and a monitor run; for the trend's data, renderers and dashboard tests."""

from __future__ import annotations

from mlops_actions.metadata.records import Listing, RunRecord
from mlops_actions.metadata.trends import ModelTrend, build_trend
from mlops_actions.registry.base import ModelVersion

MODEL = "credit"


def version(number: str, created: str, commit: str, metrics: dict, **extra) -> ModelVersion:
    return ModelVersion(
        model=MODEL,
        version=number,
        tag=f"{MODEL}@v{number}",
        digest="sha256:" + "0" * 64,
        created=created,
        commit=commit,
        metrics=metrics,
        **extra,
    )


def record(number: int, stage: str, verdict: str, started_at: str, **fields) -> RunRecord:
    return RunRecord(
        id=f"{number:032x}",
        stage=stage,
        model=fields.pop("model", MODEL),
        verdict=verdict,
        started_at=started_at,
        **fields,
    )


def two_versions() -> list[ModelVersion]:
    """1.0.0 released without a baseline (its intervals are the value's), 1.1.0 gated against 1.0.0 (the
    registry's intervals are then the change's) and in production."""
    return [
        version(
            "1.0.0",
            "2026-12-01T10:00:00Z",
            "a" * 40,
            {"roc_auc": {"value": 0.80, "ci_low": 0.77, "ci_high": 0.83}, "accuracy": {"value": 0.75}},
        ),
        version(
            "1.1.0",
            "2026-12-01T12:00:00Z",
            "b" * 40,
            {"roc_auc": {"value": 0.84, "ci_low": 0.01, "ci_high": 0.06}, "accuracy": {"value": 0.78}},
            aliases=("production",),
            lineage={"release": {"baseline": {"source": "registry", "version": "1.0.0"}}},
        ),
    ]


def records() -> list[RunRecord]:
    return [
        record(
            1,
            "release",
            "released",
            "2026-12-01T10:00:00Z",
            version="1.0.0",
            commit="a" * 40,
            metrics={"roc_auc": {"value": 0.80, "low": 0.77, "high": 0.83}},
        ),
        record(
            2,
            "check",
            "pass",
            "2026-12-01T11:00:00Z",
            pr=1,
            commit="c" * 40,
            metrics={
                "roc_auc": {
                    "value": 0.84,
                    "low": 0.81,
                    "high": 0.87,
                    "baseline": 0.80,
                    "delta": 0.04,
                    "delta_low": 0.01,
                    "delta_high": 0.06,
                    "passed": True,
                }
            },
            links={"comment": "https://forge.example/pr/1#comment"},
            details={"title": "Add the ratio"},
        ),
        record(
            3,
            "release",
            "released",
            "2026-12-01T12:00:00Z",
            version="1.1.0",
            commit="b" * 40,
            metrics={"roc_auc": {"value": 0.84, "low": 0.81, "high": 0.87}},
        ),
        record(4, "deploy", "promoted", "2026-12-01T12:30:00Z", version="1.1.0", commit="b" * 40),
        record(
            5,
            "check",
            "fail",
            "2026-12-01T13:00:00Z",
            pr=2,
            commit="d" * 40,
            metrics={"roc_auc": {"value": 0.70, "delta": -0.14, "passed": False}},
        ),
        record(6, "monitor", "alert", "2026-12-01T14:00:00Z", version="1.1.0"),
        record(7, "check", "pass", "2026-12-01T13:30:00Z", pr=9, model="other-model"),
    ]


def canned_trend(**changes) -> ModelTrend:
    """The trend of the canned model (``records``/``versions`` replaced by keyword)."""
    listing = Listing(changes.pop("records", records()), changes.pop("warnings", []))
    return build_trend(MODEL, "roc_auc", listing, changes.pop("versions", two_versions()))
