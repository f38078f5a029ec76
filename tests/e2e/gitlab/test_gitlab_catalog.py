"""This repository's own ``.gitlab-ci.yml`` (a CI/CD catalog project) run under gitlab-ci-local 4.65.0.

A temporary git repository holds a copy of this working tree (tracked and untracked, not ignored files) on
``main`` with a merge request branch; its ``gcl-origin`` names it ``mlops-actions/mlops-actions`` on the
instance, so ``$CI_SERVER_FQDN/$CI_PROJECT_PATH/<name>@$CI_COMMIT_SHA`` is a component of the repository
itself at its own commit, which gitlab-ci-local reads from the working copy's ``templates/`` (no fetch).

What runs locally:
- ``--list``/``--preview`` of the root pipeline for a merge request, the default branch and a version tag
  (which jobs exist and which rules pick them);
- ``--preview`` of every scenario file, the child pipeline expanded with the components of the working copy
  and the scenario's inputs;
- the merge request pipeline's ``scenario-check`` trigger job, which starts the check scenario's child
  pipeline (gitlab-ci-local's experimental downstream pipelines, ``trigger: include: local:`` only): its
  ``mlops-check`` job trains, retrains the target branch, gates and posts the note to the GitLab API stand-in.

What gitlab-ci-local cannot do, and how it is checked instead:
- the ``release:`` keyword: gitlab-ci-local runs the ``create-release`` job's script but has no release-cli
  step, so nothing creates a release or publishes to the catalog. ``tests/lint/test_gitlab_catalog.py``
  checks the keyword (``tag_name: $CI_COMMIT_TAG``, tag-only rules, the notes job ``needs`` every scenario) and the
  layout the catalog requires; here the tag pipeline's ``--list`` shows the job only on a version tag;
- inner ``include: local:`` of a component: gitlab-ci-local turns them into ``include: project:`` of the
  component's project at the component's ref and reads them from its include cache, where GitLab reads the
  component project's files at that commit. The test puts the working copy's ``templates/`` there
  (:func:`cache_templates`) so the bundle scenario expands from the same files;
- a downstream pipeline gets only the trigger job's and the global variables, not the parent's command-line
  variables: the GitLab API URL and project go in the variables file (the project's CI/CD variables, which
  child pipelines see on GitLab too). The trigger job's variables reach the child unexpanded
  (``MLOPS_MR_IID: $CI_MERGE_REQUEST_IID``; GitLab expands them in the parent), so the merge request's IID is
  a project variable of the run as well; the parent waits for every child whatever its ``strategy``, and the
  job name of a command line would select jobs in the child too, so the whole pipeline runs
  (``--concurrency 1``: the two scenarios' ``mlops-check`` jobs share a build folder).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mlops_actions.platforms.comments import sticky_marker
from tests.e2e.gitlab.conftest import GitLabPrepared
from tests.e2e.gitlab.gitlab_harness import (
    REPO_ROOT,
    SERVER_HOST,
    GitLabCiLocal,
    cache_templates,
    git,
)
from tests.standins.gitlab import GitLabStandIn

pytestmark = pytest.mark.e2e

CATALOG_PROJECT = "mlops-actions/mlops-actions"
PRIVATE_TOKEN = "glpat-e2e-catalog-token-3f7a"
JOB_TOKEN = "glcbt-e2e-catalog-job-7c02"
SCENARIOS = sorted((REPO_ROOT / ".gitlab" / "ci" / "scenarios").glob("*.yml"))
MR_IID = 1
NOTE_OPERATIONS = {"listMergeRequestNotes", "createMergeRequestNote", "updateMergeRequestNote"}


@pytest.fixture(scope="module")
def api() -> Iterator[GitLabStandIn]:
    with GitLabStandIn(
        tokens={PRIVATE_TOKEN: "api"}, job_tokens={JOB_TOKEN}, merge_requests=(MR_IID,)
    ) as standin:
        yield standin


@pytest.fixture(autouse=True)
def _contract_kept(api: GitLabStandIn) -> Iterator[None]:
    yield
    assert api.violations == []


def working_copy(path: Path) -> Path:
    """This working tree's files (tracked and untracked, not ignored) in a new repository at ``path``: main,
    and a merge request branch ``scenario`` one commit ahead, pushed to a local bare ``origin``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file() and not source.is_symlink():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, path / name)
    with open(path / ".gitignore", "a", encoding="utf-8") as handle:
        handle.write(".gitlab-ci-local/\n.gitlab-ci-local-variables.yml\n")
    git("init", "-q", "-b", "main", cwd=path)
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "mlops-actions", cwd=path)
    git("checkout", "-q", "-b", "scenario", cwd=path)
    (path / "docs" / "scenario.md").write_text("A merge request of the catalog project.\n", encoding="utf-8")
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "A merge request", cwd=path)
    git("checkout", "-q", "main", cwd=path)
    bare = path.parent / f"{path.name}-origin.git"
    git("init", "-q", "--bare", str(bare), cwd=path.parent)
    git("remote", "add", "origin", str(bare), cwd=path)
    git("push", "-q", "origin", "--all", cwd=path)
    git("remote", "set-head", "origin", "main", cwd=path)
    git("remote", "add", "gcl-origin", f"https://{SERVER_HOST}/{CATALOG_PROJECT}.git", cwd=path)
    return path


@pytest.fixture(scope="module")
def catalog(
    gitlab_prepared: GitLabPrepared, api: GitLabStandIn, tmp_path_factory: pytest.TempPathFactory
) -> GitLabCiLocal:
    repo = working_copy(tmp_path_factory.mktemp("gitlab-catalog") / "mlops-actions")
    for branch in ("main", "scenario"):
        cache_templates(repo, CATALOG_PROJECT, git("rev-parse", branch, cwd=repo))
    return GitLabCiLocal(repo, gitlab_prepared.venv, api.url, PRIVATE_TOKEN, JOB_TOKEN)


def file_variables(api: GitLabStandIn) -> dict[str, str]:
    """The project's CI/CD variables of the runs: the API stand-in, and the install the venv already holds."""
    return {
        "GITLAB_CI": "true",
        "CI_API_V4_URL": api.url,
        "CI_PROJECT_ID": "42",
        "MLOPS_SCENARIO_INSTALL": "mlops-actions --version",
    }


PROGRESS = re.compile(r"^(parsing and downloads finished|json schema validated) in ")


def without_progress(output: str) -> list[str]:
    """The output's lines without gitlab-ci-local's progress lines (written to stderr)."""
    return [line for line in output.splitlines() if not PROGRESS.match(line)]


def listed_jobs(output: str) -> set[str]:
    """The job names of gitlab-ci-local's ``--list`` table."""
    lines = without_progress(output)
    start = next(i for i, line in enumerate(lines) if line.startswith("name "))
    return {line.split()[0] for line in lines[start + 1 :] if line.strip()}


def preview(output: str) -> dict[str, object]:
    """The expanded configuration that ``--preview`` prints after its progress lines."""
    lines = without_progress(output)
    return yaml.safe_load("\n".join(lines[lines.index("---") :]))


def test_the_root_pipeline_has_one_child_pipeline_per_scenario_and_the_release_only_on_a_version_tag(
    catalog, api
):
    merge_request = catalog.run(
        "scenario", merge_request_iid=MR_IID, file_variables=file_variables(api), args=("--list",)
    )
    default_branch = catalog.run("main", file_variables=file_variables(api), args=("--list",))
    tag = catalog.run(
        "main",
        variables={"CI_COMMIT_TAG": "v0.1.0", "CI_COMMIT_BRANCH": "", "CI_PIPELINE_SOURCE": "push"},
        file_variables=file_variables(api),
        args=("--list",),
    )
    scenarios = {f"scenario-{path.stem}" for path in SCENARIOS}
    for run in (merge_request, default_branch, tag):
        assert run.succeeded, run.output[-3000:]
    assert listed_jobs(merge_request.output) == scenarios
    assert listed_jobs(default_branch.output) == scenarios
    assert listed_jobs(tag.output) == scenarios | {"release-notes", "create-release"}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[path.stem for path in SCENARIOS])
def test_each_scenario_expands_with_the_components_of_the_working_copy(catalog, api, scenario):
    run = catalog.run(
        "main",
        variables={"CI_PIPELINE_SOURCE": "parent_pipeline"},
        file_variables=file_variables(api),
        args=("--file", str(scenario.relative_to(REPO_ROOT)), "--preview"),
    )
    assert run.succeeded, run.output[-3000:]
    expanded = preview(run.output)
    check = expanded["mlops-check"]
    assert isinstance(check, dict)
    template = yaml.safe_load_all((REPO_ROOT / "templates" / "mlops-check" / "template.yml").read_text())
    jobs = list(template)[1]
    assert check["script"] == jobs["$[[ inputs.as ]]"]["script"]
    assert check["variables"]["MLOPS_CONFIG"] == "example_project/mlops.yaml"
    assert check["rules"] == [{"when": "on_success"}]


def test_a_merge_request_pipeline_runs_every_scenario_and_the_checks_write_one_note_through_the_api(
    catalog, api
):
    run = catalog.run(
        "scenario",
        merge_request_iid=MR_IID,
        # A downstream pipeline of gitlab-ci-local gets the trigger job's variables unexpanded
        # (MLOPS_MR_IID=$CI_MERGE_REQUEST_IID), so the merge request's IID is a project variable here.
        file_variables={**file_variables(api), "CI_MERGE_REQUEST_IID": str(MR_IID)},
        args=("--concurrency", "1"),
        timeout=1200,
    )
    assert run.succeeded, run.output[-6000:]
    # check.yml first, then pipeline.yml: the check compared with the retrained target branch, the bundle's
    # check ran without a baseline.
    verdicts = re.findall(r"credit-default: (PASS|FAIL) \(baseline: ([a-z-]+)\)", run.output)
    assert len(verdicts) == len(SCENARIOS), run.output[-6000:]
    assert verdicts[0][0] == "PASS" and verdicts[0][1] != "none"
    assert verdicts[1] == ("PASS", "none")
    notes = [n for n in api.mr_notes(MR_IID) if str(n["body"]).startswith(sticky_marker("credit-default"))]
    assert len(notes) == 1
    note_writes = [s.operation for s in api.writes() if s.operation in NOTE_OPERATIONS]
    assert note_writes == ["createMergeRequestNote", "updateMergeRequestNote"]
