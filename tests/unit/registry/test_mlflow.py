"""The MLflow registry against a real `mlflow server` (SQLite backend, artifacts served by the server) on
127.0.0.1, shared by the session (tests/mlflow_server.py). Skipped when mlflow is not installed."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest

pytest.importorskip("mlflow", reason="mlflow is not installed (pip install 'mlops-actions[mlflow]')")

from mlops_actions.errors import RegistryError
from mlops_actions.platforms.github.releases import ConcurrentRelease, VersionTaken
from mlops_actions.registry.mlflow import MlflowRegistry

COMMIT_A = "a" * 40
COMMIT_B = "b" * 40


@pytest.fixture
def tracking_uri(mlflow_server_uri: str) -> str:
    """The session's real mlflow server (tests/mlflow_server.py); importable by other modules that use it."""
    return mlflow_server_uri


def model_folder(root: Path, commit: str, model: str, payload: bytes = b"model bytes") -> Path:
    folder = root / f"{model}-{commit[:4]}-{hashlib.sha1(payload).hexdigest()[:6]}"
    folder.mkdir(parents=True)
    (folder / "model.skops").write_bytes(payload)
    digest = "sha256:" + hashlib.sha256(payload).hexdigest()
    metadata = {"model_name": model, "model_digest": digest, "git": {"commit": commit, "branch": "main"}}
    metadata["release"] = {"pull_request": 7}
    (folder / "metadata.json").write_text(json.dumps(metadata))
    (folder / "model-card.md").write_text(f"# {model}\n")
    return folder


def publish(registry: MlflowRegistry, folder: Path, version: str):  # type: ignore[no-untyped-def]
    return registry.publish(
        folder,
        version=version,
        metrics={"roc_auc": {"value": 0.81, "ci_low": 0.7, "ci_high": 0.9}},
        extra_files={"model-card.md": folder / "model-card.md"},
    )


def test_publish_list_fetch_and_alias_round_trip(tracking_uri, tmp_path):
    registry = MlflowRegistry("churn", tracking_uri=tracking_uri)
    first = publish(registry, model_folder(tmp_path, COMMIT_A, "churn"), "1.0.0")
    second = publish(registry, model_folder(tmp_path, COMMIT_B, "churn", b"second"), "1.1.0")
    assert (first.tag, first.commit, second.version) == ("churn@v1.0.0", COMMIT_A, "1.1.0")
    assert first.metrics["roc_auc"]["value"] == 0.81
    assert first.lineage["release"] == {"pull_request": 7}
    registry.set_alias("production", "1.0.0")
    registry.set_alias("production", "1.1.0")
    assert [(v.version, v.aliases) for v in registry.list_versions()] == [
        ("1.0.0", ()),
        ("1.1.0", ("production",)),
    ]
    fetched = registry.fetch("production", tmp_path / "fetched")
    assert (fetched / "model.skops").read_bytes() == b"second"
    assert set(p.name for p in fetched.iterdir()) == {"model.skops", "metadata.json", "model-card.md"}
    # MLflow's own view: a registered model with versions tagged and the alias set.
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    assert client.get_model_version_by_alias("churn", "production").tags["mlops.semver"] == "1.1.0"


def test_the_same_commit_twice_is_one_version_and_a_taken_version_is_refused(tracking_uri, tmp_path):
    registry = MlflowRegistry("ltv", tracking_uri=tracking_uri)
    first = publish(registry, model_folder(tmp_path, COMMIT_A, "ltv"), "1.0.0")
    again = publish(registry, model_folder(tmp_path, COMMIT_A, "ltv", b"retrained"), "1.1.0")
    assert again.version == first.version == "1.0.0"
    with pytest.raises(VersionTaken):
        publish(registry, model_folder(tmp_path, COMMIT_B, "ltv"), "1.0.0")
    assert [v.version for v in registry.list_versions()] == ["1.0.0"]


def test_racing_publishers_of_one_version_end_with_one_winner(tracking_uri, tmp_path):
    outcomes: dict[str, object] = {}

    def attempt(commit: str) -> None:
        registry = MlflowRegistry("race", tracking_uri=tracking_uri)
        try:
            outcomes[commit] = publish(registry, model_folder(tmp_path / commit[:1], commit, "race"), "1.0.0")
        except RegistryError as error:
            outcomes[commit] = error

    threads = [threading.Thread(target=attempt, args=(c,)) for c in (COMMIT_A, COMMIT_B)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [o for o in outcomes.values() if isinstance(o, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], VersionTaken), outcomes
    assert [v.version for v in MlflowRegistry("race", tracking_uri=tracking_uri).list_versions()] == ["1.0.0"]


def test_a_failure_after_registration_leaves_no_listed_version(tracking_uri, tmp_path, monkeypatch):
    registry = MlflowRegistry("broken", tracking_uri=tracking_uri)

    def fail(*args: object) -> None:
        raise RegistryError("artifact check failed")

    monkeypatch.setattr(registry, "_verify_upload", fail)
    with pytest.raises(RegistryError, match="artifact check failed"):
        publish(registry, model_folder(tmp_path, COMMIT_A, "broken"), "1.0.0")
    assert registry.list_versions() == []
    assert registry._model_versions() == []  # the unfinished model version was deleted


def test_a_tampered_artifact_is_refused_on_fetch(tracking_uri, tmp_path):
    registry = MlflowRegistry("tamper", tracking_uri=tracking_uri)
    version = publish(registry, model_folder(tmp_path, COMMIT_A, "tamper"), "1.0.0")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    bad = tmp_path / "bad" / "model"
    bad.mkdir(parents=True)
    (bad / "model.skops").write_bytes(b"tampered")
    client.log_artifacts(version.lineage["mlflow_run_id"], str(bad), "model")
    with pytest.raises(RegistryError, match="sha256 digest mismatch"):
        registry.fetch("1.0.0", tmp_path / "fetched")
    assert not (tmp_path / "fetched" / "model.skops").exists()


def test_no_tracking_server_is_a_clear_error():
    with pytest.raises(RegistryError, match="MLFLOW_TRACKING_URI"):
        MlflowRegistry.from_options("churn", {}, {})


def test_racing_publishers_of_one_commit_end_with_one_version(tracking_uri, tmp_path):
    outcomes: dict[str, object] = {}

    def attempt(version: str) -> None:
        registry = MlflowRegistry("twin", tracking_uri=tracking_uri)
        try:
            outcomes[version] = publish(registry, model_folder(tmp_path / version, COMMIT_A, "twin"), version)
        except RegistryError as error:
            outcomes[version] = error

    threads = [threading.Thread(target=attempt, args=(v,)) for v in ("1.0.0", "1.1.0")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [o for o in outcomes.values() if isinstance(o, Exception)]
    assert all(isinstance(e, ConcurrentRelease) for e in errors), outcomes
    listed = MlflowRegistry("twin", tracking_uri=tracking_uri).list_versions()
    assert len(listed) == 1 and listed[0].commit == COMMIT_A


def test_verifying_a_version_removes_an_unfinished_one_of_its_commit_and_names_a_missing_file(
    tracking_uri, tmp_path
):
    from dataclasses import replace

    registry = MlflowRegistry("verify", tracking_uri=tracking_uri)
    version = publish(registry, model_folder(tmp_path, COMMIT_A, "verify"), "1.0.0")
    assert registry.verify_version(version) == []
    run_id = version.lineage["mlflow_run_id"]
    registry.client.create_model_version(  # what a release of the same commit killed midway leaves
        "verify",
        f"runs:/{run_id}/model",
        run_id=run_id,
        tags={
            "mlops.model": "verify",
            "mlops.semver": "1.1.0",
            "mlops.commit": COMMIT_A,
            "mlops.state": "publishing",
        },
    )
    assert len(registry._model_versions()) == 2
    [note] = registry.verify_version(version)
    assert "removed the unfinished MLflow model version" in note
    assert len(registry._model_versions()) == 1
    damaged = replace(version, files={**version.files, "absent.json": "sha256:" + "0" * 64})
    with pytest.raises(RegistryError, match=r"verify@v1\.0\.0 lacks the file\(s\) absent\.json"):
        registry.verify_version(damaged)


# -- deploy records ------------------------------------------------------------------------------------


def deploy_record(version: str, second: int, **fields: object) -> dict[str, object]:
    return {
        "time": f"2026-12-01T16:00:{second:02d}.000001Z",
        "version": version,
        "outcome": "deployed",
        "previous": None,
        "reason": None,
        "target": "built-in",
        "smoke": {"rows": 20, "mismatches": 0},
        "load": {"rps": 950.5, "p95_ms": 12.0, "p99_ms": 20.5, "error_rate": 0.0},
        "duration_s": 41.2,
        "run_url": None,
        **fields,
    }


def two_versions(tracking_uri: str, tmp_path: Path, model: str) -> MlflowRegistry:
    registry = MlflowRegistry(model, tracking_uri=tracking_uri)
    publish(registry, model_folder(tmp_path, COMMIT_A, model), "1.0.0")
    publish(registry, model_folder(tmp_path, COMMIT_B, model, b"second"), "1.1.0")
    return registry


def test_deploy_records_round_trip_and_two_versions_stay_apart(tracking_uri, tmp_path):
    registry = two_versions(tracking_uri, tmp_path, "records")
    first, second = deploy_record("1.1.0", 1), deploy_record("1.0.0", 2, outcome="rolled_back")
    third = deploy_record("1.1.0", 3)
    for record in (third, first, second):
        registry.record_deploy(str(record["version"]), record)
    assert registry.deploy_records("1.0.0") == [second]
    assert registry.deploy_records("v1.1.0") == [first, third]
    assert registry.deploy_records() == [first, second, third]
    stored = registry._complete_model_version("1.0.0").tags["mlops.deploys"]
    assert json.loads(stored) == [second]
    registry.set_alias("production", "1.0.0")
    assert registry.deploy_records("1.0.0") == [second]
    assert [v.aliases for v in registry.list_versions()] == [("production",), ()]


def test_the_twenty_first_record_drops_the_oldest_and_the_tag_stays_under_mlflows_limit(
    tracking_uri, tmp_path
):
    registry = two_versions(tracking_uri, tmp_path, "records-kept")
    records = [deploy_record("1.0.0", second, reason="r" * 3_600) for second in range(21)]
    for record in records:
        registry.record_deploy("1.0.0", record)
    kept = registry.deploy_records("1.0.0")
    assert kept == records[1:]
    assert len(registry._complete_model_version("1.0.0").tags["mlops.deploys"]) <= 90_000


@pytest.mark.parametrize(
    ("record", "said"),
    [
        (deploy_record("1.0.0", 1, reason="x" * 4_000), "at most 4000 are stored"),
        (deploy_record("1.0.0", 1, time="2026-12-01T16:00:00"), "is not an ISO-8601 UTC time"),
        (deploy_record("1.1.0", 1), "names version '1.1.0', expected '1.0.0'"),
    ],
    ids=["oversized", "no-utc-offset", "other-version"],
)
def test_an_oversized_or_malformed_record_is_refused_with_nothing_written(
    tracking_uri, tmp_path, record, said
):
    registry = MlflowRegistry("records-refused", tracking_uri=tracking_uri)
    if registry.resolve("1.0.0") is None:
        publish(registry, model_folder(tmp_path, COMMIT_A, "records-refused"), "1.0.0")
    with pytest.raises(RegistryError, match=said):
        registry.record_deploy("1.0.0", record)
    assert "mlops.deploys" not in registry._complete_model_version("1.0.0").tags
    with pytest.raises(RegistryError, match=r"missing version 3\.0\.0"):
        registry.record_deploy("3.0.0", deploy_record("3.0.0", 1))


def test_a_record_write_whose_answer_was_lost_is_checked_not_repeated(tracking_uri, tmp_path, monkeypatch):
    from tests.standins.fault_proxy import FaultProxy, Rule

    two_versions(tracking_uri, tmp_path, "records-lost")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # the registry's own check, not MLflow's retry
    record = deploy_record("1.0.0", 1)
    with FaultProxy(tracking_uri) as proxy:
        rule = proxy.add(Rule("error-after", method="POST", path=r"/model-versions/set-tag$", status=502))
        through = MlflowRegistry("records-lost", tracking_uri=proxy.url)
        through.record_deploy("1.0.0", record)
        assert len(proxy.applied(rule.action)) == 1
        set_tags = [p for p in proxy.log if p.path.endswith("/model-versions/set-tag")]
    assert len(set_tags) == 1  # read back, found, not sent again
    assert MlflowRegistry("records-lost", tracking_uri=tracking_uri).deploy_records() == [record]
