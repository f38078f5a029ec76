"""The sharded data check starter (ci_templates/github/mlops-data-shards.yml) runs for real under act.

A temporary repository holds example_project, the starter as its workflow, a reference profile and a drifted
current Parquet file of six row groups (tests/e2e/shards_data.py). One dispatch runs the three shard jobs of
the matrix, each profiling its share on the reference's bins and uploading it, then the final job, which
downloads the parts, merges them and judges the drift. The tests read that one run: the parts split the rows,
the merged profile is the profile of one job on the whole file, and so is the verdict (drift: the final job
fails), whose report is the job summary.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.act_harness import REPO_ROOT, REPOSITORY, ActHarness, ActRun, Prepared, example_repository, git
from tests.e2e.shards_data import (
    CURRENT,
    DRIFTED,
    REFERENCE_PROFILE,
    SHARDS,
    assert_close,
    assert_parts_split_the_rows,
    assert_same_profile,
    drift_json,
    one_job,
    verdict,
    write_shard_data,
)

pytestmark = pytest.mark.e2e

WORKFLOW = ".github/workflows/mlops-data-shards.yml"
RUN_ID = 9970
TOKEN = "ghs_e2e-shards-token-51c0"  # no step of the starter calls the API


class ShardedRun:
    """The one act run of the starter, and what one job on the whole file gives for comparison."""

    def __init__(self, harness: ActHarness, run: ActRun, whole: Path) -> None:
        self.harness = harness
        self.run = run
        self.whole = whole

    def artifact(self, name: str) -> Path:
        return self.harness.artifacts / str(RUN_ID) / name

    def explain(self) -> str:
        return f"act exit {self.run.returncode} after {self.run.seconds:.0f}s\n{self.run.output[-8000:]}"


@pytest.fixture(scope="module")
def sharded(act_env: Prepared, tmp_path_factory: pytest.TempPathFactory) -> ShardedRun:
    root = tmp_path_factory.mktemp("github-shards")
    repo = example_repository(root / "credit", {})
    (repo / WORKFLOW).write_text(
        (REPO_ROOT / "ci_templates" / "github" / "mlops-data-shards.yml").read_text()
    )
    write_shard_data(repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "Check the current data in shards", cwd=repo)
    harness = ActHarness.in_folder(act_env, repo, root, api_url="http://127.0.0.1:9", token=TOKEN)
    payload = {
        "inputs": {"data": CURRENT, "reference": REFERENCE_PROFILE},
        "ref": "refs/heads/main",
        "repository": {"full_name": REPOSITORY, "default_branch": "main"},
        "sender": {"login": "octocat"},
    }
    run = harness.run("workflow_dispatch", payload, workflow=WORKFLOW, run_id=RUN_ID)
    whole = root / "whole"
    whole.mkdir()
    return ShardedRun(harness, run, whole)


def test_each_matrix_job_profiles_its_own_share_of_the_rows(sharded):
    parts = []
    for index in range(1, SHARDS + 1):
        [path] = sharded.artifact(f"mlops-data-part-{index}").glob("*.json")
        assert path.name == f"part-{index}.json", sharded.explain()
        parts.append(json.loads(path.read_text()))
    assert_parts_split_the_rows(parts)
    assert [part["shard"] for part in parts] == [f"{i}/{SHARDS}" for i in range(1, SHARDS + 1)]


def test_the_merged_shards_are_the_profile_of_one_job_on_the_whole_file(sharded, act_env):
    folder = sharded.artifact(f"mlops-data-drift-{RUN_ID}-1")
    merged = json.loads((folder / "current-profile.json").read_text())
    whole, _report, _code = one_job(act_env.venv, sharded.harness.repo, sharded.whole)
    assert_same_profile(merged, whole)


def test_drift_fails_the_final_job_with_the_verdict_of_one_job_on_the_whole_file(sharded, act_env):
    assert not sharded.run.succeeded, sharded.explain()
    assert "merge the shards and judge the drift" in sharded.run.output
    folder = sharded.artifact(f"mlops-data-drift-{RUN_ID}-1")
    merged, merged_code = drift_json(act_env.venv, sharded.harness.repo, folder / "current-profile.json")
    _whole, report, whole_code = one_job(act_env.venv, sharded.harness.repo, sharded.whole)
    assert merged_code == whole_code == 1
    (merged_drifted, merged_columns, merged_details), (drifted, columns, details) = (
        verdict(merged),
        verdict(report),
    )
    assert merged_drifted is drifted is True
    assert merged_columns == columns == DRIFTED
    assert_close(merged_details, details, "drift columns")

    text = (folder / "drift.txt").read_text()
    assert text.rstrip().splitlines()[-1].startswith("dataset: DRIFT")
    assert "Summary - ### Data drift of the merged shards" in sharded.run.output  # the job summary
    assert TOKEN not in sharded.run.output
