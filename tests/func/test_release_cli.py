"""`mlops-actions release` on temporary git repositories: versions, re-runs, races, kills, promotion, lineage."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_actions.cli import main
from tests.conftest import GIT_ENV, run_git
from tests.func.conftest import CI_VARIABLES

MLOPS = [sys.executable, "-m", "mlops_actions"]


def release(project: Path, *args: str) -> int:
    return main(
        [
            "release",
            "--config",
            str(project / "mlops.yaml"),
            "--output-dir",
            str(project / "mlops-out"),
            *args,
        ]
    )


def history(project: Path, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    capsys.readouterr()
    assert main(["history", "--config", str(project / "mlops.yaml"), "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def clone(source: Path, target: Path) -> Path:
    subprocess.run(
        ["git", "clone", "-q", str(source), str(target)], check=True, env={**os.environ, **GIT_ENV}
    )
    return target


def spawn_release(project: Path, registry: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, **GIT_ENV, "MLOPS_REGISTRY_PATH": str(registry)}
    return subprocess.Popen(
        [*MLOPS, "release", "--config", "mlops.yaml", "--json", *extra],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_release_publishes_lineage_card_profile_and_history_json(tiny_project, capsys):
    run_git(tiny_project, "commit", "-q", "--allow-empty", "-m", "Add a feature (#12)")
    assert release(tiny_project) == 0
    [entry] = history(tiny_project, capsys)
    assert {"version", "tag", "commit", "created", "metrics", "digest"} <= set(entry)
    assert entry["tag"] == "tiny@v1.0.0" and entry["aliases"] == ["production"]
    assert entry["commit"] == run_git(tiny_project, "rev-parse", "HEAD")
    assert set(entry["metrics"]["roc_auc"]) == {"value", "ci_low", "ci_high"}
    assert {"model.skops", "metadata.json", "model-card.md", "mlops-result.json", "data-profile.json"} <= set(
        entry["files"]
    )
    folder = tiny_project / ".registry" / "tiny" / "versions" / "1.0.0"
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["release"]["pull_request"] == 12
    assert metadata["release"]["config"]["content"]["model"]["name"] == "tiny"
    assert metadata["release"]["bump"] == "minor"
    card = (folder / "model-card.md").read_text()
    assert "| Pull request | #12 |" in card and "scikit-learn" in card
    profile = json.loads((folder / "data-profile.json").read_text())
    assert profile["rows"] == 600
    assert run_git(tiny_project, "tag", "--points-at", "HEAD") == "tiny@v1.0.0"


def test_the_same_commit_released_twice_is_one_version(tiny_project, capsys):
    assert release(tiny_project) == 0
    assert release(tiny_project) == 0
    assert "already released as tiny@v1.0.0" in capsys.readouterr().out
    assert [v["version"] for v in history(tiny_project, capsys)] == ["1.0.0"]


def test_trailer_and_label_choose_the_bump(tiny_project, capsys, monkeypatch):
    assert release(tiny_project) == 0
    run_git(tiny_project, "commit", "-q", "--allow-empty", "-m", "Break the API\n\nRelease-Bump: major")
    assert release(tiny_project) == 0
    run_git(tiny_project, "commit", "-q", "--allow-empty", "-m", "Fix a typo (#3)")
    monkeypatch.setenv("MLOPS_PR_LABELS", "docs, release:patch")
    assert release(tiny_project) == 0
    versions = history(tiny_project, capsys)
    assert [v["version"] for v in versions] == ["1.0.0", "2.0.0", "2.0.1"]
    assert versions[-1]["aliases"] == ["production"]
    assert versions[-1]["lineage"]["params"] == {"C": 1.0}


def test_an_unknown_bump_trailer_is_a_usage_error(tiny_project, capsys):
    run_git(tiny_project, "commit", "-q", "--allow-empty", "-m", "x\n\nRelease-Bump: huge")
    assert release(tiny_project) == 2
    assert "'huge'" in capsys.readouterr().err
    assert not (tiny_project / ".registry").exists()


def test_the_checked_model_is_promoted_when_tree_data_and_production_match(tiny_project, capsys):
    assert release(tiny_project) == 0
    run_git(tiny_project, "checkout", "-q", "-b", "feature")
    (tiny_project / "NOTES.md").write_text("notes\n")
    run_git(tiny_project, "add", "NOTES.md")
    run_git(tiny_project, "commit", "-q", "-m", "Notes")
    pr_out = tiny_project / "pr-out"
    assert main(["check", "--config", str(tiny_project / "mlops.yaml"), "--output-dir", str(pr_out)]) == 0
    checked = json.loads((pr_out / "model" / "metadata.json").read_text())["model_digest"]
    run_git(tiny_project, "checkout", "-q", "main")
    run_git(tiny_project, "merge", "-q", "--squash", "feature")
    run_git(tiny_project, "commit", "-q", "-m", "Notes (#5)")
    capsys.readouterr()
    assert release(tiny_project, "--candidate", str(pr_out), "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["source"] == "promoted" and out["digest"] == checked and out["version"] == "1.1.0"
    assert out["commit"] == run_git(tiny_project, "rev-parse", "HEAD")  # the merged commit, not the branch's


def test_a_checked_model_of_other_data_is_not_promoted(tiny_project, capsys):
    pr_out = tiny_project / "pr-out"
    assert main(["check", "--config", str(tiny_project / "mlops.yaml"), "--output-dir", str(pr_out)]) == 0
    with open(tiny_project / "train.csv", "a") as handle:
        handle.write("9999,0.1,0.2,a,1\n")
    run_git(tiny_project, "commit", "-q", "-am", "More data")
    capsys.readouterr()
    assert release(tiny_project, "--candidate", str(pr_out), "--json") == 0
    assert json.loads(capsys.readouterr().out)["source"] == "trained"


def test_two_processes_releasing_different_commits_get_distinct_versions(tiny_project, tmp_path, capsys):
    registry = tmp_path / "shared-registry"
    first = clone(tiny_project, tmp_path / "first")
    second = clone(tiny_project, tmp_path / "second")
    run_git(second, "commit", "-q", "--allow-empty", "-m", "A later commit")
    procs = [spawn_release(first, registry), spawn_release(second, registry)]
    outputs = [p.communicate(timeout=300) for p in procs]
    codes = [p.returncode for p in procs]
    assert codes == [0, 0], outputs
    released = sorted(json.loads(out)["version"] for out, _err in outputs)
    assert released == ["1.0.0", "1.1.0"]
    versions = sorted((registry / "tiny" / "versions").iterdir())
    assert [v.name for v in versions] == ["1.0.0", "1.1.0"]
    commits = {json.loads((v / "manifest.json").read_text())["commit"] for v in versions}
    assert len(commits) == 2


def test_two_processes_releasing_the_same_commit_end_with_one_version(tiny_project, tmp_path):
    registry = tmp_path / "shared-registry"
    procs = [spawn_release(clone(tiny_project, tmp_path / name), registry) for name in ("first", "second")]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert {json.loads(out)["version"] for out, _err in outputs} == {"1.0.0"}
    assert [v.name for v in (registry / "tiny" / "versions").iterdir()] == ["1.0.0"]


def test_a_release_killed_midway_leaves_nothing_half_done_and_a_rerun_finishes(tiny_project, tmp_path):
    registry = tmp_path / "registry"
    proc = spawn_release(tiny_project, registry)
    time.sleep(2.5)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    versions = registry / "tiny" / "versions"
    visible = [v for v in versions.iterdir() if not v.name.startswith(".")] if versions.is_dir() else []
    for folder in visible:  # whatever became visible is complete
        manifest = json.loads((folder / "manifest.json").read_text())
        assert set(manifest["files"]) <= {p.name for p in folder.iterdir()}
    rerun = spawn_release(tiny_project, registry)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert [v.name for v in versions.iterdir() if not v.name.startswith(".")] == ["1.0.0"]
    assert json.loads(out)["aliases"] == ["production"]


def test_a_failing_gate_releases_nothing(tiny_project, capsys):
    config = tiny_project / "mlops.yaml"
    config.write_text(config.read_text().replace("min: 0.6", "min: 0.99"))
    run_git(tiny_project, "commit", "-q", "-am", "Demand the impossible")
    assert release(tiny_project) == 1
    assert "release gate failed" in capsys.readouterr().err
    assert not (tiny_project / ".registry").exists()
    assert run_git(tiny_project, "tag") == ""


@pytest.fixture
def github_api(start_github_releases_standin):  # type: ignore[no-untyped-def]
    return start_github_releases_standin(token="ghs_func-race-token-0b1d", repository="acme/tiny")


def github_project(tiny_project: Path) -> Path:
    config = tiny_project / "mlops.yaml"
    config.write_text(config.read_text().replace("backend: local\n  path: .registry", "backend: github"))
    run_git(tiny_project, "commit", "-q", "-am", "Releases on GitHub")
    return tiny_project


def spawn_github_release(project: Path, api) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        **GIT_ENV,
        "GITHUB_API_URL": api.url,
        "GITHUB_REPOSITORY": "acme/tiny",
        "GITHUB_TOKEN": api.token,
    }
    return subprocess.Popen(
        [*MLOPS, "release", "--config", "mlops.yaml", "--json"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_racing_releases_of_two_commits_on_github_get_distinct_versions(tiny_project, tmp_path, github_api):
    project = github_project(tiny_project)
    first = clone(project, tmp_path / "first")
    second = clone(project, tmp_path / "second")
    run_git(second, "commit", "-q", "--allow-empty", "-m", "A later commit")
    procs = [spawn_github_release(first, github_api), spawn_github_release(second, github_api)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert sorted(json.loads(out)["version"] for out, _ in outputs) == ["1.0.0", "1.1.0"]
    published = github_api.published()
    assert sorted(r["tag_name"] for r in published) == ["tiny@v1.0.0", "tiny@v1.1.0"]
    assert github_api.drafts() == []
    assert len(set(github_api.refs.values())) == 2
    assert github_api.violations == []
    assert all(github_api.token not in out + err for out, err in outputs)


def test_racing_releases_of_one_commit_on_github_end_with_one_version(tiny_project, tmp_path, github_api):
    project = github_project(tiny_project)
    procs = [spawn_github_release(clone(project, tmp_path / n), github_api) for n in ("first", "second")]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0 or (proc.returncode == 2 and "concurrent release" in err), err
    assert [r["tag_name"] for r in github_api.published()] == ["tiny@v1.0.0"]
    assert github_api.drafts() == [] and list(github_api.refs) == ["refs/tags/tiny@v1.0.0"]
    assert github_api.violations == []


def test_a_github_release_killed_during_the_upload_publishes_nothing_and_a_rerun_finishes(
    tiny_project, github_api, capsys, monkeypatch
):
    import threading

    project = github_project(tiny_project)
    github_api.upload_gate = threading.Event()
    proc = spawn_github_release(project, github_api)
    try:
        assert github_api.upload_started.wait(timeout=240), proc.communicate()
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    finally:
        github_api.upload_gate.set()
    assert github_api.published() == [] and len(github_api.drafts()) == 1  # left as a draft, never listed
    monkeypatch.setenv("GITHUB_API_URL", github_api.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/tiny")
    monkeypatch.setenv("GITHUB_TOKEN", github_api.token)
    assert history(project, capsys) == []
    github_api.upload_gate = None
    rerun = spawn_github_release(project, github_api)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert json.loads(out)["version"] == "1.0.0"
    [entry] = history(project, capsys)
    assert entry["tag"] == "tiny@v1.0.0" and entry["aliases"] == ["production"]
    assert github_api.drafts() == [] and len(github_api.published()) == 1  # the stale draft was removed
    assert github_api.violations == []


# -- promotion of the pull request's artifact (GitHub) ---------------------------------------------------


def zip_of(folder: Path, names: tuple[str, ...] = ("mlops-result.json", "model")) -> bytes:
    """The artifact upload-artifact makes of ``mlops-result.json`` and ``model/`` (paths relative to their parent)."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name in names:
            path = folder / name
            for file in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
                bundle.write(file, file.relative_to(folder).as_posix())
    return buffer.getvalue()


def checked_pull_request(project: Path) -> tuple[Path, str]:
    """Release v1.0.0, then check a feature branch merged into main as GitHub's pull/N/merge ref; (output, artifact name)."""
    from mlops_actions.platforms.github.artifacts import candidate_name_of

    assert release(project) == 0
    run_git(project, "checkout", "-q", "-b", "feature")
    (project / "NOTES.md").write_text("notes\n")
    run_git(project, "add", "NOTES.md")
    run_git(project, "commit", "-q", "-m", "Notes")
    run_git(project, "checkout", "-q", "--detach", "main")
    run_git(
        project, "merge", "-q", "--no-ff", "-m", "Merge feature into main", "feature"
    )  # refs/pull/5/merge
    pr_out = project.parent / "pr-out"
    assert main(["check", "--config", str(project / "mlops.yaml"), "--output-dir", str(pr_out)]) == 0
    result = json.loads((pr_out / "mlops-result.json").read_text())
    name = candidate_name_of(result, pr_out / "model")
    assert name is not None and name.startswith("mlops-candidate-tiny-")
    run_git(project, "checkout", "-q", "main")
    run_git(project, "merge", "-q", "--squash", "feature")
    run_git(project, "commit", "-q", "-m", "Notes (#5)")
    return pr_out, name


@pytest.fixture(scope="module")
def _checked_pull_request_template(
    _tiny_project_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """The tiny project after ``checked_pull_request``, made once for the module: (its folder, artifact name)."""
    parent = tmp_path_factory.mktemp("checked-pull-request")
    project = parent / "tiny"
    shutil.copytree(_tiny_project_template, project, symlinks=True)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in GIT_ENV.items():
            patch.setenv(key, value)
        for key in CI_VARIABLES:
            patch.delenv(key, raising=False)
        _pr_out, name = checked_pull_request(project)
    return parent, name


@pytest.fixture
def checked_tiny_project(
    _checked_pull_request_template: tuple[Path, str], tmp_path: Path
) -> tuple[Path, Path, str]:
    """A copy of the tiny project after ``checked_pull_request``: (project, check output, artifact name)."""
    parent, name = _checked_pull_request_template
    for folder in ("tiny", "pr-out"):
        shutil.copytree(parent / folder, tmp_path / folder, symlinks=True)
    return tmp_path / "tiny", tmp_path / "pr-out", name


@pytest.fixture
def actions_env(github_api, monkeypatch):  # type: ignore[no-untyped-def]
    for name, value in {
        "GITHUB_API_URL": github_api.url,
        "GITHUB_REPOSITORY": "acme/tiny",
        "GITHUB_TOKEN": github_api.token,
    }.items():
        monkeypatch.setenv(name, value)
    return github_api


def release_from_artifact(project: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict, str]:
    capsys.readouterr()
    assert release(project, "--candidate-source", "github-artifact", "--json") == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def test_the_pull_requests_artifact_is_promoted_when_the_merged_tree_matches(
    checked_tiny_project, actions_env, capsys
):
    tiny_project, pr_out, name = checked_tiny_project
    actions_env.add_artifact(name + "-other", b"PK\x05\x06" + bytes(18), run_id=70)
    actions_env.add_artifact(name, zip_of(pr_out), run_id=71)
    out, err = release_from_artifact(tiny_project, capsys)
    checked = json.loads((pr_out / "model" / "metadata.json").read_text())["model_digest"]
    assert out["source"] == "promoted" and out["digest"] == checked and out["version"] == "1.1.0", err
    lineage = json.loads((tiny_project / "mlops-out" / "release-model" / "metadata.json").read_text())[
        "release"
    ]
    assert lineage["model_source"] == "promoted" and "of run 71" in lineage["model_source_reason"]
    downloads = [r for r in actions_env.log if r.path.endswith("/zip")]
    assert len(downloads) == 1 and downloads[0].status == 302
    assert actions_env.storage_tokens_seen == [] and actions_env.violations == []


@pytest.mark.parametrize(
    ("artifact", "why"),
    [
        ({"head_repository_id": 99}, "fork"),
        ({"expired": True}, "expired"),
        ({"digest": "sha256:" + "0" * 64}, "differs from GitHub's digest"),
        ({"tamper": True}, "unusable"),
        ({"missing": True}, "no artifact"),
    ],
    ids=["fork-run", "expired", "archive-digest-mismatch", "model-digest-mismatch", "none-uploaded"],
)
def test_an_untrustworthy_or_missing_artifact_is_not_promoted_and_the_release_trains(
    checked_tiny_project, actions_env, capsys, artifact, why
):
    tiny_project, pr_out, name = checked_tiny_project
    if artifact.pop("tamper", False):
        with open(pr_out / "model" / "model.skops", "ab") as handle:
            handle.write(b"\0")
    if not artifact.pop("missing", False):
        actions_env.add_artifact(name, zip_of(pr_out), **artifact)
    out, err = release_from_artifact(tiny_project, capsys)
    assert out["source"] == "trained" and out["version"] == "1.1.0"
    assert "trained anew" in err and why in err, err
    assert actions_env.violations == []


def test_the_first_release_says_there_is_no_production_version_yet_and_why_it_trained(tiny_project, capsys):
    assert release(tiny_project) == 0
    out = capsys.readouterr().out
    assert "trained model" in out and "  trained because " in out and "holds no checked model" in out
    result = json.loads((tiny_project / "mlops-out" / "mlops-result.json").read_text())
    assert result["baseline"]["source"] == "none"
    assert "has no 'production' version yet" in result["baseline"]["reason"]
    assert "baseline source is 'none'" not in (tiny_project / "mlops-out" / "report.md").read_text()


def test_a_release_whose_entrypoint_does_not_import_fails_before_anything_trains(tiny_project, capsys):
    config = tiny_project / "mlops.yaml"
    config.write_text(config.read_text().replace("tiny_model:train_model", "tiny_model:fit"))
    run_git(tiny_project, "commit", "-q", "-am", "a typo in the entrypoint")
    assert release(tiny_project, "--quiet") == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.endswith("train.entrypoint: 'tiny_model' has no function 'fit'")
    assert not (tiny_project / "mlops-out" / "model").exists() and not (tiny_project / ".registry").exists()


def test_release_prints_its_steps_with_the_elapsed_time_on_stderr_and_keeps_json_on_stdout(
    tiny_project, capsys
):
    assert release(tiny_project, "--json") == 0
    captured = capsys.readouterr()
    started = [line.split("] ", 1)[1] for line in captured.err.splitlines() if line.endswith("...")]
    assert started[:3] == ["loading config...", "resolving production...", "choosing candidate..."]
    assert "training candidate..." in started  # the check's own steps, trained for the release
    assert started[-3:] == ["staging release...", "publishing...", "moving production..."]
    assert any(line.endswith("] publishing: tiny@v1.0.0 published") for line in captured.err.splitlines())
    assert json.loads(captured.out)["tag"] == "tiny@v1.0.0"  # stdout is the command's output alone


def test_release_quiet_prints_no_progress_lines(tiny_project, capsys):
    assert release(tiny_project, "--quiet") == 0
    assert not [line for line in capsys.readouterr().err.splitlines() if line.startswith("[")]
