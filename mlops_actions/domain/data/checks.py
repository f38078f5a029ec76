"""Data checks of the PR gate: schema validation, changes against the base branch, drift, leakage guard.

run_data_checks returns the "data_checks" section of mlops-result.json. Each branch file is read once
(validation, profile, row hashes and the leakage guard share the pass); a changed file's base copy is
read once before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops_actions.domain.data.changes import RowHasher, multiset_difference
from mlops_actions.domain.data.chunks import read_header, scan_table
from mlops_actions.domain.data.drift import (
    column_drift_to_dict,
    compare_profiles,
    correlation_change_to_dict,
    resolve_thresholds,
)
from mlops_actions.domain.data.dvc import missing_data_error
from mlops_actions.domain.data.io import file_sha256
from mlops_actions.domain.data.leakage import DEFAULT_LEAKAGE_THRESHOLD, LeakageCollector, leakage_summary
from mlops_actions.domain.data.profile import ProfileBuilder
from mlops_actions.domain.data.schema import load_schema
from mlops_actions.domain.data.validate import SchemaValidator


class _RowCounter:
    def start(self, info: Any) -> None:
        self.rows = 0

    def update(self, chunk: Any) -> None:
        self.rows += chunk.rows


def run_data_checks(
    *,
    files: dict[str, Path],
    base_files: dict[str, Path] | None,
    schema_path: Path | None,
    target: str,
    id_column: str | None,
    drift_thresholds: dict[str, float] | None = None,
    leakage_threshold: float = DEFAULT_LEAKAGE_THRESHOLD,
    root: Path | None = None,
) -> dict:
    """Validate the branch's data files, compare changed ones with the base branch, guard against leakage.

    files maps a role ("train", "eval") to the branch's file; base_files the same roles to the base
    branch's copies (a missing role or file means no base). Status: "fail" on schema violations, "warn"
    on leakage flags or dataset drift, else "pass". A DataError (exit 2) when a file cannot be read.
    Paths in the result are relative to ``root`` (the project), so reports show no runner's build folder.
    """

    def shown(path: Path) -> str:
        if root is None:
            return str(path)
        try:
            return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            return Path(path).name

    thresholds = resolve_thresholds(drift_thresholds)
    schema = load_schema(schema_path) if schema_path is not None else None
    base_files = dict(base_files or {})
    leakage_role = "train" if "train" in files else next(iter(files), None)
    schema_entries: list[dict[str, Any]] = []
    change_entries: list[dict[str, Any]] = []
    leakage: dict[str, Any] = {
        "threshold": leakage_threshold,
        "status": "pass",
        "flagged": [],
        "target": target,
    }
    any_base = False
    for role, raw_path in files.items():
        path = Path(raw_path)
        if not path.is_file():
            raise missing_data_error(path)
        sha256 = file_sha256(path)
        base = Path(base_files[role]) if base_files.get(role) is not None else None
        has_base = base is not None and base.is_file()
        any_base = any_base or has_base
        base_sha256 = file_sha256(base) if has_base and base is not None else None
        changed = base_sha256 != sha256
        header = read_header(path)

        consumers: list[Any] = [_RowCounter()]
        validator = SchemaValidator(schema) if schema is not None else None
        if validator is not None:
            consumers.append(validator)
        collector = None
        if role == leakage_role and target:
            if target in header:
                collector = LeakageCollector(target, exclude=(id_column,) if id_column else ())
                consumers.append(collector)
            else:
                leakage["note"] = f"target column '{target}' is not in {shown(path)}"
        base_rows = None
        base_profile = base_hasher = branch_builder = branch_hasher = None
        compared_by = None
        if has_base and base is not None and changed:
            base_header = read_header(base)
            common = [c for c in header if c in base_header]
            if id_column and id_column in common:
                keys, compared_by = [id_column], f"id column '{id_column}'"
            else:
                keys, compared_by = common, "whole rows"
            base_builder = ProfileBuilder()
            base_hasher = RowHasher(keys)
            base_counter = _RowCounter()
            scan_table(base, [base_builder, base_hasher, base_counter])
            base_profile = base_builder.finish()
            base_rows = base_counter.rows
            branch_builder = ProfileBuilder(edges_from=base_profile)
            branch_hasher = RowHasher(keys)
            consumers.extend([branch_builder, branch_hasher])
        if len(consumers) == 1 and header:
            scan_table(path, consumers, columns=header[:1])
        else:
            scan_table(path, consumers)
        rows = consumers[0].rows
        if has_base and not changed:
            base_rows = rows

        violations = validator.finish() if validator is not None else []
        schema_entries.append(
            {"role": role, "path": shown(path), "rows": rows, "violations": [v.to_dict() for v in violations]}
        )
        entry: dict[str, Any] = {
            "role": role,
            "path": shown(path),
            "changed": changed,
            "base_sha256": base_sha256,
            "sha256": sha256,
            "base_rows": base_rows,
            "rows": rows,
            "rows_added": None if not has_base else 0,
            "rows_removed": None if not has_base else 0,
            "drift": None,
        }
        if compared_by is not None:
            entry["compared_by"] = compared_by
        if base_hasher is not None and branch_hasher is not None and base_profile is not None:
            added, removed = multiset_difference(base_hasher.hashes(), branch_hasher.hashes())
            entry["rows_added"], entry["rows_removed"] = added, removed
            assert branch_builder is not None
            report = compare_profiles(
                base_profile,
                branch_builder.finish(),
                thresholds=thresholds,
                exclude=[id_column] if id_column else [],
            )
            entry["drift"] = {
                "drifted": report.drifted,
                "drifted_columns": report.drifted_columns,
                "columns": [column_drift_to_dict(c) for c in report.columns],
                "correlation_changes": [correlation_change_to_dict(c) for c in report.correlation_changes],
            }
        change_entries.append(entry)
        if collector is not None:
            summary = leakage_summary(collector.finish(), leakage_threshold, target)
            leakage.update(summary)

    schema_failed = any(entry["violations"] for entry in schema_entries)
    schema_status = "not-configured" if schema is None else "fail" if schema_failed else "pass"
    if not any_base:
        changes_status = "no-base"
    elif any(entry["changed"] for entry in change_entries):
        changes_status = "changed"
    else:
        changes_status = "unchanged"
    drifted = any(entry["drift"] and entry["drift"]["drifted"] for entry in change_entries)
    if schema_status == "fail":
        status = "fail"
    elif leakage["status"] == "warn" or drifted:
        status = "warn"
    else:
        status = "pass"
    return {
        "status": status,
        "schema": {
            "path": None if schema_path is None else shown(schema_path),
            "status": schema_status,
            "files": schema_entries,
        },
        "changes": {"status": changes_status, "files": change_entries},
        "leakage": leakage,
    }


def compare_fingerprints(
    baseline: Mapping[str, Mapping[str, Any]] | None, candidate: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Whether the data changed between two training runs, from their per-role fingerprints.

    Fingerprints are io.fingerprint() dicts (sha256, rows, columns, schema_hash) keyed by role.
    """
    files: list[dict[str, Any]] = []
    for role, current in candidate.items():
        before = (baseline or {}).get(role)
        if before is None:
            files.append({"role": role, "changed": None, "reason": "no baseline fingerprint"})
            continue
        reasons = []
        if before.get("sha256") != current.get("sha256"):
            reasons.append("content")
        if before.get("rows") != current.get("rows"):
            reasons.append(f"rows {before.get('rows')} -> {current.get('rows')}")
        if before.get("schema_hash") != current.get("schema_hash"):
            reasons.append("columns or dtypes")
        files.append({"role": role, "changed": bool(reasons), "reason": ", ".join(reasons) or "identical"})
    known = [f["changed"] for f in files if f["changed"] is not None]
    status = "unknown" if not known else "changed" if any(known) else "unchanged"
    return {"status": status, "files": files}
