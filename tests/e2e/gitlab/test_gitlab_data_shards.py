"""The sharded data check templates (mlops-data-shard.yml with ``parallel:``, mlops-data-merge.yml) run for
real under gitlab-ci-local, through the bundle.

A temporary repository holds example_project, a ``.gitlab-ci.yml`` including the bundle with the shards set
to a drifted current Parquet file of six row groups and a reference profile (tests/e2e/shards_data.py). One
pipeline started with ``MLOPS_DISPATCH=data-shards`` runs the three shard jobs (CI_NODE_INDEX/CI_NODE_TOTAL)
and the merge job, which takes their artifacts through ``needs``. The tests read that one pipeline: only
those jobs ran, the parts split the rows, and the merged profile and the drift verdict (drift: the merge job
fails) are those of one job on the whole file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.e2e.gitlab.conftest import GitLabPrepared
from tests.e2e.gitlab.gitlab_harness import (
    TEMPLATES_PROJECT,
    TEMPLATES_REF,
    GitLabCiLocal,
    PipelineRun,
    example_repository,
    git,
)
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

PRIVATE_TOKEN = "glpat-e2e-shards-token-0d4e"  # no job of the sharded check calls the API
JOB_TOKEN = "glcbt-e2e-shards-job-token-a771"
OTHER_JOBS = ("mlops-check", "mlops-release", "mlops-deploy", "mlops-monitor", "mlops-retrain")


class ShardedPipeline:
    def __init__(self, pipelines: GitLabCiLocal, run: PipelineRun, whole: Path) -> None:
        self.pipelines = pipelines
        self.run = run
        self.whole = whole

    def parts(self) -> list[dict]:
        """The partial profiles the shard jobs kept as artifacts, by shard index."""
        found = sorted(
            (self.pipelines.repo / ".gitlab-ci-local" / "artifacts").glob("*/mlops-out/part-*.json")
        )
        return [
            json.loads(path.read_text()) for path in sorted(found, key=lambda p: int(p.stem.split("-")[1]))
        ]


@pytest.fixture(scope="module")
def sharded(gitlab_prepared: GitLabPrepared, tmp_path_factory: pytest.TempPathFactory) -> ShardedPipeline:
    root = tmp_path_factory.mktemp("gitlab-shards")
    repo = example_repository(root / "credit", {})
    pipeline = {
        "include": [
            {
                "project": TEMPLATES_PROJECT,
                "ref": TEMPLATES_REF,
                "file": "/templates/mlops-pipeline/template.yml",
                "inputs": {
                    "install": "mlops-actions --version",
                    "deploy_install": "mlops-actions --version",
                    "shards_count": SHARDS,
                    "shards_data": CURRENT,
                    "shards_reference": REFERENCE_PROFILE,
                },
            }
        ]
    }
    (repo / ".gitlab-ci.yml").write_text(yaml.safe_dump(pipeline, sort_keys=False), encoding="utf-8")
    write_shard_data(repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "Check the current data in shards", cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo)
    pipelines = GitLabCiLocal(repo, gitlab_prepared.venv, "http://127.0.0.1:9", PRIVATE_TOKEN, JOB_TOKEN)
    run = pipelines.run("main", variables={"CI_PIPELINE_SOURCE": "api", "MLOPS_DISPATCH": "data-shards"})
    whole = root / "whole"
    whole.mkdir()
    return ShardedPipeline(pipelines, run, whole)


def test_a_data_shards_pipeline_runs_the_shard_jobs_in_parallel_and_the_merge_alone(sharded):
    output = sharded.run.output
    for index in range(1, SHARDS + 1):
        assert f"mlops-data-shard: [{index}/{SHARDS}]" in output, output[-4000:]
    assert "mlops-data-merge" in output
    for job in OTHER_JOBS:
        assert job not in output, job
    assert PRIVATE_TOKEN not in output and JOB_TOKEN not in output


def test_each_parallel_job_profiles_its_own_share_of_the_rows(sharded):
    parts = sharded.parts()
    assert_parts_split_the_rows(parts)
    assert [part["shard"] for part in parts] == [f"{i}/{SHARDS}" for i in range(1, SHARDS + 1)]


def test_the_merged_shards_are_the_profile_of_one_job_on_the_whole_file(sharded):
    merged_path = sharded.pipelines.job_file("mlops-data-merge", "mlops-out/current-profile.json")
    whole, _report, _code = one_job(sharded.pipelines.venv, sharded.pipelines.repo, sharded.whole)
    assert_same_profile(json.loads(merged_path.read_text()), whole)


def test_drift_fails_the_merge_job_with_the_verdict_of_one_job_on_the_whole_file(sharded):
    assert not sharded.run.succeeded, sharded.run.output[-4000:]
    assert "dataset: DRIFT" in sharded.run.output  # the report is in the merge job's log
    venv, repo = sharded.pipelines.venv, sharded.pipelines.repo
    merged_path = sharded.pipelines.job_file("mlops-data-merge", "mlops-out/current-profile.json")
    merged, merged_code = drift_json(venv, repo, merged_path)
    _whole, report, whole_code = one_job(venv, repo, sharded.whole)
    assert merged_code == whole_code == 1
    (merged_drifted, merged_columns, merged_details) = verdict(merged)
    (drifted, columns, details) = verdict(report)
    assert merged_drifted is drifted is True
    assert merged_columns == columns == DRIFTED
    assert_close(merged_details, details, "drift columns")
