"""`mlops-actions monitor` on a log the real server wrote: the released version's profile as the reference,
the verdict line first, monitor.json and monitor.md written, exit codes 0, 1 and 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlops_actions.cli import main


@pytest.fixture
def served_log(served_tiny_project: Path, tmp_path: Path) -> Path:
    """The prediction log of the released tiny model answering every row of its training data (inside the
    trained range), in this test's own copy of the released project (tests/func/conftest.py)."""
    project = tmp_path / "tiny"
    shutil.copytree(served_tiny_project, project, symlinks=True)
    return project / "log"


def monitor(project: Path, *args: str) -> int:
    return main(["monitor", "-c", str(project / "mlops.yaml"), "--window", "7d", *args])


def test_the_servers_own_log_of_the_training_rows_is_healthy_against_the_released_profile(served_log, capsys):
    project = served_log.parent
    assert (
        monitor(project, "--logs", str(served_log), "--ref", "production", "--out", str(project / "mon")) == 0
    )
    printed = capsys.readouterr().out
    assert printed.startswith("**tiny v1.0.0: no check fails in 1 7d window(s)**")
    document = json.loads((project / "mon" / "monitor.json").read_text())
    assert document["rows_read"] == 600 and document["model_version"] == "1.0.0"
    assert "version 1.0.0's training-data profile (data-profile.json" in document["reference"]
    [window] = document["windows"]
    assert {f["check"]: f["status"] for f in window["findings"]} == dict.fromkeys(
        ("stability", "schema", "range", "input_drift", "prediction_drift"), "ok"
    )
    assert (project / "mon" / "monitor.md").read_text() == printed


def test_a_nan_output_in_the_log_fails_the_run_with_the_verdict_first(served_log, capsys):
    project = served_log.parent
    [path] = served_log.glob("*.jsonl")
    last = json.loads(path.read_text().splitlines()[-1])
    last["probabilities"] = {"0": float("nan"), "1": float("nan")}
    with open(path, "a") as handle:
        handle.write(json.dumps(last) + "\n")
    assert (
        monitor(project, "--logs", str(served_log / "*.jsonl"), "--version-tag", "tiny@v1.0.0", "--json") == 1
    )
    document = json.loads(capsys.readouterr().out)
    stability = document["windows"][0]["findings"][0]
    assert stability["status"] == "fail" and stability["figures"]["nonfinite_rows"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--logs", "nowhere.jsonl"], "nowhere.jsonl: no such prediction log file or folder"),
        (["--logs", "log", "--window", "1y"], "--window '1y'"),
        (["--logs", "log", "--ref", "9.9.9"], "has no version '9.9.9'"),
        (["--logs", "log", "--reference", "missing.json"], "missing.json: profile file not found"),
        ([], "--logs is required"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2_with_nothing_written(
    served_log, capsys, monkeypatch, args, message
):
    project = served_log.parent
    monkeypatch.chdir(project)
    monkeypatch.delenv("MLOPS_PREDICTION_LOGS", raising=False)
    assert monitor(project, *args, "--out", "mon") == 2
    err = capsys.readouterr().err
    assert err.startswith("mlops-actions: error: ") and len(err.strip().splitlines()) == 1
    assert message in err
    assert not (project / "mon").exists()


def test_a_malformed_log_line_is_named_by_file_and_line(served_log, capsys):
    project = served_log.parent
    [path] = served_log.glob("*.jsonl")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines[:5], "{broken", *lines[5:]]) + "\n")
    assert monitor(project, "--logs", str(path), "--ref", "production") == 2
    assert f"{path}:6: not valid JSON" in capsys.readouterr().err


def shifted_log(log: Path, target: Path, days: int) -> Path:
    """A copy of the server's log with every time ``days`` later (another window of the same traffic)."""
    import datetime as dt

    target.mkdir(parents=True, exist_ok=True)
    lines = []
    for path in sorted(log.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            when = dt.datetime.fromisoformat(record["time"].replace("Z", "+00:00")) + dt.timedelta(days=days)
            record["time"] = when.isoformat().replace("+00:00", "Z")
            lines.append(json.dumps(record))
    (target / f"day-{days}.jsonl").write_text("\n".join(lines) + "\n")
    return target / f"day-{days}.jsonl"


def test_a_second_run_extends_the_trend_the_first_stored_with_the_version(served_log, capsys):
    project = served_log.parent
    config = str(project / "mlops.yaml")

    def run(logs: str, out: str) -> dict:
        assert (
            main(["monitor", "-c", config, "--window", "1d", "--logs", logs, "--out", str(project / out)])
            == 0
        )
        return json.loads((project / out / "monitor.json").read_text())

    one = run(str(shifted_log(served_log, project / "logs", 0)), "one")
    first = [w["start"] for w in one["windows"]]
    assert [s["start"] for s in one["history"]] == first
    stored = project / ".registry" / "tiny" / "versions" / "1.0.0" / "monitor-states.json"
    assert [s["start"] for s in json.loads(stored.read_text())] == first

    for days in (1, 2):
        shifted_log(served_log, project / "logs", days)
    two = run(str(project / "logs" / "day-[12].jsonl"), "two")
    second = [w["start"] for w in two["windows"]]
    assert len(second) >= 2 and min(second) > max(first)
    assert [s["start"] for s in two["history"]] == [*first, *second]
    assert [s["start"] for s in json.loads(stored.read_text())] == [*first, *second]
    markdown = (project / "two" / "monitor.md").read_text()
    assert f"The last {len(first) + len(second)} 1d windows" in markdown
    assert f"{len(first)} of them from earlier runs" in markdown
    page = (project / "two" / "monitor.html").read_text()
    assert page.count('class="spark"') >= 3 and "<script" not in page


def test_no_record_leaves_the_stored_states_alone(served_log, capsys):
    project = served_log.parent
    log = shifted_log(served_log, project / "logs", 0)
    config = str(project / "mlops.yaml")
    assert main(["monitor", "-c", config, "--logs", str(log), "--no-record", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["history"][0]["rows"] == 600
    assert not (project / ".registry" / "tiny" / "versions" / "1.0.0" / "monitor-states.json").exists()


def test_a_profile_file_as_the_reference_shows_the_runs_own_windows_as_the_history(served_log, capsys):
    project = served_log.parent
    profile = project / ".registry" / "tiny" / "versions" / "1.0.0" / "data-profile.json"
    assert monitor(project, "--logs", str(served_log), "--reference", str(profile), "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert [s["start"] for s in document["history"]] == [w["start"] for w in document["windows"]]
    assert not (profile.parent / "monitor-states.json").exists()


def test_the_logs_command_fetches_the_logs_first_without_the_forge_tokens(served_log, capsys, monkeypatch):
    project = served_log.parent
    monkeypatch.chdir(project)
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_monitorlogscommandtoken0123456789")
    monkeypatch.setenv("MLOPS_LOGS_CREDENTIALS", "storage-key-0123456789abcdef")
    command = 'mkdir -p fetched && cp log/*.jsonl fetched/ && env > fetched-env.txt && echo "key $MLOPS_LOGS_CREDENTIALS"'
    code = monitor(project, "--logs", "fetched", "--logs-command", command, "--out", "mon")
    assert code == 0
    env = (project / "fetched-env.txt").read_text()
    assert "GITHUB_TOKEN" not in env and "ghs_monitorlogscommandtoken" not in env
    assert "MLOPS_LOGS_CREDENTIALS=storage-key-0123456789abcdef" in env
    assert "MLOPS_PREDICTION_LOGS=fetched" in env
    captured = capsys.readouterr()
    assert "storage-key-0123456789abcdef" not in captured.err + captured.out  # its echo is scrubbed
    assert json.loads((project / "mon" / "monitor.json").read_text())["rows_read"] > 0


def test_a_failing_logs_command_is_one_line_and_exit_code_2_with_nothing_written(
    served_log, capsys, monkeypatch
):
    project = served_log.parent
    monkeypatch.chdir(project)
    code = monitor(
        project, "--logs", "log", "--logs-command", "echo 'bucket not found' >&2; exit 3", "--out", "mon"
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "mlops-actions: error: --logs-command exited with code 3: bucket not found"
    assert not (project / "mon").exists()
