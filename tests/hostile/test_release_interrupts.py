"""Releases killed at every step boundary, then run again, and releases that race: each ends with one version of
the commit whose files match its manifest, its tag on the commit, ``production`` on it and the release record
complete, with no duplicate version, no leftover staging folder or draft.

A kill is a ``SystemExit`` raised before or after a step did its effect. A hard kill also skips the clean-up a
dying process could not run (the staging folder's removal, a draft's deletion), as SIGKILL would.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlops_actions.registry import PRODUCTION, open_registry
from mlops_actions.registry.described import parse_description
from mlops_actions.stages.release import run_release
from tests.conftest import run_git
from tests.standins.github_releases import GitHubReleasesStandIn
from tests.standins.gitlab import GitLabStandIn

GITHUB_TOKEN = "ghs_hostile-interrupt-token-7c2e"
GITLAB_JOB_TOKEN = "glcbt-hostile-interrupt-token-3"
RELEASE = "mlops_actions.stages.release"
LOCAL = "mlops_actions.platforms.local.registry:LocalRegistry"
GITHUB = "mlops_actions.platforms.github.releases:GitHubReleasesRegistry"
GITLAB = "mlops_actions.platforms.gitlab.packages:GitLabRegistry"


class Killed(SystemExit):
    """The process was killed at a step boundary."""


@dataclass(frozen=True)
class Kill:
    """Kill the release ``when`` ("before"/"after") the ``nth`` call of ``target`` (``module:Class.attr``)."""

    target: str
    when: str
    nth: int = 1
    hard: bool = False


def _owner_and_name(target: str) -> tuple[Any, str]:
    module_name, _, attribute = target.partition(":")
    owner: Any = importlib.import_module(module_name)
    *parents, name = attribute.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    return owner, name


def arm(monkeypatch: pytest.MonkeyPatch, kill: Kill) -> None:
    """Make ``kill.target`` raise Killed at its boundary; a hard kill also disables the dying run's clean-up."""
    owner, name = _owner_and_name(kill.target)
    original = getattr(owner, name)
    calls = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == kill.nth and kill.when == "before":
            raise Killed(f"killed before {kill.target}")
        value = original(*args, **kwargs)
        if calls[0] == kill.nth and kill.when == "after":
            raise Killed(f"killed after {kill.target}")
        return value

    monkeypatch.setattr(owner, name, wrapper)
    if kill.hard:
        from mlops_actions.platforms.github.releases import GitHubReleasesRegistry
        from mlops_actions.platforms.local.registry import LocalRegistry

        monkeypatch.setattr(LocalRegistry, "_discard_staging", lambda self, staging: None)
        monkeypatch.setattr(GitHubReleasesRegistry, "_delete_release", lambda self, release_id: False)
        monkeypatch.setattr(GitHubReleasesRegistry, "_delete_tag", lambda self, tag: None)


# -- the project on each backend ----------------------------------------------------------------------------


@dataclass
class Backend:
    name: str
    project: Path
    api: Any = None

    @property
    def config(self) -> Path:
        return self.project / "mlops.yaml"

    def registry(self) -> Any:
        from mlops_actions.domain.config import load_config

        return open_registry(load_config(self.config))


def _switch_backend(project: Path, registry_yaml: str) -> None:
    config = project / "mlops.yaml"
    text = config.read_text().replace("resamples: 300", "resamples: 100")
    config.write_text(text.replace("  backend: local\n  path: .registry\n", registry_yaml))
    run_git(project, "commit", "-q", "-am", "Release to the registry under test")


@pytest.fixture
def backend(
    request: pytest.FixtureRequest, tiny_project: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Backend]:
    name = request.param
    if name == "local":
        _switch_backend(tiny_project, "  backend: local\n  path: .registry\n")
        yield Backend(name, tiny_project)
    elif name == "github":
        _switch_backend(tiny_project, "  backend: github\n")
        with GitHubReleasesStandIn(token=GITHUB_TOKEN, repository="acme/tiny") as api:
            monkeypatch.setenv("GITHUB_API_URL", api.url)
            monkeypatch.setenv("GITHUB_REPOSITORY", "acme/tiny")
            monkeypatch.setenv("GITHUB_TOKEN", GITHUB_TOKEN)
            yield Backend(name, tiny_project, api)
            assert api.violations == []
    else:
        _switch_backend(tiny_project, "  backend: gitlab\n")
        with GitLabStandIn(job_tokens={GITLAB_JOB_TOKEN}) as api:
            monkeypatch.setenv("CI_API_V4_URL", api.url)
            monkeypatch.setenv("CI_PROJECT_ID", "42")
            monkeypatch.setenv("CI_JOB_TOKEN", GITLAB_JOB_TOKEN)
            yield Backend(name, tiny_project, api)
            assert api.violations == []


def release(
    backend: Backend, output: str = "mlops-out", project: Path | None = None, bump: str | None = None
) -> Any:
    project = project or backend.project
    return run_release(project / "mlops.yaml", project / output, bump=bump, candidate_source="none")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- what a complete release is, checked without the registry's own reading code ------------------------------


def assert_local_complete(backend: Backend, commit: str, version: str) -> None:
    model_dir = backend.project / ".registry" / "tiny"
    versions = sorted(p.name for p in (model_dir / "versions").iterdir())
    assert versions == [version], versions
    folder = model_dir / "versions" / version
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["commit"] == commit and manifest["version"] == version
    for name, digest in manifest["files"].items():
        assert sha256((folder / name).read_bytes()) == digest, name
    assert {"model.skops", "metadata.json", "model-card.md", "mlops-result.json", "data-profile.json"} <= set(
        manifest["files"]
    )
    assert json.loads((folder / "metadata.json").read_text())["release"]["commit"] == commit
    assert json.loads((model_dir / "aliases.json").read_text())[PRODUCTION] == version
    leftovers = [p.name for p in model_dir.iterdir() if p.name.startswith(".staging-")]
    assert leftovers == [], leftovers
    assert not [p for p in model_dir.rglob("*.tmp")]
    assert run_git(backend.project, "rev-parse", f"refs/tags/tiny@v{version}^{{commit}}") == commit


def assert_github_complete(backend: Backend, commit: str, version: str) -> None:
    api = backend.api
    tag = f"tiny@v{version}"
    [published] = api.published()
    assert published["tag_name"] == tag
    assert api.drafts() == []
    assert api.refs == {f"refs/tags/{tag}": commit}
    _card, manifest, _aliases = parse_description(published["body"])
    assert manifest is not None and manifest["state"] == "complete" and manifest["commit"] == commit
    assets = api.asset_bytes(published["id"])
    assert set(assets) == {*manifest["files"], "manifest.json"}
    for name, digest in manifest["files"].items():
        assert sha256(assets[name]) == digest, name


def assert_gitlab_complete(backend: Backend, commit: str, version: str) -> None:
    api = backend.api
    tag = f"tiny@v{version}"
    assert list(api.releases) == [tag]
    assert api.tags[tag]["sha"] == commit
    _card, manifest, _aliases = parse_description(api.releases[tag]["description"])
    assert manifest is not None and manifest["state"] == "complete" and manifest["commit"] == commit
    files = api.package_files("tiny", version)
    for name, digest in manifest["files"].items():
        assert sha256(files[name]) == digest, name
    assert json.loads(files["manifest.json"])["state"] == "complete"


COMPLETE: dict[str, Callable[[Backend, str, str], None]] = {
    "local": assert_local_complete,
    "github": assert_github_complete,
    "gitlab": assert_gitlab_complete,
}


def assert_released_once(backend: Backend, commit: str, version: str = "1.0.0") -> None:
    """One complete version of ``commit``, ``production`` on it, as the registry and the storage both show."""
    COMPLETE[backend.name](backend, commit, version)
    registry = backend.registry()
    listed = registry.list_versions()
    assert [(v.version, v.commit) for v in listed] == [(version, commit)]
    assert registry.resolve(PRODUCTION).version == version
    assert registry.verify_version(listed[0]) == []  # nothing left to repair


# -- kills at every step boundary, then a re-run -----------------------------------------------------------

STEP_KILLS = {
    "local": [
        ("after-training", [Kill("mlops_actions.stages.check:run_check", "after")]),
        ("after-staging-the-files", [Kill(f"{RELEASE}.run:_stage_release", "after")]),
        ("before-publishing", [Kill(f"{LOCAL}.publish", "before")]),
        ("staging-written-not-renamed-hard", [Kill(f"{LOCAL}._write_staging", "after", hard=True)]),
        ("twice-mid-publish-hard", [Kill(f"{LOCAL}._write_staging", "after", hard=True)] * 2),
        ("after-publishing", [Kill(f"{LOCAL}.publish", "after")]),
        ("after-verifying", [Kill(f"{LOCAL}.verify_version", "after")]),
        ("after-tagging", [Kill(f"{RELEASE}.completion:_tag_locally", "after")]),
        ("before-moving-production", [Kill(f"{RELEASE}.completion:move_production", "before")]),
        ("after-setting-the-alias", [Kill(f"{LOCAL}.set_alias", "after")]),
    ],
    "github": [
        ("after-claiming-the-tag", [Kill(f"{GITHUB}._claim", "after")]),
        ("after-creating-the-draft-hard", [Kill(f"{GITHUB}._create_draft", "after", hard=True)]),
        ("mid-upload", [Kill(f"{GITHUB}._upload", "after", nth=2)]),
        ("mid-upload-hard", [Kill(f"{GITHUB}._upload", "after", nth=2, hard=True)]),
        ("after-verifying-the-assets-hard", [Kill(f"{GITHUB}._verify_assets", "after", hard=True)]),
        (
            "published-before-removing-a-stale-draft",
            [
                Kill(f"{GITHUB}._upload", "after", nth=2, hard=True),
                Kill(f"{GITHUB}._delete_release", "before"),
            ],
        ),
        ("after-publishing", [Kill(f"{GITHUB}.publish", "after")]),
        ("before-moving-production", [Kill(f"{RELEASE}.completion:move_production", "before")]),
        ("after-writing-the-alias", [Kill(f"{GITHUB}._write_description", "after")]),
    ],
    "gitlab": [
        ("after-creating-the-release", [Kill(f"{GITLAB}._claim", "after")]),
        ("mid-upload", [Kill(f"{GITLAB}._upload", "after", nth=3)]),
        ("after-publishing", [Kill(f"{GITLAB}.publish", "after")]),
        ("before-moving-production", [Kill(f"{RELEASE}.completion:move_production", "before")]),
    ],
}
KILL_CASES = [
    pytest.param(name, kills, id=f"{name}-{case}")
    for name, cases in STEP_KILLS.items()
    for case, kills in cases
]


@pytest.mark.parametrize(("backend", "kills"), KILL_CASES, indirect=["backend"])
def test_a_release_killed_at_a_step_boundary_is_finished_completely_by_the_rerun(
    backend: Backend, kills: list[Kill], monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = run_git(backend.project, "rev-parse", "HEAD")
    for kill in kills:
        with monkeypatch.context() as patch:
            arm(patch, kill)
            with pytest.raises(Killed):
                release(backend)
    outcome = release(backend)
    assert outcome.version.version == "1.0.0" and outcome.version.commit == commit
    assert PRODUCTION in outcome.version.aliases
    assert_released_once(backend, commit)
    again = release(backend)  # and a further re-run changes nothing
    assert (again.created, again.production_moved, again.notes) == (False, False, ())
    assert_released_once(backend, commit)


@pytest.mark.parametrize("backend", ["local", "github"], indirect=True)
def test_a_rerun_puts_back_a_tag_deleted_after_the_release(backend: Backend) -> None:
    commit = run_git(backend.project, "rev-parse", "HEAD")
    release(backend)
    if backend.name == "local":
        run_git(backend.project, "tag", "-d", "tiny@v1.0.0")
    else:
        backend.api.refs.clear()
    outcome = release(backend)
    assert outcome.created is False
    assert_released_once(backend, commit)


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_a_damaged_version_is_reported_not_declared_released(backend: Backend) -> None:
    from mlops_actions.errors import RegistryError

    release(backend)
    model_file = backend.project / ".registry" / "tiny" / "versions" / "1.0.0" / "model.skops"
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    with pytest.raises(RegistryError, match=r"model\.skops: sha256 digest mismatch.*the version is damaged"):
        release(backend)


# -- races ----------------------------------------------------------------------------------------------------


def race(monkeypatch: pytest.MonkeyPatch, runs: list[Callable[[], Any]]) -> list[Any]:
    """Run the releases in threads, all released at once after staging their files, so they claim together.

    Training and recording the smoke answers take turns: both run the project's code with the process's
    environment narrowed for it, which one process does once at a time (a release is one process); the
    race under test is the claim, publication and completion.
    """
    import mlops_actions.stages.check as check
    import mlops_actions.stages.release.publication as publication
    import mlops_actions.stages.release.run as stage

    barrier = threading.Barrier(len(runs), timeout=120)
    stage_release = stage._stage_release
    run_check, one_training = check.run_check, threading.Lock()

    def train_in_turn(*args: Any, **kwargs: Any) -> Any:
        with one_training:
            return run_check(*args, **kwargs)

    monkeypatch.setattr(check, "run_check", train_in_turn)
    smoke_files = publication._smoke_files

    def smoke_in_turn(*args: Any, **kwargs: Any) -> Any:
        with one_training:
            return smoke_files(*args, **kwargs)

    monkeypatch.setattr(publication, "_smoke_files", smoke_in_turn)

    def staged_then_wait(*args: Any, **kwargs: Any) -> Any:
        staged = stage_release(*args, **kwargs)
        barrier.wait()
        return staged

    monkeypatch.setattr(stage, "_stage_release", staged_then_wait)
    outcomes: list[Any] = [None] * len(runs)

    def run(index: int) -> None:
        try:
            outcomes[index] = runs[index]()
        except BaseException as error:  # reported below
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(runs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert errors == [], errors
    return outcomes


def clone(source: Path, target: Path) -> Path:
    run_git(source.parent, "clone", "-q", str(source), str(target))
    return target


@pytest.mark.parametrize("backend", ["local", "github"], indirect=True)
def test_two_releases_of_one_commit_racing_end_with_one_complete_version(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = run_git(backend.project, "rev-parse", "HEAD")
    outcomes = race(monkeypatch, [lambda: release(backend, "out-a"), lambda: release(backend, "out-b")])
    assert {o.version.version for o in outcomes} == {"1.0.0"}
    assert True in {o.created for o in outcomes}
    assert all(PRODUCTION in o.version.aliases for o in outcomes)
    assert_released_once(backend, commit)


@pytest.mark.parametrize("backend", ["local", "github"], indirect=True)
def test_two_releases_of_different_commits_racing_claim_different_versions(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_REGISTRY_PATH", str(tmp_path / "shared-registry"))
    first = clone(backend.project, tmp_path / "first")
    second = clone(backend.project, tmp_path / "second")
    run_git(second, "commit", "-q", "--allow-empty", "-m", "A later commit")
    commits = {run_git(p, "rev-parse", "HEAD") for p in (first, second)}
    outcomes = race(
        monkeypatch, [lambda: release(backend, project=first), lambda: release(backend, project=second)]
    )
    assert sorted(o.version.version for o in outcomes) == ["1.0.0", "1.1.0"]
    assert {o.version.commit for o in outcomes} == commits
    assert all(o.created for o in outcomes)
    registry = Backend(backend.name, second, backend.api).registry()
    listed = registry.list_versions()
    assert sorted((v.version, v.commit) for v in listed) == sorted(
        (o.version.version, o.version.commit) for o in outcomes
    )
    assert registry.resolve(PRODUCTION).commit == run_git(second, "rev-parse", "HEAD")  # the newer commit
    for version in listed:
        assert registry.verify_version(version) == []
    if backend.name == "github":
        assert sorted(backend.api.refs) == ["refs/tags/tiny@v1.0.0", "refs/tags/tiny@v1.1.0"]
        assert backend.api.drafts() == []
    else:
        shared = tmp_path / "shared-registry" / "tiny"
        assert not [p for p in shared.iterdir() if p.name.startswith(".staging-")]


@pytest.mark.parametrize("backend", ["github"], indirect=True)
def test_two_releases_of_one_commit_claiming_different_versions_end_with_one_the_loser_waits_for(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlops_actions.stages.release.claim as stage

    monkeypatch.setattr(stage, "CONCURRENT_POLL_SECONDS", 0.2)
    release(backend)  # 1.0.0 of an earlier commit
    run_git(backend.project, "commit", "-q", "--allow-empty", "-m", "A later commit")
    commit = run_git(backend.project, "rev-parse", "HEAD")
    outcomes = race(
        monkeypatch,
        [lambda: release(backend, "out-a", bump="patch"), lambda: release(backend, "out-b", bump="minor")],
    )
    [won] = {o.version.version for o in outcomes}
    assert won in {"1.0.1", "1.1.0"}
    registry = backend.registry()
    assert [v.version for v in registry.list_versions() if v.commit == commit] == [won]
    assert registry.resolve(PRODUCTION).version == won
    assert sorted(backend.api.refs) == ["refs/tags/tiny@v1.0.0", f"refs/tags/tiny@v{won}"]
    assert backend.api.drafts() == []


@pytest.mark.parametrize("backend", ["github"], indirect=True)
def test_a_version_claimed_by_a_killed_run_is_resumed_even_after_a_later_commit_took_the_next(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = run_git(backend.project, "rev-parse", "HEAD")
    with monkeypatch.context() as patch:
        arm(patch, Kill(f"{GITHUB}._claim", "after"))
        with pytest.raises(Killed):
            release(backend)  # tiny@v1.0.0 is claimed on GitHub for this commit, nothing published
    later = clone(backend.project, tmp_path / "later")
    run_git(later, "commit", "-q", "--allow-empty", "-m", "A later commit")
    assert release(backend, project=later).version.version == "1.1.0"
    run_git(backend.project, "tag", "tiny@v1.0.0", commit)  # as the re-run's checkout fetches it
    outcome = release(backend)
    assert (outcome.version.version, outcome.created) == ("1.0.0", True)
    assert sorted(backend.api.refs) == ["refs/tags/tiny@v1.0.0", "refs/tags/tiny@v1.1.0"]
    assert backend.api.refs["refs/tags/tiny@v1.0.0"] == commit
    assert sorted(r["tag_name"] for r in backend.api.published()) == ["tiny@v1.0.0", "tiny@v1.1.0"]
    assert backend.registry().resolve(PRODUCTION).version == "1.1.0"  # the later commit keeps it
