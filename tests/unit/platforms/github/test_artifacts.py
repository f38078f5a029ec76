"""Fetching the pull request's checked model from GitHub's workflow artifacts (mlops_actions.platforms.github.artifacts)."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from collections.abc import Callable

import pytest

from mlops_actions.errors import MlopsError
from mlops_actions.platforms.github.api import GitHubClient
from mlops_actions.platforms.github.artifacts import (
    candidate_artifact_name,
    candidate_name_of,
    fetch_candidate,
    pick_artifact,
    unpack_archive,
)
from tests.standins.github_releases import REPOSITORY_ID, GitHubReleasesStandIn

TOKEN = "ghs_unit-artifact-token-5e0a"
REPOSITORY = "acme/credit"
TREE = "c" * 40


@pytest.fixture
def api(start_github_releases_standin: Callable[..., GitHubReleasesStandIn]) -> GitHubReleasesStandIn:
    return start_github_releases_standin(token=TOKEN, repository=REPOSITORY)


def client_for(api: GitHubReleasesStandIn) -> GitHubClient:
    env = {"GITHUB_API_URL": api.url, "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_TOKEN": TOKEN}
    return GitHubClient.from_environment(env, sleep=lambda s: None)


def archive(members: dict[str, bytes], *, link: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
        if link is not None:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def candidate_members(git: dict | None = None) -> dict[str, bytes]:
    metadata = {
        "model_name": "credit",
        "model_digest": "sha256:0",
        "git": git or {"tree": TREE, "dirty": False},
    }
    return {
        "mlops-result.json": b'{"verdict": "pass"}',
        "model/metadata.json": json.dumps(metadata).encode(),
        "model/model.skops": b"weights",
    }


def test_a_passing_check_on_a_clean_tree_is_offered_under_the_model_and_tree(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "metadata.json").write_bytes(candidate_members()["model/metadata.json"])
    assert candidate_name_of({"verdict": "pass"}, tmp_path / "model") == f"mlops-candidate-credit-{TREE}"
    assert candidate_name_of({"verdict": "fail"}, tmp_path / "model") is None
    dirty = candidate_members({"tree": TREE, "dirty": True})["model/metadata.json"]
    (tmp_path / "model" / "metadata.json").write_bytes(dirty)
    assert candidate_name_of({"verdict": "pass"}, tmp_path / "model") is None
    assert candidate_name_of({"verdict": "pass"}, tmp_path / "absent") is None


def test_the_newest_live_artifact_of_this_repository_is_picked():
    run = {"repository_id": 1, "head_repository_id": 1}
    artifacts = [
        {"id": 1, "name": "x", "expired": False, "created_at": "2026-01-01T00:00:00Z", "workflow_run": run},
        {"id": 2, "name": "x", "expired": False, "created_at": "2026-01-03T00:00:00Z", "workflow_run": run},
        {"id": 3, "name": "x", "expired": True, "created_at": "2026-01-04T00:00:00Z", "workflow_run": run},
        {
            "id": 4,
            "name": "x",
            "expired": False,
            "created_at": "2026-01-05T00:00:00Z",
            "workflow_run": {"repository_id": 1, "head_repository_id": 2},
        },
        {"id": 5, "name": "x", "expired": False, "created_at": "2026-01-06T00:00:00Z", "workflow_run": None},
        {"id": 6, "name": "y", "expired": False, "created_at": "2026-01-07T00:00:00Z", "workflow_run": run},
    ]
    picked, why = pick_artifact(artifacts, "x")
    assert picked is not None and picked["id"] == 2 and "id 2" in why
    assert pick_artifact(artifacts[3:5], "x")[0] is None
    assert "fork" in pick_artifact(artifacts[3:5], "x")[1]


@pytest.mark.parametrize(
    "members, link",
    [
        ({"../escape.txt": b"x"}, None),
        ({"/etc/cron.d/job": b"x"}, None),
        ({"model/..\\..\\x": b"x"}, None),
        ({"model/metadata.json": b"{}"}, "model/link"),
    ],
    ids=["parent", "absolute", "backslash", "symlink"],
)
def test_an_unsafe_archive_is_refused_and_leaves_nothing(tmp_path, members, link):
    path = tmp_path / "a.zip"
    path.write_bytes(archive(members, link=link))
    with pytest.raises(MlopsError, match="refusing to unpack"):
        unpack_archive(path, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip"]


def test_an_archive_larger_than_the_cap_is_refused(tmp_path):
    path = tmp_path / "a.zip"
    path.write_bytes(archive({"big.bin": b"\0" * 10_000}))
    with pytest.raises(MlopsError, match="more than the 1000"):
        unpack_archive(path, tmp_path / "out", max_bytes=1000)
    assert not (tmp_path / "out").exists()


def test_the_candidate_is_listed_by_name_downloaded_through_storage_without_the_token_and_unpacked(
    api, tmp_path
):
    name = candidate_artifact_name("credit", TREE)
    for run in range(120):  # a second page of other artifacts of the same name filter would be missed
        api.add_artifact(f"mlops-result-credit-{run}", b"PK\x05\x06" + bytes(18), run_id=run)
    api.add_artifact(name, archive(candidate_members()), run_id=500, head_repository_id=REPOSITORY_ID)
    folder, why = fetch_candidate(client_for(api), name, tmp_path / "pr-candidate")
    assert folder == tmp_path / "pr-candidate" and "of run 500" in why and "sha256:" in why
    assert (folder / "model" / "model.skops").read_bytes() == b"weights"
    assert api.storage_tokens_seen == [] and api.violations == []
    listed = [r for r in api.log if r.path.endswith("/actions/artifacts")]
    assert [r.query.get("name") for r in listed] == [name]


def test_a_download_that_differs_from_the_reported_digest_is_an_error(api, tmp_path):
    name = candidate_artifact_name("credit", TREE)
    api.add_artifact(name, archive(candidate_members()), digest="sha256:" + "1" * 64)
    with pytest.raises(MlopsError, match="differs from GitHub's digest"):
        fetch_candidate(client_for(api), name, tmp_path / "pr-candidate")
    assert not (tmp_path / "pr-candidate").exists()


def test_a_token_without_actions_read_gets_a_one_line_permission_hint(api, tmp_path):
    name = candidate_artifact_name("credit", TREE)
    api.add_artifact(name, archive(candidate_members()))
    api.fail_next(1, 403, method="GET")
    with pytest.raises(MlopsError, match="actions: read") as caught:
        fetch_candidate(client_for(api), name, tmp_path / "pr-candidate")
    assert "\n" not in str(caught.value) and TOKEN not in str(caught.value)
