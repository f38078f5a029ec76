from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from mlops_actions.domain.model_io import METADATA_FILE, MODEL_FILE, digest_of
from mlops_actions.errors import RegistryError
from mlops_actions.platforms.local.registry import LocalRegistry


def make_model_dir(folder: Path, name: str = "credit", payload: bytes = b"model-bytes") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MODEL_FILE).write_bytes(payload)
    metadata = {
        "model_name": name,
        "model_digest": digest_of(folder / MODEL_FILE),
        "git": {"commit": "abc123"},
        "data": {"train": {"sha256": "0" * 64}},
    }
    (folder / METADATA_FILE).write_text(json.dumps(metadata))
    return folder


def test_publish_then_resolve_by_version_and_alias(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "reg", "credit")
    published = registry.publish(make_model_dir(tmp_path / "m"), version="1.0.0", metrics={"roc_auc": 0.8})
    registry.set_alias("production", "1.0.0")
    assert published.tag == "credit@v1.0.0" and published.commit == "abc123"
    assert registry.resolve("production").version == "1.0.0"  # type: ignore[union-attr]
    assert registry.resolve("v1.0.0").aliases == ("production",)  # type: ignore[union-attr]
    assert registry.resolve("2.0.0") is None


def test_publishing_an_existing_version_is_refused(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "reg", "credit")
    model = make_model_dir(tmp_path / "m")
    registry.publish(model, version="1.0.0", metrics={})
    with pytest.raises(RegistryError, match=r"version 1\.0\.0 of .credit. already exists"):
        registry.publish(model, version="1.0.0", metrics={})
    assert [v.version for v in registry.list_versions()] == ["1.0.0"]


def test_fetch_checks_every_digest(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "reg", "credit")
    registry.publish(make_model_dir(tmp_path / "m"), version="1.0.0", metrics={})
    (tmp_path / "reg" / "credit" / "versions" / "1.0.0" / MODEL_FILE).write_bytes(b"tampered")
    with pytest.raises(RegistryError, match="sha256 digest mismatch"):
        registry.fetch("1.0.0", tmp_path / "out")
    assert not (tmp_path / "out" / MODEL_FILE).exists()


def test_a_model_whose_file_differs_from_its_metadata_is_not_published(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "reg", "credit")
    model = make_model_dir(tmp_path / "m")
    (model / MODEL_FILE).write_bytes(b"swapped after training")
    with pytest.raises(RegistryError, match="digest mismatch"):
        registry.publish(model, version="1.0.0", metrics={})
    assert registry.list_versions() == []
    assert not list((tmp_path / "reg" / "credit").glob(".staging-*"))


def _publish_slowly(root: str, model_dir: str) -> None:
    import shutil as _shutil

    original = _shutil.copyfile

    def slow_copy(src, dst, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(0.4)
        return original(src, dst, **kwargs)

    _shutil.copyfile = slow_copy  # type: ignore[assignment]
    LocalRegistry(Path(root), "credit").publish(Path(model_dir), version="1.0.0", metrics={})


def test_a_publish_killed_midway_leaves_no_visible_version(tmp_path: Path) -> None:
    model = make_model_dir(tmp_path / "m")
    process = multiprocessing.get_context("fork").Process(
        target=_publish_slowly, args=(str(tmp_path / "reg"), str(model))
    )
    process.start()
    time.sleep(0.3)
    os.kill(process.pid, signal.SIGKILL)
    process.join()
    registry = LocalRegistry(tmp_path / "reg", "credit")
    assert registry.list_versions() == []
    assert registry.resolve("1.0.0") is None
    registry.publish(model, version="1.0.0", metrics={})  # the version is still free
    assert [v.version for v in registry.list_versions()] == ["1.0.0"]


def _race(root: str, model_dir: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    try:
        LocalRegistry(Path(root), "credit").publish(Path(model_dir), version="1.0.0", metrics={})
        queue.put("published")
    except RegistryError:
        queue.put("refused")


def test_two_racing_publishers_of_one_version_end_with_one_version(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    models = [make_model_dir(tmp_path / f"m{i}", payload=f"model {i}".encode()) for i in range(4)]
    processes = [context.Process(target=_race, args=(str(tmp_path / "reg"), str(m), queue)) for m in models]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    outcomes = sorted(queue.get() for _ in processes)
    assert outcomes.count("published") == 1 and outcomes.count("refused") == 3
    assert [v.version for v in LocalRegistry(tmp_path / "reg", "credit").list_versions()] == ["1.0.0"]


def test_alias_cannot_point_at_a_missing_version(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"missing version 3\.0\.0"):
        LocalRegistry(tmp_path / "reg", "credit").set_alias("production", "3.0.0")


# -- deploy records ------------------------------------------------------------------------------------


def deploy_record(version: str, second: int, **fields: object) -> dict[str, object]:
    return {
        "time": f"2026-12-01T16:00:{second:02d}.123Z",
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


@pytest.fixture
def two_versions(tmp_path: Path) -> LocalRegistry:
    registry = LocalRegistry(tmp_path / "reg", "credit")
    registry.publish(make_model_dir(tmp_path / "m1"), version="1.0.0", metrics={})
    registry.publish(make_model_dir(tmp_path / "m2", payload=b"second"), version="1.1.0", metrics={})
    return registry


def test_a_deploy_record_round_trips_in_the_versions_folder(two_versions: LocalRegistry) -> None:
    record = deploy_record("1.0.0", 1)
    two_versions.record_deploy("v1.0.0", record)
    assert two_versions.deploy_records("1.0.0") == [record]
    assert two_versions.deploy_records() == [record]
    stored = json.loads((two_versions.versions_dir / "1.0.0" / "deploys.json").read_text())
    assert stored == [record]
    assert [v.version for v in two_versions.list_versions()] == ["1.0.0", "1.1.0"]


def test_records_of_two_versions_stay_apart_and_all_are_listed_oldest_first(
    two_versions: LocalRegistry,
) -> None:
    first, second = deploy_record("1.1.0", 1), deploy_record("1.0.0", 2, outcome="rolled_back")
    third = deploy_record("1.1.0", 3)
    for record in (third, first, second):
        two_versions.record_deploy(str(record["version"]), record)
    assert two_versions.deploy_records("1.0.0") == [second]
    assert two_versions.deploy_records("1.1.0") == [first, third]
    assert two_versions.deploy_records() == [first, second, third]


def test_the_twenty_first_record_drops_the_oldest(two_versions: LocalRegistry) -> None:
    records = [deploy_record("1.0.0", second) for second in range(21)]
    for record in records:
        two_versions.record_deploy("1.0.0", record)
    assert two_versions.deploy_records("1.0.0") == records[1:]


def test_the_same_record_written_twice_is_stored_once(two_versions: LocalRegistry) -> None:
    record = deploy_record("1.0.0", 1)
    two_versions.record_deploy("1.0.0", record)
    two_versions.record_deploy("1.0.0", dict(record))
    assert two_versions.deploy_records("1.0.0") == [record]


@pytest.mark.parametrize(
    ("record", "said"),
    [
        (deploy_record("1.0.0", 1, reason="x" * 4_000), "at most 4000 are stored"),
        (["not", "an", "object"], "expected a JSON object"),
        ({"version": "1.0.0"}, "is not an ISO-8601 UTC time"),
        (deploy_record("1.0.0", 1, time="2026-12-01T18:00:00+02:00"), "is not an ISO-8601 UTC time"),
        (deploy_record("1.0.0", 1, time="yesterday"), "is not an ISO-8601 UTC time"),
        (deploy_record("1.1.0", 1), "names version '1.1.0', expected '1.0.0'"),
        (deploy_record("1.0.0", 1, duration_s=float("nan")), "not JSON-safe"),
    ],
    ids=["oversized", "not-an-object", "no-time", "not-utc", "not-a-time", "other-version", "nan"],
)
def test_an_oversized_or_malformed_record_is_refused_with_nothing_written(
    two_versions: LocalRegistry, record: object, said: str
) -> None:
    with pytest.raises(RegistryError, match=said) as error:
        two_versions.record_deploy("1.0.0", record)  # type: ignore[arg-type]
    assert "\n" not in str(error.value)
    assert not (two_versions.versions_dir / "1.0.0" / "deploys.json").exists()
    assert two_versions.deploy_records() == []


def test_a_deploy_of_a_missing_version_is_refused(two_versions: LocalRegistry) -> None:
    with pytest.raises(RegistryError, match=r"missing version 3\.0\.0"):
        two_versions.record_deploy("3.0.0", deploy_record("3.0.0", 1))
    assert two_versions.deploy_records("3.0.0") == []


def _record_slowly(root: str, second: int) -> None:
    import mlops_actions.platforms.local.registry as local

    original = local.write_json_atomic

    def slow_write(path, document):  # type: ignore[no-untyped-def]
        time.sleep(0.05)  # widen the read-modify-write window
        original(path, document)

    local.write_json_atomic = slow_write  # type: ignore[assignment]
    LocalRegistry(Path(root), "credit").record_deploy("1.0.0", deploy_record("1.0.0", second))


def test_concurrent_deploy_records_are_all_kept(two_versions: LocalRegistry) -> None:
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_record_slowly, args=(str(two_versions.root), s)) for s in range(8)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    assert all(p.exitcode == 0 for p in processes)
    assert two_versions.deploy_records("1.0.0") == [deploy_record("1.0.0", s) for s in range(8)]


def test_setting_an_alias_keeps_the_deploy_records(two_versions: LocalRegistry) -> None:
    record = deploy_record("1.0.0", 1)
    two_versions.record_deploy("1.0.0", record)
    two_versions.set_alias("production", "1.0.0")
    assert two_versions.deploy_records("1.0.0") == [record]
