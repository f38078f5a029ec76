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
