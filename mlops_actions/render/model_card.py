"""The model card published with every release: what the model is, how it scored, on which data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_actions.render.format import escape_md, fmt_interval, fmt_num, fmt_signed

if TYPE_CHECKING:
    from mlops_actions.metadata.trends import VersionPoint


def render_model_card(
    result: dict[str, Any],
    *,
    version: str,
    lineage: dict[str, Any] | None = None,
    trend: list[VersionPoint] | None = None,
) -> str:
    """Markdown model card of a released version, from its check result and its release lineage; with
    ``trend`` (the primary metric of the last versions and this one), a short trend table too."""
    import jinja2

    from mlops_actions.domain.semver import version_tag
    from mlops_actions.render.trend import release_trend_markdown

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("mlops_actions", "render/templates"),
        autoescape=False,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["md"] = escape_md
    candidate = result["candidate"]
    primary = result["model"].get("primary_metric")
    metrics = [
        {
            "label": row["label"],
            "value": fmt_num(row["candidate"]),
            "interval": fmt_interval(row["ci_low"], row["ci_high"], signed=row["delta"] is not None),
            "delta": fmt_signed(row["delta"]),
        }
        for row in result["metrics"]
    ]
    data = [
        {
            "role": role,
            "path": fp["path"],
            "rows": fp["rows"],
            "columns": len(fp["columns"]),
            "sha256": fp["sha256"][:16],
        }
        for role, fp in candidate["data"].items()
    ]
    slices = []
    for part in result["slices"]:
        row = next((m for m in part["metrics"] if m["name"] == primary), None)
        if row is not None:
            slices.append(
                {
                    "name": f"{part['column']}={part['value']}",
                    "rows": part["rows"],
                    "value": fmt_num(row["candidate"]),
                }
            )
    gate = result["gate"]
    lineage = lineage or {}
    model_doc = ((lineage.get("config") or {}).get("content") or {}).get("model") or {}
    description = str(
        model_doc.get("description") or f"The {result['model']['task']} model {result['model']['name']}."
    )
    if not description.endswith((".", "!", "?")):
        description += "."
    libraries = sorted((lineage.get("libraries") or {}).items())
    pr = lineage.get("pull_request")
    release = {
        "pull_request": f"#{pr}" if pr else "unknown",
        "bump": f"{lineage['bump']} ({lineage.get('bump_from', '')})" if lineage.get("bump") else None,
        "source": (
            f"{lineage['model_source']}: {lineage.get('model_source_reason', '')}"
            if lineage.get("model_source")
            else None
        ),
        "config": (lineage.get("config") or {}).get("path"),
        "config_sha256": str((lineage.get("config") or {}).get("sha256") or "")[:23],
        "tree": lineage.get("tree"),
        "run_url": lineage.get("run_url"),
    }
    return environment.get_template("model_card.md.j2").render(
        name=result["model"]["name"],
        version=version,
        tag=version_tag(result["model"]["name"], version),
        task=result["model"]["task"],
        commit=candidate.get("commit"),
        branch=candidate.get("branch"),
        digest=candidate.get("model_digest"),
        primary=primary,
        verdict=result["verdict"].upper(),
        decision=gate["decision"],
        confidence=f"{gate['confidence']:.0%}",
        resamples=gate["resamples"],
        baseline_source=result["baseline"]["source"],
        baseline_reason=result["baseline"]["reason"],
        rows=result["evaluation"]["rows"],
        metrics=metrics,
        data=data,
        slices=slices,
        release=release,
        libraries=libraries,
        description=description,
        trend=release_trend_markdown(trend or [], primary) if primary else "",
    )
