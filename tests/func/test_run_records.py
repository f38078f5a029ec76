"""Every stage records its run in the metadata store (the SQLite file beside the tiny project's local registry):
a release, a check, a deploy on the built-in server and a monitor run each leave one record; a store that cannot
be written leaves the verdict and exit code as they were and says so; ``metadata.backend: off`` records nothing."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from mlops_actions.cli import main
from mlops_actions.metadata.sqlite import SqliteStore
from mlops_actions.platforms.base import ChangeRequest
from mlops_actions.platforms.local.platform import LocalPlatform
from mlops_actions.stages.check import run_check
from tests.conftest import run_git

UNWRITABLE = "metadata:\n  path: mlops.yaml/metadata.sqlite\n"  # a database inside a file cannot be created


class PullRequestPlatform(LocalPlatform):
    """A laptop that says the check runs for pull request 5."""

    def change_request(self) -> ChangeRequest:
        return ChangeRequest(number=5, base_ref="main")


@pytest.fixture
def project(served_tiny_project: Path, tmp_path: Path) -> Path:
    """This test's copy of the released tiny project (its release is recorded), with its prediction log."""
    copy = tmp_path / "tiny"
    shutil.copytree(served_tiny_project, copy, symlinks=True)
    return copy


def recorded(project: Path) -> list:
    """The runs in the project's store: ``metadata.sqlite`` in its local registry folder."""
    store = SqliteStore(project / ".registry" / "metadata.sqlite")
    try:
        listing = store.list_records("tiny")
    finally:
        store.close()
    assert listing.warnings == []
    return listing.records


def add_config(project: Path, text: str) -> None:
    config = project / "mlops.yaml"
    config.write_text(config.read_text() + text)
    run_git(project, "commit", "-q", "-am", "config")


@pytest.mark.skipif(importlib.util.find_spec("uvicorn") is None, reason="needs the serve extra")
def test_a_release_a_check_a_deploy_and_a_monitor_run_each_leave_their_record(project, capsys):
    head = run_git(project, "rev-parse", "HEAD")
    config = project / "mlops.yaml"
    outcome = run_check(config, project / "check-out", platform=PullRequestPlatform({}))
    assert main(["deploy", "-c", str(config), "-o", str(project / "deploy-out"), "--no-load"]) == 0
    log = str(project / "log")
    assert main(["monitor", "-c", str(config), "--logs", log, "--ref", "production", "--window", "7d"]) == 0
    assert "not recorded" not in capsys.readouterr().err

    assert main(["runs", "list", "-c", str(config), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    records = recorded(project)
    assert listed["records"] == [r.as_dict() for r in records]
    assert [r.stage for r in records] == ["release", "check", "deploy", "monitor"]
    assert {r.model for r in records} == {"tiny"}
    release, check, deploy, monitor = records
    assert (release.verdict, release.version, release.commit) == ("released", "1.0.0", head)
    roc = release.metrics["roc_auc"]
    assert roc["low"] < roc["value"] < roc["high"]

    assert (check.verdict, check.pr, check.commit, check.version) == ("pass", 5, head, None)
    assert check.baseline is not None and check.baseline["source"] == "registry"
    assert check.baseline["version"] == "1.0.0"
    row = next(m for m in outcome.result["metrics"] if m["name"] == "roc_auc")
    assert check.metrics["roc_auc"]["value"] == row["candidate"]
    assert check.metrics["roc_auc"]["delta_low"] == row["ci_low"]
    assert check.metrics["roc_auc"]["delta_high"] == row["ci_high"]
    assert check.metrics["roc_auc"]["passed"] is True
    assert check.data["train"]["sha256"] == outcome.result["candidate"]["data"]["train"]["sha256"]
    assert "notes" not in outcome.result

    assert (deploy.verdict, deploy.version, deploy.commit) == ("promoted", "1.0.0", head)
    assert deploy.details["smoke"]["passed"] is True
    assert "load" not in deploy.details  # --no-load
    deployed = json.loads((project / "deploy-out" / "deploy-result.json").read_text())
    assert deployed["notes"] == []

    assert (monitor.verdict, monitor.version) == ("ok", "1.0.0")
    assert monitor.details["windows"]["ok"] >= 1
    assert monitor.details["worst"] == "ok"
    assert all(r.started_at.endswith("Z") and r.duration_s is not None for r in records)


def test_a_store_that_cannot_be_written_leaves_the_checks_verdict_and_says_so(tiny_project, capsys):
    add_config(tiny_project, UNWRITABLE)
    out = tiny_project / "mlops-out"
    code = main(
        [
            "check",
            "-c",
            str(tiny_project / "mlops.yaml"),
            "-o",
            str(out),
            "--forge",
            "local",
            "--comment-dir",
            str(tiny_project / "comments"),
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "warning: this check run was not recorded in sqlite store" in err
    assert "tiny: PASS" in err
    result = json.loads((out / "mlops-result.json").read_text())
    assert result["verdict"] == "pass"
    assert len(result["notes"]) == 1
    assert result["notes"][0].startswith("not recorded in the metadata store: sqlite store ")
    comment = (tiny_project / "comments" / "tiny.md").read_text()
    assert "⚠ not recorded in the metadata store: sqlite store" in comment
    assert "⚠ not recorded in the metadata store" in (out / "report.html").read_text()


def test_a_check_stopped_by_an_error_is_recorded_and_its_exit_code_stays_with_an_unwritable_store(
    tiny_project, capsys
):
    config = tiny_project / "mlops.yaml"
    config.write_text(config.read_text().replace("tiny_model:train_model", "tiny_model:no_such_function"))
    run_git(tiny_project, "commit", "-q", "-am", "broken entrypoint")
    out = tiny_project / "mlops-out"
    assert main(["check", "-c", str(config), "-o", str(out), "--forge", "none"]) == 2
    capsys.readouterr()
    (error,) = recorded(tiny_project)
    assert (error.stage, error.verdict, error.commit) == (
        "check",
        "error",
        run_git(tiny_project, "rev-parse", "HEAD"),
    )
    assert error.details["error"]["stage"]

    add_config(tiny_project, UNWRITABLE)
    assert main(["check", "-c", str(config), "-o", str(out), "--forge", "none"]) == 2
    assert "warning: this check run was not recorded" in capsys.readouterr().err
    result = json.loads((out / "mlops-result.json").read_text())
    assert result["verdict"] == "error"
    assert result["notes"][0].startswith("not recorded in the metadata store: ")


def test_with_the_metadata_backend_off_no_run_is_recorded(project, capsys):
    add_config(project, "metadata:\n  backend: 'off'\n")
    before = recorded(project)
    config = project / "mlops.yaml"
    log = str(project / "log")
    assert main(["monitor", "-c", str(config), "--logs", log, "--ref", "production", "--window", "7d"]) == 0
    broken = config.read_text().replace("tiny_model:train_model", "tiny_model:no_such_function")
    config.write_text(broken)
    assert main(["check", "-c", str(config), "-o", str(project / "out"), "--forge", "none"]) == 2
    assert "not recorded" not in capsys.readouterr().err
    assert recorded(project) == before
    assert [r.stage for r in before] == ["release"]


def test_a_deploy_and_a_monitor_run_stopped_by_an_error_are_recorded_as_errors_a_failed_release_is_not(
    project, capsys
):
    config = project / "mlops.yaml"
    missing = "tiny@v9.9.9"
    assert (
        main(["deploy", "-c", str(config), "-o", str(project / "deploy-out"), "--version-tag", missing]) == 2
    )
    log = str(project / "log")
    assert (
        main(["monitor", "-c", str(config), "--logs", log, "--version-tag", missing, "--window", "7d"]) == 2
    )
    config.write_text(config.read_text().replace("min: 0.6", "min: 0.99"))  # a gate no model passes
    run_git(project, "commit", "-q", "-am", "a stricter gate")
    assert main(["release", "-c", str(config), "-o", str(project / "release-out")]) == 1
    capsys.readouterr()
    records = recorded(project)
    assert [(r.stage, r.verdict, r.version) for r in records] == [
        (
            "release",
            "released",
            "1.0.0",
        ),  # the session's release; the failed one published and recorded nothing
        ("deploy", "error", "9.9.9"),
        ("monitor", "error", "9.9.9"),
    ]
    assert all("9.9.9" in r.details["error"]["message"] and r.details["error"]["kind"] for r in records[1:])
