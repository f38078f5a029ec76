"""`mlops-actions monitor --alert / --dispatch-retrain` on generated logs: the issue kept on the local platform
and on the GitHub API stand-in, the retrain dispatched once, the monitor's exit code kept, and a forge that
fails said in one line with exit code 2 after the report."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlops_actions.cli import main
from mlops_actions.platforms.issues import issue_marker
from tests.standins.github_releases import GitHubReleasesStandIn
from tests.unit.monitoring.generate import CONFIG, TRAIN, generate_rows, write_jsonl

GITHUB_TOKEN = "ghs_monitor-cli-token-0123"
KEY = "monitor:credit-default"


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the generated prediction log, the training profile and the example's config, whose
    retrain is due after one window that fails stability."""
    from mlops_actions.domain.data.profile import build_profile, save_profile

    folder = tmp_path_factory.mktemp("alert")
    save_profile(build_profile(TRAIN), folder / "data-profile.json")
    write_jsonl(generate_rows(), folder / "predictions.jsonl")
    (folder / "data").mkdir()
    shutil.copyfile(CONFIG.parent / "data" / "schema.yaml", folder / "data" / "schema.yaml")
    config = CONFIG.read_text(encoding="utf-8")
    assert "\nmonitor:" not in config
    retrain = "monitor:\n  retrain: {after_windows: 1, checks: [stability]}\n"
    (folder / "mlops.yaml").write_text(config + "\n" + retrain, encoding="utf-8")
    return folder


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in (
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "MLOPS_PLATFORM",
        "MLOPS_MONITOR_ALERT",
        "MLOPS_MONITOR_RETRAIN",
    ):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def monitor(logs: Path, *args: str) -> int:
    return main(
        [
            "monitor",
            "-c",
            str(logs / "mlops.yaml"),
            "--logs",
            str(logs / "predictions.jsonl"),
            "--reference",
            str(logs / "data-profile.json"),
            "--window",
            "12h",
            *args,
        ]
    )


def test_alert_on_the_local_platform_keeps_one_issue_file_and_the_monitors_exit_code(logs, in_tmp, capsys):
    assert monitor(logs, "--alert", "--platform", "local") == 1
    issue = in_tmp / ".mlops" / "issues" / "monitor--credit-default.md"
    text = issue.read_text()
    assert text.startswith(issue_marker(KEY)) and "labels: mlops, credit-default, severity:high" in text
    err = capsys.readouterr().err
    assert (
        f"monitor issue opened {Path('.mlops') / 'issues' / 'monitor--credit-default.md'} (severity high)"
        in err
    )
    assert monitor(logs, "--alert", "--platform", "local") == 1
    assert "monitor issue updated" in capsys.readouterr().err
    assert list((in_tmp / ".mlops" / "issues").iterdir()) == [issue]
    assert not (in_tmp / ".mlops" / "dispatches").exists()


def test_the_environment_turns_on_the_issue_and_the_retrain_which_is_dispatched_once(
    logs, in_tmp, monkeypatch, capsys
):
    monkeypatch.setenv("MLOPS_MONITOR_RETRAIN", "true")
    assert monitor(logs, "--platform", "local") == 1
    assert monitor(logs, "--platform", "local") == 1
    [dispatch] = (in_tmp / ".mlops" / "dispatches").iterdir()
    assert '"target": "mlops-retrain.yml"' in dispatch.read_text()
    err = capsys.readouterr().err
    assert "retrain dispatched: mlops-retrain.yml on main" in err
    assert "retrain: already dispatched for this breach (1 windows)" in err


def test_alert_on_github_opens_the_issue_through_the_api(logs, in_tmp, monkeypatch, capsys):
    with GitHubReleasesStandIn(token=GITHUB_TOKEN, repository="acme/app") as api:
        for name, value in {
            "GITHUB_ACTIONS": "true",
            "GITHUB_API_URL": api.url,
            "GITHUB_REPOSITORY": "acme/app",
            "GITHUB_TOKEN": GITHUB_TOKEN,
            "MLOPS_GITHUB_TOKEN": "",
        }.items():
            monkeypatch.setenv(name, value)
        assert monitor(logs, "--alert", "--dispatch-retrain") == 1
        assert monitor(logs, "--alert", "--dispatch-retrain") == 1
        [issue] = api.issues()
        assert issue["title"].startswith("credit-default: monitor fails (stability")
        assert sorted(label["name"] for label in issue["labels"]) == [
            "credit-default",
            "mlops",
            "severity:high",
        ]
        [dispatch] = api.dispatches
        assert dispatch["workflow_id"] == "mlops-retrain.yml" and "stability" in dispatch["inputs"]["reason"]
        assert api.violations == []
    assert "monitor issue updated https://github.example/acme/app/issues/1" in capsys.readouterr().err


def test_a_forge_that_refuses_the_issue_is_one_line_and_exit_code_2_after_the_report(
    logs, in_tmp, monkeypatch, capsys
):
    with GitHubReleasesStandIn(token=GITHUB_TOKEN, repository="acme/app") as api:
        api.read_only_tokens.add("ghs_read-only")
        for name, value in {
            "GITHUB_API_URL": api.url,
            "GITHUB_REPOSITORY": "acme/app",
            "GITHUB_TOKEN": "ghs_read-only",
            "MLOPS_GITHUB_TOKEN": "",
        }.items():
            monkeypatch.setenv(name, value)
        assert monitor(logs, "--alert", "--platform", "github", "--out", str(in_tmp / "mon")) == 2
        assert api.issues() == []
    captured = capsys.readouterr()
    assert captured.out.startswith("**credit-default v1.0.0: 1 of 1 windows fail")
    [line] = [line for line in captured.err.splitlines() if line.startswith("mlops-actions: error:")]
    assert "issues: write" in line
    assert (in_tmp / "mon" / "monitor.json").exists()
