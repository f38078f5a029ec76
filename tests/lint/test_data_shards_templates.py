"""The sharded data check templates keep their promises: the GitHub matrix starter and the GitLab ``parallel:``
templates profile shards 1..N on the reference's bins, hand every part to one merge job that judges the drift,
with least privilege, pinned actions, no expression in a shell script, and docs for every input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.lint.test_github_templates import OWN_ACTION, PINNED, USES, jobs, load, run_blocks
from tests.lint.test_gitlab_templates import defaults, documents, interpolate

ROOT = Path(__file__).resolve().parents[2]
STARTER = ROOT / "ci_templates" / "github" / "mlops-data-shards.yml"
GITLAB = ROOT / "templates"
SHARD_TEMPLATE = GITLAB / "mlops-data-shard" / "template.yml"
MERGE_TEMPLATE = GITLAB / "mlops-data-merge" / "template.yml"
BUNDLE = GITLAB / "mlops-pipeline" / "template.yml"
DOC = ROOT / "docs" / "data-checks.md"
INSTALL_ACTION = "mlops-actions/mlops-actions/.github/actions/install@v0"


def step_named(job: dict[str, Any], prefix: str) -> dict[str, Any]:
    [step] = [s for s in job["steps"] if s.get("name", "").startswith(prefix)]
    return step


def test_the_starter_grants_nothing_at_the_top_and_only_reads_the_repository_per_job():
    document = load(STARTER)
    assert document["permissions"] == {}
    assert document["concurrency"]["cancel-in-progress"] is False
    for name, job in jobs(STARTER).items():
        assert job["permissions"] == {"contents": "read"}, name


def test_the_starter_pins_third_party_actions_and_keeps_expressions_out_of_its_scripts():
    for line in STARTER.read_text().splitlines():
        found = USES.match(line)
        if found and not OWN_ACTION.match(found.group(1)):
            assert PINNED.match(line), line
    for script in run_blocks(load(STARTER)):
        assert "${{" not in script, script
    for job in jobs(STARTER).values():
        steps = job["steps"]
        assert [
            s["with"]["persist-credentials"]
            for s in steps
            if s.get("uses", "").startswith("actions/checkout@")
        ] == [False]
        assert any(s.get("uses") == INSTALL_ACTION for s in steps)
        assert not any("pip install" in s.get("run", "") for s in steps)


def test_the_matrix_lists_the_shards_one_to_n_and_each_job_profiles_its_own_on_the_reference_bins():
    document = load(STARTER)
    profile = jobs(STARTER)["profile"]
    shards = int(document["env"]["MLOPS_SHARDS"])
    assert profile["strategy"]["matrix"] == {"shard": list(range(1, shards + 1))}
    assert profile["strategy"]["fail-fast"] is True
    step = step_named(profile, "Profile this shard")
    assert step["env"]["SHARD"] == "${{ matrix.shard }}"
    assert step["run"] == (
        'mlops-actions data profile "$MLOPS_DATA" --shard "$SHARD/$MLOPS_SHARDS"'
        ' --bins-from "$MLOPS_DATA_REFERENCE" -o "$PART"'
    )
    upload = step_named(profile, "Upload the partial profile")
    assert upload["with"]["name"] == "mlops-data-part-${{ matrix.shard }}"
    assert upload["with"]["path"] == step["env"]["PART"]
    assert upload["with"]["if-no-files-found"] == "error"


def test_the_final_job_merges_every_part_and_judges_the_drift_with_its_exit_code_and_a_summary():
    profile, drift = jobs(STARTER)["profile"], jobs(STARTER)["drift"]
    assert drift["needs"] == "profile"
    assert drift["defaults"]["run"]["shell"] == "bash"  # -eo pipefail: tee keeps the verdict's exit code
    download = step_named(drift, "Download the partial profiles")
    assert download["with"]["pattern"] == "mlops-data-part-*" and download["with"]["merge-multiple"] is True
    merge = step_named(drift, "Merge the partial profiles")
    assert merge["env"]["PARTS"] == download["with"]["path"]
    assert merge["run"] == 'mlops-actions data merge "$PARTS"/part-*.json -o "$MERGED"'
    judge = step_named(drift, "Judge the drift")
    assert judge["env"]["MERGED"] == merge["env"]["MERGED"]
    assert judge["run"] == 'mlops-actions data drift "$MLOPS_DATA_REFERENCE" "$MERGED" | tee "$REPORT"'
    assert "if" not in judge and "continue-on-error" not in judge  # drift fails the job
    summary = step_named(drift, "Put the report in the job summary")
    assert summary["if"] == "${{ !cancelled() }}" and summary["env"]["REPORT"] == judge["env"]["REPORT"]
    assert 'cat "$REPORT"' in summary["run"] and "$GITHUB_STEP_SUMMARY" in summary["run"]
    kept = step_named(drift, "Upload the merged profile")
    assert kept["if"] == "${{ !cancelled() }}"
    assert kept["with"]["path"].splitlines() == [judge["env"]["MERGED"], judge["env"]["REPORT"]]
    assert profile["defaults"]["run"]["shell"] == "bash"


def test_the_starter_header_links_the_docs_section():
    head = STARTER.read_text().split("\nname:")[0]
    assert head.startswith("#") and "docs/data-checks.md" in head and "Shards in CI" in head


def gitlab_job(template: Path, **inputs: Any) -> dict[str, Any]:
    spec, body = documents(template)
    [job] = interpolate(body, {**defaults(spec), **inputs}).values()
    return job  # type: ignore[no-any-return]


def test_the_gitlab_shard_job_runs_in_parallel_and_profiles_node_index_of_node_total():
    spec, _body = documents(SHARD_TEMPLATE)
    assert spec["spec"]["inputs"]["shards"]["type"] == "number"
    job = gitlab_job(SHARD_TEMPLATE, shards=7)
    assert job["parallel"] == 7
    [script] = job["script"]
    assert '--shard "$CI_NODE_INDEX/$CI_NODE_TOTAL"' in script
    assert '--bins-from "$MLOPS_DATA_REFERENCE"' in script
    assert script.endswith('-o "$MLOPS_OUTPUT_DIR/part-$CI_NODE_INDEX.json"')
    assert job["artifacts"]["paths"] == ["mlops-out/part-$CI_NODE_INDEX.json"]


def test_the_gitlab_merge_job_needs_the_shard_job_by_name_and_reads_its_parts():
    shard_spec, _ = documents(SHARD_TEMPLATE)
    merge_spec, _ = documents(MERGE_TEMPLATE)
    assert defaults(merge_spec)["needs"] == [defaults(shard_spec)["as"]]
    assert defaults(merge_spec)["rules"] == defaults(shard_spec)["rules"]
    job = gitlab_job(MERGE_TEMPLATE)
    [script] = job["script"]
    merge, drift = script.split(" && ")
    assert (
        merge
        == 'mlops-actions data merge "$MLOPS_OUTPUT_DIR"/part-*.json -o "$MLOPS_OUTPUT_DIR/current-profile.json"'
    )
    assert (
        drift == 'mlops-actions data drift "$MLOPS_DATA_REFERENCE" "$MLOPS_OUTPUT_DIR/current-profile.json"'
    )
    assert job["variables"]["MLOPS_DRIFT_THRESHOLDS"] == ""
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["paths"] == ["mlops-out/current-profile.json"]


def bundle_entry(name: str) -> dict[str, Any]:
    spec, body = documents(BUNDLE)
    entries = interpolate(body, defaults(spec))["include"]
    [entry] = [e for e in entries if e["local"].endswith(f"/{name}")]
    return entry["inputs"]  # type: ignore[no-any-return]


def test_the_bundle_runs_the_sharded_check_only_when_dispatched_with_the_same_rules_for_both_jobs():
    shard, merge = (
        bundle_entry("mlops-data-shard/template.yml"),
        bundle_entry("mlops-data-merge/template.yml"),
    )
    assert shard["rules"] == merge["rules"] == [{"if": '$MLOPS_DISPATCH == "data-shards"'}]
    assert shard["stage"] == merge["stage"]
    assert shard["reference"] == merge["reference"] and shard["output_dir"] == merge["output_dir"]
    assert shard["shards"] == 3


def test_a_wrong_shard_count_type_fails_the_gitlab_schema(tmp_path):
    from tests.lint.test_gitlab_templates import validate

    assert validate(
        {"broken": {"mlops-data-shard": gitlab_job(SHARD_TEMPLATE, shards="many")}}, tmp_path
    ).returncode
    assert not validate({"fine": {"mlops-data-shard": gitlab_job(SHARD_TEMPLATE)}}, tmp_path).returncode


@pytest.mark.parametrize("text", ["mlops-data-shards.yml", "`mlops-data-shard`", "`mlops-data-merge`"])
def test_the_shards_in_ci_section_names_each_template(text):
    section = DOC.read_text(encoding="utf-8").split("## Shards in CI", 1)[1]
    assert text in section
    assert "--shard" in section and "data merge" in section and "parallel:" in section
