"""The GitLab registry (releases + generic packages) against the contract-enforcing API stand-in."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlops_actions.domain.config import parse_config
from mlops_actions.errors import RegistryError
from mlops_actions.platforms.gitlab.packages import GitLabRegistry
from mlops_actions.registry import PRODUCTION, open_registry
from mlops_actions.registry.described import parse_description, release_description
from tests.standins.fault_proxy import FaultProxy, Rule
from tests.standins.gitlab import GitLabStandIn

JOB_TOKEN = "glcbt-registry-job-token-1"
READ_ONLY = "glpat-read-only-2"
COMMIT_A = "a" * 40
COMMIT_B = "b" * 40


@pytest.fixture
def api(start_gitlab_standin: Callable[..., GitLabStandIn]) -> Iterator[GitLabStandIn]:
    standin = start_gitlab_standin(tokens={READ_ONLY: "read_api"}, job_tokens={JOB_TOKEN}, max_per_page=2)
    yield standin
    assert standin.violations == []


def env_for(api: GitLabStandIn, **extra: str) -> dict[str, str]:
    return {"CI_API_V4_URL": api.url, "CI_PROJECT_ID": "42", "CI_JOB_TOKEN": JOB_TOKEN, **extra}


def registry_for(api: GitLabStandIn, sleeps: list[float] | None = None, **options: str) -> GitLabRegistry:
    sleep = (sleeps if sleeps is not None else []).append
    return GitLabRegistry.from_options("churn", options, env_for(api), sleep=sleep)


def model_folder(root: Path, commit: str, seed: str = "weights") -> Path:
    folder = root / f"model-{commit[:4]}-{seed}"
    folder.mkdir(parents=True)
    data = f"skops model {seed}".encode()
    (folder / "model.skops").write_bytes(data)
    metadata = {
        "model_name": "churn",
        "model_digest": f"sha256:{hashlib.sha256(data).hexdigest()}",
        "git": {"commit": commit, "branch": "main", "dirty": False},
        "data": {},
        "params": {"C": 1.0},
    }
    (folder / "metadata.json").write_text(json.dumps(metadata))
    (folder / "model-card.md").write_text(f"# churn\n\nA card for {seed}.\n")
    return folder


def publish(registry: GitLabRegistry, folder: Path, version: str):
    return registry.publish(
        folder,
        version=version,
        metrics={"roc_auc": {"value": 0.8}},
        extra_files={"model-card.md": folder / "model-card.md"},
    )


def test_publish_creates_the_release_its_tag_and_the_package_files(api, tmp_path):
    folder = model_folder(tmp_path, COMMIT_A)
    published = publish(registry_for(api), folder, "1.0.0")
    assert published.tag == "churn@v1.0.0"
    assert published.commit == COMMIT_A
    assert api.tags["churn@v1.0.0"]["sha"] == COMMIT_A
    release = api.releases["churn@v1.0.0"]
    assert release["description"].startswith("# churn\n\nA card for weights.")
    assert {link["name"] for link in release["links"]} == {
        "model.skops",
        "metadata.json",
        "model-card.md",
        "manifest.json",
    }
    assert next(link for link in release["links"] if link["name"] == "model.skops")["link_type"] == "package"
    files = api.package_files("churn", "1.0.0")
    assert files["model.skops"] == (folder / "model.skops").read_bytes()
    assert json.loads(files["manifest.json"])["state"] == "complete"
    assert {s.token_header for s in api.seen} == {"JOB-TOKEN"}


def test_history_lists_versions_in_order_with_the_production_alias(api, tmp_path):
    registry = registry_for(api)
    publish(registry, model_folder(tmp_path, COMMIT_A), "1.0.0")
    registry.set_alias(PRODUCTION, "1.0.0")
    publish(registry, model_folder(tmp_path, COMMIT_B), "1.1.0")
    registry.set_alias(PRODUCTION, "1.1.0")
    versions = registry.list_versions()
    assert [(v.version, v.aliases) for v in versions] == [("1.0.0", ()), ("1.1.0", (PRODUCTION,))]
    assert registry.resolve(PRODUCTION).commit == COMMIT_B
    assert "production" not in api.releases["churn@v1.0.0"]["description"].split("aliases")[-1]


def test_fetch_checks_every_digest(api, tmp_path):
    registry = registry_for(api)
    folder = model_folder(tmp_path, COMMIT_A)
    publish(registry, folder, "1.0.0")
    registry.set_alias(PRODUCTION, "1.0.0")
    fetched = registry.fetch(PRODUCTION, tmp_path / "fetched")
    assert (fetched / "model.skops").read_bytes() == (folder / "model.skops").read_bytes()
    assert sorted(p.name for p in fetched.iterdir()) == ["metadata.json", "model-card.md", "model.skops"]


def test_a_tampered_package_file_is_refused_and_not_written(api, tmp_path):
    registry = registry_for(api)
    publish(registry, model_folder(tmp_path, COMMIT_A), "1.0.0")
    package = api.packages[("churn", "1.0.0")]
    record = next(f for f in package.files if f["file_name"] == "model.skops")
    record["_data"] = b"tampered"
    record["file_sha256"] = hashlib.sha256(b"tampered").hexdigest()
    with pytest.raises(RegistryError, match=r"model.skops: sha256 digest mismatch, expected sha256:"):
        registry.fetch("1.0.0", tmp_path / "fetched")
    assert not (tmp_path / "fetched" / "model.skops").exists()
    assert not [p for p in (tmp_path / "fetched").iterdir() if p.name.startswith(".")]


def test_a_version_claimed_by_another_commit_is_refused(api, tmp_path):
    registry = registry_for(api)
    publish(registry, model_folder(tmp_path, COMMIT_A), "1.0.0")
    with pytest.raises(
        RegistryError,
        match=r"version 1.0.0 of 'churn' already exists \(release churn@v1.0.0, commit aaaaaaaaaaaa\)",
    ):
        publish(registry, model_folder(tmp_path, COMMIT_B), "1.0.0")


def test_publishing_the_same_files_again_is_a_no_op(api, tmp_path):
    registry = registry_for(api)
    folder = model_folder(tmp_path, COMMIT_A)
    first = publish(registry, folder, "1.0.0")
    uploads = sum(1 for s in api.seen if s.method == "PUT" and "packages" in s.path)
    again = publish(registry, folder, "1.0.0")
    assert again == first
    assert sum(1 for s in api.seen if s.method == "PUT" and "packages" in s.path) == uploads


def test_an_interrupted_publish_is_invisible_and_a_rerun_completes_it(api, tmp_path):
    registry = registry_for(api)
    folder = model_folder(tmp_path, COMMIT_A)
    api.fail_next(
        10,
        status=502,
        operations={"putApiV4ProjectsIdPackagesGenericPackageName*packageVersion(*path)FileName"},
    )
    with pytest.raises(RegistryError, match="giving up after 5 attempts"):
        publish(registry, folder, "1.0.0")
    assert "churn@v1.0.0" in api.releases  # the tag claims the version
    assert registry.list_versions() == []
    assert registry.resolve("1.0.0") is None
    api.clear_failures()
    published = publish(registry, folder, "1.0.0")
    assert [v.version for v in registry.list_versions()] == [published.version]


def test_a_release_not_made_by_mlops_actions_is_not_taken_over(api, tmp_path):
    api.releases["churn@v1.0.0"] = {
        "tag_name": "churn@v1.0.0",
        "name": "hand made",
        "description": "notes",
        "created_at": "2024-01-01T00:00:00Z",
        "released_at": "2024-01-01T00:00:00Z",
        "author": {"id": 1, "username": "u", "name": "U", "state": "active"},
        "sha": COMMIT_A,
        "links": [],
        "seq": 1,
    }
    with pytest.raises(RegistryError, match="already exists and was not made by mlops-actions"):
        publish(registry_for(api), model_folder(tmp_path, COMMIT_A), "1.0.0")


def test_upload_refused_for_a_read_only_token_names_scope_and_role(api, tmp_path):
    registry = GitLabRegistry.from_options(
        "churn",
        {},
        {"CI_API_V4_URL": api.url, "CI_PROJECT_ID": "acme/credit", "MLOPS_GITLAB_TOKEN": READ_ONLY},
    )
    with pytest.raises(RegistryError) as raised:
        publish(registry, model_folder(tmp_path, COMMIT_A), "1.0.0")
    message = str(raised.value)
    assert "HTTP 403" in message and "needs scope `api` and at least the Developer role" in message
    assert READ_ONLY not in message


def test_no_token_at_all_is_a_clear_error(api):
    with pytest.raises(RegistryError, match="no token; in CI the job token"):
        GitLabRegistry.from_options("churn", {}, {"CI_API_V4_URL": api.url, "CI_PROJECT_ID": "42"})


def test_open_registry_chooses_the_gitlab_backend_from_the_config(api, tmp_path, monkeypatch):
    for key, value in env_for(api).items():
        monkeypatch.setenv(key, value)
    doc = {
        "version": 1,
        "model": {"name": "churn", "task": "binary"},
        "train": {"command": "true"},
        "data": {"train": "train.csv", "target": "y"},
        "registry": {"backend": "gitlab", "project": "acme/credit", "package": "churn-models"},
    }
    registry = open_registry(parse_config(doc, tmp_path / "mlops.yaml"))
    assert isinstance(registry, GitLabRegistry)
    assert (registry.client.project, registry.package) == ("acme/credit", "churn-models")
    assert registry.list_versions() == []


def test_the_description_round_trips_and_cannot_be_broken_by_the_card():
    manifest = {"model": "churn", "version": "1.0.0", "note": "--> <!-- mlops-actions:aliases {} -->"}
    card = "# card\n<!-- mlops-actions:manifest\n{}\n-->"
    text = release_description(card, manifest, {"production": "2024-01-01T00:00:00.000000Z"})
    _card, parsed, aliases = parse_description(text)
    assert parsed == manifest
    assert aliases == {"production": "2024-01-01T00:00:00.000000Z"}


# -- deploy records ------------------------------------------------------------------------------------


def deploy_record(version: str, second: int, **fields: object) -> dict[str, object]:
    return {
        "time": f"2026-12-01T16:00:{second:02d}Z",
        "version": version,
        "outcome": "deployed",
        "previous": "0.9.0",
        "reason": None,
        "target": "command",
        "smoke": {"rows": 20, "mismatches": 0},
        "load": None,
        "duration_s": 12.5,
        "run_url": "https://gitlab.example/acme/churn/-/jobs/7",
        **fields,
    }


@pytest.fixture
def two_versions(api, tmp_path) -> GitLabRegistry:
    registry = registry_for(api)
    publish(registry, model_folder(tmp_path, COMMIT_A), "1.0.0")
    publish(registry, model_folder(tmp_path, COMMIT_B, seed="second"), "1.1.0")
    return registry


def test_a_deploy_record_round_trips_in_the_release_description(api, two_versions):
    record = deploy_record("1.0.0", 1)
    two_versions.record_deploy("1.0.0", record)
    assert two_versions.deploy_records("1.0.0") == [record]
    assert two_versions.deploy_records() == [record]
    description = api.releases["churn@v1.0.0"]["description"]
    assert description.rstrip().endswith(" -->") and "<!-- mlops-actions:deploys [" in description
    card, manifest, _aliases = parse_description(description)
    assert card.startswith("# churn") and "deploys" not in card and manifest["version"] == "1.0.0"


def test_records_of_two_versions_stay_apart_and_all_are_listed_oldest_first(api, two_versions):
    first, second = deploy_record("1.1.0", 1), deploy_record("1.0.0", 2, outcome="failed")
    third = deploy_record("1.1.0", 3)
    for record in (third, first, second):
        two_versions.record_deploy(str(record["version"]), record)
    assert two_versions.deploy_records("1.0.0") == [second]
    assert two_versions.deploy_records("1.1.0") == [first, third]
    assert two_versions.deploy_records() == [first, second, third]


def test_the_twenty_first_record_drops_the_oldest(api, two_versions):
    records = [deploy_record("1.0.0", second) for second in range(21)]
    for record in records:
        two_versions.record_deploy("1.0.0", record)
    assert two_versions.deploy_records("1.0.0") == records[1:]


@pytest.mark.parametrize(
    ("record", "said"),
    [
        (deploy_record("1.0.0", 1, reason="x" * 4_000), "at most 4000 are stored"),
        (None, "expected a JSON object"),
        (deploy_record("1.0.0", 1, time=1764604800), "is not an ISO-8601 UTC time"),
        (deploy_record("1.1.0", 1), "names version '1.1.0', expected '1.0.0'"),
    ],
    ids=["oversized", "not-an-object", "not-a-string-time", "other-version"],
)
def test_an_oversized_or_malformed_record_is_refused_with_nothing_written(api, two_versions, record, said):
    before = api.releases["churn@v1.0.0"]["description"]
    with pytest.raises(RegistryError, match=said):
        two_versions.record_deploy("1.0.0", record)
    assert api.releases["churn@v1.0.0"]["description"] == before


def test_the_manifest_and_aliases_survive_a_record_and_an_alias_set_after_keeps_the_records(
    api, two_versions, tmp_path
):
    two_versions.set_alias(PRODUCTION, "1.0.0")
    [before, _other] = two_versions.list_versions()
    record = deploy_record("1.0.0", 1)
    two_versions.record_deploy("1.0.0", record)
    [after, _other] = two_versions.list_versions()
    assert after == before and after.aliases == (PRODUCTION,)
    two_versions.set_alias(PRODUCTION, "1.1.0")  # rewrites both descriptions
    two_versions.set_alias(PRODUCTION, "1.0.0")
    assert two_versions.deploy_records() == [record]
    fetched = two_versions.fetch(PRODUCTION, tmp_path / "fetched")
    assert (fetched / "model.skops").read_bytes() == b"skops model weights"


def test_a_deploy_of_a_missing_version_is_refused(api, two_versions):
    with pytest.raises(RegistryError, match=r"missing version 3\.0\.0"):
        two_versions.record_deploy("3.0.0", deploy_record("3.0.0", 1))
    assert two_versions.deploy_records("3.0.0") == []


@pytest.mark.parametrize(
    "rule",
    [
        Rule("error-after", method="PUT", path=r"/releases/churn%40v1\.0\.0$", status=502),
        Rule("truncate", method="PUT", path=r"/releases/churn%40v1\.0\.0$"),
    ],
    ids=["write-then-502", "write-answer-truncated"],
)
def test_a_record_write_whose_answer_was_lost_is_checked_not_repeated(api, two_versions, rule):
    record = deploy_record("1.0.0", 1)
    with FaultProxy(api.url) as proxy:
        proxy.add(rule)
        env = {**env_for(api), "CI_API_V4_URL": proxy.url}
        through = GitLabRegistry.from_options("churn", {}, env, sleep=lambda s: None)
        through.record_deploy("1.0.0", record)
        assert len(proxy.applied(rule.action)) == 1
        assert [p.method for p in proxy.log].count("PUT") == 1  # read back, found, not sent again
    assert two_versions.deploy_records("1.0.0") == [record]
    assert api.releases["churn@v1.0.0"]["description"].count("mlops-actions:deploys") == 1
