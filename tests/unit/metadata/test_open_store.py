"""Which store a config's runs go to, and a failed write that is said but never raised."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_actions.domain.config import parse_config
from mlops_actions.errors import ConfigError, StoreError
from mlops_actions.metadata import open_store, record_run, store_backend
from mlops_actions.metadata.records import Listing, RunRecord
from mlops_actions.metadata.sqlite import SqliteStore
from tests.metadata_contract import sample_record


def config_of(tmp_path: Path, registry: dict[str, Any] | None = None, **metadata: Any):  # type: ignore[no-untyped-def]
    doc = {
        "version": 1,
        "model": {"name": "churn", "task": "binary"},
        "train": {"entrypoint": "pkg.mod:fit"},
        "data": {"train": "train.csv", "target": "y"},
        "registry": registry or {"backend": "local"},
        **({"metadata": metadata} if metadata else {}),
    }
    return parse_config(doc, tmp_path / "mlops.yaml")


def test_a_local_registry_keeps_its_runs_in_metadata_sqlite_in_its_folder(tmp_path: Path) -> None:
    store = open_store(config_of(tmp_path), env={})
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path.resolve() / ".mlops/registry/metadata.sqlite"
    assert store.name == f"sqlite store {store.path}"


def test_the_store_follows_the_registry_folder_the_environment_names(tmp_path: Path) -> None:
    store = open_store(config_of(tmp_path), env={"MLOPS_REGISTRY_PATH": str(tmp_path / "elsewhere")})
    assert isinstance(store, SqliteStore) and store.path == tmp_path / "elsewhere" / "metadata.sqlite"


def test_the_store_follows_the_configured_registry_path(tmp_path: Path) -> None:
    store = open_store(config_of(tmp_path, {"backend": "local", "path": "reg"}), env={})
    assert isinstance(store, SqliteStore) and store.path == tmp_path.resolve() / "reg" / "metadata.sqlite"


def test_metadata_path_is_relative_to_the_config_and_the_environment_overrides_it(tmp_path: Path) -> None:
    config = config_of(tmp_path, backend="sqlite", path="runs/db.sqlite")
    store = open_store(config, env={})
    assert isinstance(store, SqliteStore) and store.path == tmp_path.resolve() / "runs/db.sqlite"
    store = open_store(config, env={"MLOPS_METADATA_PATH": str(tmp_path / "env.sqlite")})
    assert isinstance(store, SqliteStore) and store.path == tmp_path / "env.sqlite"


def test_sqlite_beside_a_remote_registry_defaults_to_the_mlops_folder(tmp_path: Path) -> None:
    config = config_of(tmp_path, {"backend": "github"}, backend="sqlite")
    store = open_store(config, env={})
    assert isinstance(store, SqliteStore) and store.path == tmp_path.resolve() / ".mlops/metadata.sqlite"


def test_a_metadata_path_that_is_a_folder_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    with pytest.raises(ConfigError, match=r"metadata.path: .*runs is a folder"):
        open_store(config_of(tmp_path, backend="sqlite", path="runs"), env={})


def test_backend_off_opens_no_store_and_records_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_of(tmp_path, backend="off")
    assert open_store(config, env={}) is None
    assert record_run(config, sample_record(), env={}) is None
    assert capsys.readouterr().err == ""
    assert not (tmp_path / ".mlops").exists()


@pytest.mark.parametrize(
    ("registry", "expected"),
    [("local", "sqlite"), ("mlflow", "mlflow"), ("github", "github"), ("gitlab", "git")],
)
def test_auto_follows_the_registry_backend(tmp_path: Path, registry: str, expected: str) -> None:
    assert store_backend(config_of(tmp_path, {"backend": registry})) == expected


def test_a_run_is_recorded_in_the_configs_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = config_of(tmp_path)
    record = sample_record()
    assert record_run(config, record, env={}) is None
    store = open_store(config, env={})
    assert store is not None and store.list_records().records == [record]
    assert capsys.readouterr().err == ""


class RefusingStore:
    name = "refusing store"

    def __init__(self, error: Exception):
        self.error = error

    def append(self, record: RunRecord) -> None:
        raise self.error

    def list_records(self, model: str | None = None) -> Listing:
        return Listing([])

    def close(self) -> None:
        pass


def test_a_failed_write_is_a_warning_on_stderr_and_never_raises(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = RefusingStore(StoreError("the branch moved 5 times\nwhile appending"))
    warning = record_run(config_of(tmp_path), sample_record(stage="release"), store=store, env={})
    assert warning == (
        "warning: this release run was not recorded in refusing store: the branch moved 5 times while appending"
    )
    assert capsys.readouterr().err == warning + "\n"


def test_an_unexpected_error_is_a_warning_too(tmp_path: Path) -> None:
    warning = record_run(config_of(tmp_path), sample_record(), store=RefusingStore(KeyError("x")), env={})
    assert warning is not None and warning.startswith(
        "warning: this check run was not recorded in refusing store:"
    )


def test_a_store_that_cannot_be_opened_is_a_warning_naming_the_backend(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    warning = record_run(
        config_of(tmp_path, backend="sqlite", path="db"), sample_record(stage="deploy"), env={}
    )
    assert warning is not None
    assert warning.startswith("warning: this deploy run was not recorded in the sqlite metadata store: ")
    assert "is a folder" in warning


def test_a_secret_in_the_reason_is_scrubbed(tmp_path: Path) -> None:
    env = {"GITHUB_TOKEN": "ghp_supersecretvalue123"}
    store = RefusingStore(StoreError("401 for token ghp_supersecretvalue123"))
    warning = record_run(config_of(tmp_path), sample_record(), store=store, env=env)
    assert warning is not None and "ghp_supersecretvalue123" not in warning and "***" in warning


def test_the_store_is_named_once_in_the_warning(tmp_path: Path) -> None:
    store = RefusingStore(StoreError("refusing store: cannot store run x: database is locked"))
    warning = record_run(config_of(tmp_path), sample_record(), store=store, env={})
    assert (
        warning
        == "warning: this check run was not recorded in refusing store: cannot store run x: database is locked"
    )


def test_an_unquoted_off_which_yaml_reads_as_false_turns_the_store_off(tmp_path: Path) -> None:
    from mlops_actions.domain.yaml_loader import read_yaml

    path = tmp_path / "mlops.yaml"
    path.write_text(
        "version: 1\nmodel: {name: tiny, task: binary}\ntrain: {command: 'true'}\n"
        "data: {train: train.csv, target: y}\nmetadata: {backend: off}\n",
        encoding="utf-8",
    )
    (tmp_path / "train.csv").write_text("x,y\n1,0\n", encoding="utf-8")
    config = parse_config(read_yaml(path, what="config"), path)
    assert store_backend(config) == "off"
    assert open_store(config, env={}) is None
