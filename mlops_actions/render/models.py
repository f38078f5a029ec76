"""The models of a repository and whether a change touched them (`mlops-actions configs`): a text table,
the JSON document the workflows fan out on, and the step outputs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mlops_actions.domain.changes import ModelPlan


def models_document(plans: Sequence[ModelPlan]) -> dict[str, Any]:
    """``{"models": [...], "matrix": {"include": [changed ones]}, "skipped": [the others]}``."""
    return {
        "models": [plan.to_dict() for plan in plans],
        "matrix": {
            "include": [{"config": plan.config, "model": plan.model} for plan in plans if plan.changed]
        },
        "skipped": [
            {"config": plan.config, "model": plan.model, "reason": plan.reason}
            for plan in plans
            if not plan.changed
        ],
    }


def models_outputs(plans: Sequence[ModelPlan]) -> dict[str, str]:
    """The step outputs: ``matrix`` and ``skipped`` as compact JSON, ``count`` the models to check."""
    document = models_document(plans)
    return {
        "matrix": json.dumps(document["matrix"], separators=(",", ":")),
        "skipped": json.dumps(document["skipped"], separators=(",", ":")),
        "count": str(len(document["matrix"]["include"])),
    }


def models_text(plans: Sequence[ModelPlan]) -> str:
    """One line per model (model, check or skip, config, reason) under a header, then the count."""
    rows = [("MODEL", "CHECK", "CONFIG", "REASON")]
    rows += [(plan.model, "yes" if plan.changed else "skip", plan.config, plan.reason) for plan in plans]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in rows
    ]
    changed = sum(plan.changed for plan in plans)
    lines.append(f"{changed} of {len(plans)} model{'s' if len(plans) != 1 else ''} to check")
    return "\n".join(lines)


def skipped_summary(plans: Sequence[ModelPlan]) -> str:
    """Job-summary lines naming the models not checked and why (empty when every model is checked)."""
    skipped = [plan for plan in plans if not plan.changed]
    if not skipped:
        return ""
    return "".join(f"- not checked: `{plan.model}` ({plan.reason})\n" for plan in skipped)
