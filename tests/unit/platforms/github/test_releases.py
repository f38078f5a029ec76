"""The GitHub Releases registry against the contract-enforcing API stand-in (tests/standins/github_releases.py)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_actions.errors import RegistryError
from mlops_actions.platforms.github.api import GitHubClient
from mlops_actions.platforms.github.releases import ConcurrentRelease, GitHubReleasesRegistry, VersionTaken
from tests.standins.fault_proxy import FaultProxy, Rule
from tests.standins.github_releases import GitHubReleasesStandIn

TOKEN = "ghs_unit-registry-token-31c7"
REPOSITORY = "acme/credit"
COMMIT_A = "a" * 40
COMMIT_B = "b" * 40


@pytest.fixture
def api(start_github_releases_standin: Callable[..., GitHubReleasesStandIn]) -> GitHubReleasesStandIn:
    return start_github_releases_standin(token=TOKEN, repository=REPOSITORY)


def registry_for(api: GitHubReleasesStandIn, model: str = "tiny") -> GitHubReleasesRegistry:
    env = {"GITHUB_API_URL": api.url, "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_TOKEN": TOKEN}
    return GitHubReleasesRegistry.from_options(model, {}, env, sleep=lambda s: None)


def model_folder(root: Path, commit: str, *, payload: bytes = b"model bytes", model: str = "tiny") -> Path:
    folder = root / f"model-{commit[:6]}-{hashlib.sha1(payload).hexdigest()[:6]}"
    folder.mkdir(parents=True)
    (folder / "model.skops").write_bytes(payload)
    digest = "sha256:" + hashlib.sha256(payload).hexdigest()
    metadata = {"model_name": model, "model_digest": digest, "git": {"commit": commit, "branch": "main"}}
    metadata["release"] = {"pull_request": 12}
    (folder / "metadata.json").write_text(json.dumps(metadata))
    (folder / "model-card.md").write_text("# tiny\n\nA card.\n")
    return folder


def publish(registry: GitHubReleasesRegistry, folder: Path, version: str):  # type: ignore[no-untyped-def]
    return registry.publish(
        folder,
        version=version,
        metrics={"roc_auc": {"value": 0.8, "ci_low": 0.7, "ci_high": 0.9}},
        extra_files={"model-card.md": folder / "model-card.md"},
    )


def test_a_published_version_is_a_non_draft_release_with_verified_assets_and_a_tag(api, tmp_path):
    registry = registry_for(api)
    version = publish(registry, model_folder(tmp_path, COMMIT_A), "1.0.0")
    assert (version.version, version.tag, version.commit) == ("1.0.0", "tiny@v1.0.0", COMMIT_A)
    assert version.lineage["release"] == {"pull_request": 12}
    assert api.refs == {"refs/tags/tiny@v1.0.0": COMMIT_A}
    [release] = api.published()
    assert api.drafts() == []
    assets = api.asset_bytes(release["id"])
    assert set(assets) == {"model.skops", "metadata.json", "model-card.md", "manifest.json"}
    manifest = json.loads(assets["manifest.json"])
    for name, digest in manifest["files"].items():
        assert digest == "sha256:" + hashlib.sha256(assets[name]).hexdigest()
    assert release["body"].startswith("# tiny")
    assert api.violations == []


def test_listing_resolving_and_fetching_check_every_digest(api, tmp_path):
    registry = registry_for(api)
    folder = model_folder(tmp_path, COMMIT_A)
    publish(registry, folder, "1.0.0")
    [listed] = registry.list_versions()
    assert registry.resolve("v1.0.0") == listed and registry.resolve("2.0.0") is None
    fetched = registry.fetch("1.0.0", tmp_path / "fetched")
    assert (fetched / "model.skops").read_bytes() == (folder / "model.skops").read_bytes()
    assert api.storage_tokens_seen == []  # the redirect to storage is followed without the token
    assert api.violations == []


def test_a_corrupted_download_is_refused_and_leaves_no_file(api, tmp_path):
    registry = registry_for(api)
    publish(registry, model_folder(tmp_path, COMMIT_A), "1.0.0")
    api.corrupt_downloads = True
    with pytest.raises(RegistryError, match="sha256 digest mismatch"):
        registry.fetch("1.0.0", tmp_path / "fetched")
    assert not any((tmp_path / "fetched").iterdir())


def test_the_same_commit_published_twice_is_one_version(api, tmp_path):
    registry = registry_for(api)
    first = publish(registry, model_folder(tmp_path, COMMIT_A), "1.0.0")
    again = publish(registry, model_folder(tmp_path, COMMIT_A, payload=b"retrained"), "1.0.0")
    assert again.version == first.version and again.digest == first.digest
    assert len(api.published()) == 1 and api.drafts() == []


def test_a_version_whose_tag_is_on_another_commit_is_taken(api, tmp_path):
    registry = registry_for(api)
    publish(registry, model_folder(tmp_path, COMMIT_A), "1.0.0")
    with pytest.raises(VersionTaken, match="taken"):
        publish(registry, model_folder(tmp_path, COMMIT_B), "1.0.0")
    assert len(api.published()) == 1 and api.drafts() == []


def test_an_upload_that_fails_midway_publishes_nothing_and_a_rerun_finishes(api, tmp_path):
    registry = registry_for(api)
    folder = model_folder(tmp_path, COMMIT_A)
    api.fail_upload(2)
    with pytest.raises(RegistryError, match="was not published: the draft was removed") as error:
        publish(registry, folder, "1.0.0")
    assert TOKEN not in str(error.value)
    assert api.published() == [] and api.drafts() == []
    assert registry.list_versions() == []
    assert api.refs == {"refs/tags/tiny@v1.0.0": COMMIT_A}  # the claim stays with the commit
    version = publish(registry, folder, "1.0.0")
    assert version.version == "1.0.0" and len(api.published()) == 1
    assert api.violations == []


def test_a_draft_left_by_a_killed_release_is_never_listed_and_the_rerun_removes_it(api, tmp_path):
    registry = registry_for(api)
    registry._claim("tiny@v1.0.0", "1.0.0", COMMIT_A)
    left = registry._create_draft("tiny@v1.0.0", "1.0.0", COMMIT_A, "half-done")
    assert registry.list_versions() == [] and registry.resolve("1.0.0") is None
    publish(registry, model_folder(tmp_path, COMMIT_A), "1.0.0")
    assert left["id"] not in {r["id"] for r in api.releases.values()}
    assert len(api.published()) == 1 and api.drafts() == []


def test_two_racing_publishers_of_one_version_end_with_one_winner(api, tmp_path):
    outcomes: dict[str, object] = {}

    def attempt(commit: str) -> None:
        try:
            outcomes[commit] = publish(
                registry_for(api), model_folder(tmp_path / commit[:1], commit), "1.0.0"
            )
        except RegistryError as error:
            outcomes[commit] = error

    threads = [threading.Thread(target=attempt, args=(c,)) for c in (COMMIT_A, COMMIT_B)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [o for o in outcomes.values() if isinstance(o, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], VersionTaken)
    assert len(api.published()) == 1 and api.drafts() == []
    assert api.violations == []


def test_production_alias_moves_and_one_release_holds_it(api, tmp_path):
    registry = registry_for(api)
    publish(registry, model_folder(tmp_path, COMMIT_A), "1.0.0")
    publish(registry, model_folder(tmp_path, COMMIT_B, payload=b"second"), "1.1.0")
    registry.set_alias("production", "1.0.0")
    registry.set_alias("production", "1.1.0")
    assert [v.aliases for v in registry.list_versions()] == [(), ("production",)]
    assert registry.resolve("production").version == "1.1.0"  # type: ignore[union-attr]
    assert sum('mlops-actions:aliases {"production"' in r["body"] for r in api.published()) == 1
    with pytest.raises(RegistryError, match="missing version"):
        registry.set_alias("production", "9.0.0")


def test_listing_follows_pagination_and_ignores_other_releases(api, tmp_path):
    registry = registry_for(api)
    publish(registry, model_folder(tmp_path, COMMIT_A), "1.0.0")
    for i in range(130):  # newer releases of another tool push ours to the second page
        api.releases[10_000 + i] = {
            **api.published()[0],
            "id": 10_000 + i,
            "tag_name": f"app-v{i}",
            "body": "x",
        }
    assert [v.version for v in registry.list_versions()] == ["1.0.0"]
    assert sum(1 for r in api.log if r.path.endswith("/releases")) >= 2
    assert api.violations == []


def test_missing_token_or_repository_is_a_clear_error():
    with pytest.raises(RegistryError, match="GITHUB_TOKEN: not set"):
        GitHubReleasesRegistry.from_options("tiny", {}, {"GITHUB_REPOSITORY": REPOSITORY})
    with pytest.raises(RegistryError, match="GITHUB_REPOSITORY"):
        GitHubReleasesRegistry.from_options("tiny", {}, {"GITHUB_TOKEN": TOKEN})


def test_a_refused_write_names_the_permission_and_hides_the_token(api, tmp_path):
    api.read_only_tokens.add("ghs_read-only-77")
    client = GitHubClient(
        repository=REPOSITORY, token="ghs_read-only-77", api_url=api.url, sleep=lambda s: None
    )
    registry = GitHubReleasesRegistry(client, "tiny")
    with pytest.raises(RegistryError, match=r"contents: write") as error:
        publish(registry, model_folder(tmp_path, COMMIT_A), "1.0.0")
    assert "ghs_read-only-77" not in str(error.value)


def test_a_concurrent_release_of_the_same_commit_under_another_version_stops_this_one(api, tmp_path):
    registry = registry_for(api)
    registry._claim("tiny@v1.0.0", "1.0.0", COMMIT_A)  # a concurrent run of this commit got there first
    registry._create_draft("tiny@v1.0.0", "1.0.0", COMMIT_A, _draft_body(COMMIT_A, "1.0.0"))
    with pytest.raises(ConcurrentRelease, match=r"publishing it as tiny@v1\.0\.0"):
        publish(registry, model_folder(tmp_path, COMMIT_A), "1.1.0")
    assert "refs/tags/tiny@v1.1.0" not in api.refs  # its claim is given back: no gap
    assert [r["tag_name"] for r in api.drafts()] == ["tiny@v1.0.0"]
    assert api.violations == []


def _draft_body(commit: str, version: str) -> str:
    from mlops_actions.registry.described import release_description

    manifest = {"model": "tiny", "version": version, "commit": commit, "state": "publishing"}
    return release_description("# tiny", manifest, {})


def test_a_commit_github_does_not_know_is_a_clear_error_not_a_taken_version(api, tmp_path):
    registry = registry_for(api)
    with pytest.raises(RegistryError, match="is the commit pushed") as error:
        publish(registry, model_folder(tmp_path, "not-a-sha"), "1.0.0")
    assert not isinstance(error.value, VersionTaken)
    assert api.releases == {} and api.refs == {}


# -- deploy records ------------------------------------------------------------------------------------


def deploy_record(version: str, second: int, **fields: object) -> dict[str, object]:
    return {
        "time": f"2026-12-01T16:00:{second:02d}.5Z",
        "version": version,
        "outcome": "deployed",
        "previous": None,
        "reason": "<b>p99 612 ms > 200 ms</b> -->",
        "target": "built-in",
        "smoke": {"rows": 20, "mismatches": 0},
        "load": {"rps": 950.5, "p95_ms": 12.0, "p99_ms": 20.5, "error_rate": 0.0},
        "duration_s": 41.2,
        "run_url": None,
        **fields,
    }


@pytest.fixture
def two_versions(api, tmp_path) -> GitHubReleasesRegistry:
    registry = registry_for(api)
    publish(registry, model_folder(tmp_path, COMMIT_A), "1.0.0")
    publish(registry, model_folder(tmp_path, COMMIT_B, payload=b"second"), "1.1.0")
    return registry


def body_of(api: GitHubReleasesStandIn, tag: str) -> str:
    [release] = [r for r in api.published() if r["tag_name"] == tag]
    return str(release["body"])


def test_a_deploy_record_round_trips_in_the_release_body(api, two_versions):
    record = deploy_record("1.0.0", 1)
    two_versions.record_deploy("1.0.0", record)
    assert two_versions.deploy_records("1.0.0") == [record]
    assert two_versions.deploy_records() == [record]
    body = body_of(api, "tiny@v1.0.0")
    assert "<!-- mlops-actions:deploys [" in body and "<b>" not in body and body.count("-->") == 3
    assert api.violations == []


def test_records_of_two_versions_stay_apart_and_all_are_listed_oldest_first(api, two_versions):
    first, second = deploy_record("1.1.0", 1), deploy_record("1.0.0", 2, outcome="rolled_back")
    third = deploy_record("1.1.0", 3)
    for record in (third, first, second):
        two_versions.record_deploy(str(record["version"]), record)
    assert two_versions.deploy_records("1.0.0") == [second]
    assert two_versions.deploy_records("v1.1.0") == [first, third]
    assert two_versions.deploy_records() == [first, second, third]
    assert api.violations == []


def test_the_twenty_first_record_drops_the_oldest(api, two_versions):
    records = [deploy_record("1.0.0", second) for second in range(21)]
    for record in records:
        two_versions.record_deploy("1.0.0", record)
    assert two_versions.deploy_records("1.0.0") == records[1:]


@pytest.mark.parametrize(
    ("record", "said"),
    [
        (deploy_record("1.0.0", 1, reason="x" * 4_000), "at most 4000 are stored"),
        ("a string", "expected a JSON object"),
        (deploy_record("1.0.0", 1, time="2026-12-01 16:00"), "is not an ISO-8601 UTC time"),
        (deploy_record("1.1.0", 1), "names version '1.1.0', expected '1.0.0'"),
    ],
    ids=["oversized", "not-an-object", "not-utc", "other-version"],
)
def test_an_oversized_or_malformed_record_is_refused_with_nothing_written(api, two_versions, record, said):
    before = body_of(api, "tiny@v1.0.0")
    writes = sum(1 for r in api.log if r.method == "PATCH")
    with pytest.raises(RegistryError, match=said):
        two_versions.record_deploy("1.0.0", record)
    assert body_of(api, "tiny@v1.0.0") == before
    assert sum(1 for r in api.log if r.method == "PATCH") == writes


def test_the_manifest_and_aliases_survive_a_record_and_an_alias_set_after_keeps_the_records(
    api, two_versions, tmp_path
):
    two_versions.set_alias("production", "1.0.0")
    [before, _other] = two_versions.list_versions()
    record = deploy_record("1.0.0", 1)
    two_versions.record_deploy("1.0.0", record)
    [after, _other] = two_versions.list_versions()
    assert after == before and after.aliases == ("production",)
    two_versions.set_alias("production", "1.1.0")  # rewrites both bodies
    two_versions.set_alias("production", "1.0.0")
    assert two_versions.deploy_records() == [record]
    assert two_versions.resolve("production").version == "1.0.0"  # type: ignore[union-attr]
    assert (two_versions.fetch("1.0.0", tmp_path / "fetched") / "model.skops").read_bytes() == b"model bytes"
    assert api.violations == []


def test_a_deploy_of_a_missing_version_is_refused(api, two_versions):
    with pytest.raises(RegistryError, match=r"missing version 3\.0\.0"):
        two_versions.record_deploy("3.0.0", deploy_record("3.0.0", 1))
    assert two_versions.deploy_records("3.0.0") == []


@pytest.mark.parametrize(
    "rule",
    [
        Rule("error-after", method="PATCH", path=r"/releases/\d+$", status=502),
        Rule("truncate", method="PATCH", path=r"/releases/\d+$"),
    ],
    ids=["write-then-502", "write-answer-truncated"],
)
def test_a_record_write_whose_answer_was_lost_is_checked_not_repeated(api, two_versions, rule):
    record = deploy_record("1.0.0", 1)
    with FaultProxy(api.url) as proxy:
        proxy.add(rule)
        env = {"GITHUB_API_URL": proxy.url, "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_TOKEN": TOKEN}
        through = GitHubReleasesRegistry.from_options("tiny", {}, env, sleep=lambda s: None)
        through.record_deploy("1.0.0", record)
        assert len(proxy.applied(rule.action)) == 1
        assert [p.method for p in proxy.log].count("PATCH") == 1  # read back, found, not sent again
    assert two_versions.deploy_records("1.0.0") == [record]
    assert body_of(api, "tiny@v1.0.0").count("mlops-actions:deploys") == 1
    assert api.violations == []


def test_records_that_would_pass_the_body_limit_drop_the_oldest_first(api, two_versions):
    two_versions.max_description_chars = 8_000  # GitHub's is 125,000; the manifest and card take their part
    records = [deploy_record("1.0.0", second, reason="r" * 1_000) for second in range(10)]
    for record in records:
        two_versions.record_deploy("1.0.0", record)
    kept = two_versions.deploy_records("1.0.0")
    assert 1 < len(kept) < 10 and kept == records[-len(kept) :]
    assert len(body_of(api, "tiny@v1.0.0")) <= 8_000
    assert two_versions.resolve("1.0.0") is not None  # the manifest is whole
