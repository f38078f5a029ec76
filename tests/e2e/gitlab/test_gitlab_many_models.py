"""Two models in one repository under gitlab-ci-local: the bundle with `configs` runs one check job and one
release job per config (parallel:matrix). The merge request changes model A only, so A is checked and noted
while B's job ends with a `skipped:` line; the default branch's first pipeline releases both. Against the
contract-enforcing GitLab API stand-in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_actions.platforms.comments import sticky_marker
from tests.conftest import TINY_CONFIG, TINY_MODEL, write_tiny_data
from tests.e2e.gitlab.conftest import GitLabPrepared
from tests.e2e.gitlab.gitlab_harness import (
    TEMPLATES_PROJECT,
    TEMPLATES_REF,
    GitLabCiLocal,
    git,
    with_origin_and_templates,
)
from tests.standins.gitlab import GitLabStandIn

pytestmark = pytest.mark.e2e

PRIVATE_TOKEN = "glpat-e2e-many-models-6d0e"
JOB_TOKEN = "glcbt-e2e-many-models-93c4"
PIPELINE = f"""\
include:
  - project: {TEMPLATES_PROJECT}
    ref: {TEMPLATES_REF}
    file: /templates/mlops-pipeline/template.yml
    inputs:
      install: mlops-actions --version
      deploy_install: mlops-actions --version
      configs: [models/a/mlops.yaml, models/b/mlops.yaml]
"""


@pytest.fixture
def api() -> Iterator[GitLabStandIn]:
    with GitLabStandIn(tokens={PRIVATE_TOKEN: "api"}, job_tokens={JOB_TOKEN}, merge_requests=(1,)) as standin:
        yield standin


def two_models(path: Path) -> Path:
    """models/a and models/b (the tiny project, no baseline) and the pipeline on main; branch tune-a changes a."""
    for name in ("a", "b"):
        folder = path / "models" / name
        folder.mkdir(parents=True)
        (folder / "tiny_model.py").write_text(TINY_MODEL)
        config = TINY_CONFIG.replace("name: tiny", f"name: {name}").replace(
            "resamples: 300", "resamples: 200"
        )
        config = config.replace("  backend: local\n  path: .registry\n", "  backend: gitlab\n")
        (folder / "mlops.yaml").write_text(config + "baseline:\n  source: none\n")
        write_tiny_data(folder, rows=400, seed=ord(name))
    (path / ".gitlab-ci.yml").write_text(PIPELINE)
    (path / ".gitignore").write_text(
        ".registry/\nmlops-out/\n.mlops/\n__pycache__/\n.gitlab-ci-local/\n.gitlab-ci-local-variables.yml\n"
    )
    git("init", "-q", "-b", "main", cwd=path)
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "Two models", cwd=path)
    git("checkout", "-q", "-b", "tune-a", cwd=path)
    config_a = path / "models" / "a" / "mlops.yaml"
    config_a.write_text(config_a.read_text().replace("params: {C: 1.0}", "params: {C: 0.5}"))
    git("commit", "-q", "-am", "Model a: C 0.5", cwd=path)
    git("checkout", "-q", "main", cwd=path)
    return with_origin_and_templates(path)


def test_a_merge_request_checks_the_changed_model_only_and_the_first_push_releases_both(
    gitlab_prepared: GitLabPrepared, api: GitLabStandIn, tmp_path: Path
):
    repo = two_models(tmp_path / "two-models")
    pipelines = GitLabCiLocal(repo, gitlab_prepared.venv, api.url, PRIVATE_TOKEN, JOB_TOKEN)
    base = git("rev-parse", "main", cwd=repo)
    run = pipelines.run("tune-a", merge_request_iid=1, variables={"CI_MERGE_REQUEST_DIFF_BASE_SHA": base})
    assert run.succeeded, run.output[-6000:]
    assert "skipped: b (no input changed: models/b/" in run.output
    assert "skipped: a" not in run.output
    [note] = api.mr_notes(1)
    assert str(note["body"]).startswith(sticky_marker("a"))
    assert api.violations == []
    assert PRIVATE_TOKEN not in run.output and JOB_TOKEN not in run.output

    released = pipelines.run("main")
    assert released.succeeded, released.output[-6000:]
    assert set(api.tags) == {"a@v1.0.0", "b@v1.0.0"}
    assert set(api.releases) == {"a@v1.0.0", "b@v1.0.0"}
    assert api.violations == []
