"""Run this repository's GitLab CI templates for real under gitlab-ci-local, offline.

gitlab-ci-local (npm, pinned in ``package.json``) runs the jobs in the shell (``--shell-executor-no-image``)
in an isolated copy of a temporary git repository holding example_project. The repository's
``.gitlab-ci.yml`` includes the components exactly as a user does, with ``include: project:``: this working
tree's ``templates/`` is placed in gitlab-ci-local's include cache, so nothing is fetched. The job image is
ignored (``--force-shell-executor``); the jobs find ``mlops-actions`` on PATH in a prepared virtual environment. The
GitLab API is the contract-enforcing stand-in on 127.0.0.1; tokens go in gitlab-ci-local's variables file,
never on a command line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]
EXAMPLE = REPO_ROOT / "example_project"
TEMPLATES = REPO_ROOT / "templates"
GITLAB_CI_LOCAL = HERE / "node_modules" / ".bin" / "gitlab-ci-local"
SERVER_HOST = "gitlab.example.com"
PROJECT_PATH = "acme/credit"
TEMPLATES_PROJECT = "mlops/mlops-actions"
TEMPLATES_REF = "v1"
IGNORED = shutil.ignore_patterns(
    ".mlops", "mlops-out", ".pytest_cache", ".ruff_cache", "__pycache__", "*.pyc"
)
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "e2e",
    "GIT_AUTHOR_EMAIL": "e2e@example.invalid",
    "GIT_COMMITTER_NAME": "e2e",
    "GIT_COMMITTER_EMAIL": "e2e@example.invalid",
}

PIPELINE = f"""\
include:
  - project: {TEMPLATES_PROJECT}
    ref: {TEMPLATES_REF}
    file: /templates/mlops-pipeline/template.yml
    inputs:
      install: mlops-actions --version
      deploy_install: mlops-actions --version
"""


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_IDENTITY},
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def example_repository(path: Path, branches: dict[str, list[str]]) -> Path:
    """example_project on main with the gitlab registry and the pipeline, one branch per entry of patches.

    ``origin`` is a local bare repository (the jobs fetch the target branch from it); ``gcl-origin`` tells
    gitlab-ci-local the project's URL on the GitLab instance.
    """
    shutil.copytree(EXAMPLE, path, ignore=IGNORED)
    config = yaml.safe_load((path / "mlops.yaml").read_text(encoding="utf-8"))
    config["registry"] = {"backend": "gitlab"}
    (path / "mlops.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    (path / ".gitlab-ci.yml").write_text(PIPELINE, encoding="utf-8")
    with open(path / ".gitignore", "a", encoding="utf-8") as handle:
        handle.write(".gitlab-ci-local/\n.gitlab-ci-local-variables.yml\n")
    git("init", "-q", "-b", "main", cwd=path)
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "The credit-default model", cwd=path)
    for branch, patches in branches.items():
        git("checkout", "-q", "-b", branch, "main", cwd=path)
        for patch in patches:
            git("apply", str(EXAMPLE / "changes" / patch), cwd=path)
            git("commit", "-q", "-am", f"Apply {patch}", cwd=path)
    git("checkout", "-q", "main", cwd=path)
    return with_origin_and_templates(path)


def with_origin_and_templates(path: Path) -> Path:
    """Push the repository at ``path`` to a local bare ``origin``, name its GitLab URL (``gcl-origin``) and
    put this working tree's templates in gitlab-ci-local's include cache."""
    bare = path.parent / f"{path.name}-origin.git"
    git("init", "-q", "--bare", str(bare), cwd=path.parent)
    git("remote", "add", "origin", str(bare), cwd=path)
    git("push", "-q", "origin", "--all", cwd=path)
    git("remote", "set-head", "origin", "main", cwd=path)
    git("remote", "add", "gcl-origin", f"https://{SERVER_HOST}/{PROJECT_PATH}.git", cwd=path)
    cache_templates(path, TEMPLATES_PROJECT, TEMPLATES_REF)
    return path


def cache_templates(path: Path, project: str, ref: str) -> Path:
    """Put this working tree's ``templates/`` in the include cache of the repository at ``path``, as the files
    of ``project`` at ``ref`` (what ``include: project:`` and a component's inner ``include: local:`` read)."""
    target = path / ".gitlab-ci-local" / "includes" / SERVER_HOST / project / ref / "templates"
    shutil.copytree(TEMPLATES, target, dirs_exist_ok=True)
    return target


@dataclass
class PipelineRun:
    returncode: int
    output: str
    seconds: float

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0


@dataclass
class GitLabCiLocal:
    """Runs pipelines of the repository ``repo`` with the API stand-in at ``api_url``."""

    repo: Path
    venv: Path
    api_url: str
    private_token: str
    job_token: str
    project_id: int = 42

    def run(
        self,
        branch: str,
        *,
        merge_request_iid: int | None = None,
        variables: dict[str, str] | None = None,
        file_variables: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        timeout: float = 600,
    ) -> PipelineRun:
        """Run the pipeline of ``branch``: a merge request pipeline into main when an IID is given.

        ``file_variables`` go to gitlab-ci-local's variables file (the project's CI/CD variables, which child
        pipelines see too); ``args`` are further gitlab-ci-local arguments (``--preview``, a job name).
        """
        git("checkout", "-q", branch, cwd=self.repo)
        (self.repo / ".gitlab-ci-local-variables.yml").write_text(
            yaml.safe_dump(
                {
                    **(file_variables or {}),
                    "MLOPS_GITLAB_TOKEN": self.private_token,
                    "CI_JOB_TOKEN": self.job_token,
                }
            ),
            encoding="utf-8",
        )
        variables = {
            **(variables or {}),
            "GITLAB_CI": "true",
            "CI_API_V4_URL": self.api_url,
            "CI_PROJECT_ID": str(self.project_id),
        }
        if merge_request_iid is not None:
            variables.update(
                {
                    "CI_PIPELINE_SOURCE": "merge_request_event",
                    "CI_MERGE_REQUEST_IID": str(merge_request_iid),
                    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": branch,
                    "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
                    "CI_MERGE_REQUEST_PROJECT_ID": str(self.project_id),
                    "CI_MERGE_REQUEST_PROJECT_URL": f"https://{SERVER_HOST}/{PROJECT_PATH}",
                }
            )
        command = [
            str(GITLAB_CI_LOCAL),
            "--shell-executor-no-image",
            "--force-shell-executor",
            "--shell-isolation",
            "--no-color",
            "--ignore-predefined-vars", ",".join(sorted(k for k in {**variables, **(file_variables or {})} if k.startswith(("CI_", "GITLAB_")))),
        ]  # fmt: skip
        for name, value in variables.items():
            command += ["--variable", f"{name}={value}"]
        command += list(args)
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CI_", "GITLAB_", "MLOPS_", "GITHUB_")) and key != "CI"
        }
        env.update(GIT_IDENTITY)
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["PIP_NO_INDEX"] = "1"
        env["NO_COLOR"] = "1"
        started = time.monotonic()
        done = subprocess.run(
            command,
            cwd=self.repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return PipelineRun(done.returncode, done.stdout + done.stderr, time.monotonic() - started)

    def job_file(self, job: str, relative: str) -> Path:
        """A file the job left in its isolated build folder."""
        return self.repo / ".gitlab-ci-local" / "builds" / job / relative
