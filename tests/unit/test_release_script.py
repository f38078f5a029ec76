""".ci/release.py, the logic of this repository's release workflow: versions, CHANGELOG notes, and the
GitHub release and major tag against the contract-enforcing API stand-in on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from tests.standins.github_releases import GitHubReleasesStandIn

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ghs_release-script-token-71aa"
REPOSITORY = "mlops-actions/mlops-actions"
OLD, NEW = "a" * 40, "b" * 40


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("release_script", ROOT / ".ci" / "release.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["release_script"] = module
    spec.loader.exec_module(module)
    return module


release = load()

CHANGELOG = """# Changelog

## [Unreleased]

### Added

- something next

## [0.2.0] - 2027-01-10

### Fixed

- the thing

## [0.1.0] - 2026-12-02

### Added

- the first release

[Unreleased]: https://github.com/mlops-actions/mlops-actions/compare/v0.2.0...HEAD
[0.2.0]: https://github.com/mlops-actions/mlops-actions/releases/tag/v0.2.0
"""


@pytest.fixture
def api(start_github_releases_standin: Callable[..., GitHubReleasesStandIn]) -> GitHubReleasesStandIn:
    return start_github_releases_standin(token=TOKEN, repository=REPOSITORY)


@pytest.fixture
def github(api: GitHubReleasesStandIn) -> object:
    return release.GitHub(api.url, REPOSITORY, TOKEN, timeout_s=5)


def test_the_package_version_is_the_one_pyproject_reads():
    from mlops_actions import __version__

    assert release.package_version() == __version__


def test_a_tag_other_than_the_package_version_or_stray_dists_are_reported():
    dists = ["mlops_actions-0.1.0.tar.gz", "mlops_actions-0.1.0-py3-none-any.whl"]
    assert release.version_problems("v0.1.0", "0.1.0", dists) == []
    assert release.version_problems("v0.1.1", "0.1.0", dists) == [
        "tag v0.1.1 is not the package version 0.1.0 (mlops_actions/__init__.py)"
    ]
    [problem] = release.version_problems("v0.1.0", "0.1.0", dists[:1])
    assert problem.startswith("expected the sdist and one wheel of 0.1.0")


@pytest.mark.parametrize("tag", ["0.1.0", "v0.1", "v0.1.0rc1", "v0"])
def test_a_tag_that_is_not_vmajor_minor_patch_is_bad_input(tag):
    with pytest.raises(release.BadInput, match=r"expected vMAJOR\.MINOR\.PATCH"):
        release.parse_release_tag(tag)


def test_the_notes_are_the_versions_changelog_section_without_link_references():
    assert release.changelog_section(CHANGELOG, "0.2.0") == "### Fixed\n\n- the thing"
    assert release.changelog_section(CHANGELOG, "0.1.0") == "### Added\n\n- the first release"
    with pytest.raises(release.BadInput, match=r"no section ## \[0.3.0\]"):
        release.changelog_section(CHANGELOG, "0.3.0")


def test_the_highest_release_of_a_major_ignores_other_majors_and_other_tags():
    tags = ["v0.1.0", "v0.10.0", "v0.9.3", "v1.0.0", "credit@v3.0.0", "v0"]
    assert release.highest_release(tags, 0) == (0, 10, 0)
    assert release.highest_release(tags, 2) is None


def test_the_major_tag_is_created_when_missing(api, github):
    assert release.point_tag(github, "v0", NEW) == "created"
    assert api.refs == {"refs/tags/v0": NEW}
    assert api.violations == []


def test_the_major_tag_is_moved_with_force_and_left_alone_when_it_points_there(api, github):
    api.refs["refs/tags/v0"] = OLD
    assert release.point_tag(github, "v0", NEW) == f"moved from {OLD}"
    assert api.ref_moves == [("refs/tags/v0", NEW)]
    assert release.point_tag(github, "v0", NEW) == "unchanged"
    assert api.ref_moves == [("refs/tags/v0", NEW)]
    assert api.violations == []


def test_a_failed_move_is_repeated_only_after_reading_the_tag_again(api, github):
    api.refs["refs/tags/v0"] = OLD
    api.fail_next(1, 502, method="PATCH")
    calls: list[str] = []
    call = github.call

    def recorded(method, path, *args, **kwargs):
        calls.append(method)  # as the client makes them (the stand-in logs after answering)
        return call(method, path, *args, **kwargs)

    github.call = recorded
    pauses: list[float] = []
    assert release.point_tag(github, "v0", NEW, pause=pauses.append) == f"moved from {OLD}"
    assert api.refs["refs/tags/v0"] == NEW and pauses == [1.0]
    assert calls == ["GET", "PATCH", "GET", "PATCH", "GET"]


def test_a_tag_that_cannot_be_moved_fails_at_the_deadline(api, github):
    api.refs["refs/tags/v0"] = OLD
    api.fail_next(100, 502, method="PATCH")
    now = [0.0]

    def pause(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(release.Failed, match=r"does not point at .* after 20 s"):
        release.point_tag(github, "v0", NEW, deadline_s=20, clock=lambda: now[0], pause=pause)
    assert api.refs["refs/tags/v0"] == OLD


def test_a_newer_release_of_the_major_keeps_the_major_tag(api, github):
    api.refs["refs/tags/v0"] = OLD
    summary = release.move_major_tag(github, "v0.1.1", NEW, ["v0.1.0", "v0.2.0"])
    assert summary == "v0 left where it is: v0.2.0 is newer than v0.1.1"
    assert api.refs["refs/tags/v0"] == OLD


def test_the_github_release_is_published_with_the_notes_and_every_dist_and_a_repeat_adds_nothing(
    api, github, tmp_path
):
    dists = []
    for name in ("mlops_actions-0.1.0.tar.gz", "mlops_actions-0.1.0-py3-none-any.whl"):
        dists.append(tmp_path / name)
        dists[-1].write_bytes(name.encode() * 10)
    published = release.publish_github_release(github, "v0.1.0", NEW, "### Added\n\n- it", dists)
    assert published["draft"] is False and published["tag_name"] == "v0.1.0"
    [stored] = api.published()
    assert stored["body"] == "### Added\n\n- it" and stored["target_commitish"] == NEW
    assert api.asset_bytes(stored["id"]) == {d.name: d.read_bytes() for d in dists}
    assert api.refs["refs/tags/v0.1.0"] == NEW

    assets = sorted(api.assets)
    release.publish_github_release(github, "v0.1.0", NEW, "### Added\n\n- it", dists)
    assert len(api.published()) == 1 and api.drafts() == []
    assert sorted(api.assets) == assets  # nothing uploaded again
    assert api.violations == []


def test_the_command_line_says_what_is_wrong_in_one_line_and_exits_2(capsys, tmp_path):
    assert release.main(["notes", "--version", "0.1.0", "--changelog", str(tmp_path / "none.md")]) == 2
    assert capsys.readouterr().err.strip() == f"--changelog {tmp_path / 'none.md'}: no such file"
    code = release.main(["move-major-tag", "--tag", "v0.1.0", "--commit", "abc"])
    assert code == 2
    assert "expected a full 40-character commit sha" in capsys.readouterr().err
