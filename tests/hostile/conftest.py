"""The hostile corpus: attacks and careless inputs, each asserting the one-line message, the exit code, and that
nothing was written or half-written. Helpers shared by every test module here."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class CliRun:
    code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        """The lines the CLI printed as its error (``mlops-actions: error: ...``)."""
        return [line for line in self.stderr.splitlines() if line.startswith("mlops-actions: error")]


# ``python -m mlops_actions ARGS`` with the pause before each retry of an API call taken out: every retry is
# still sent, at once. For faults retried again and again, whose exponential pauses would prove nothing more
# than the unit tests of the clients' backoff do, and cost seconds each.
CLI_WITHOUT_RETRY_PAUSES = """\
import sys
from mlops_actions.platforms.rest_client import RestClient
RestClient.pause_before_retry = lambda self, attempt, wait=0.0: None
from mlops_actions.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def run_cli(
    args: Iterable[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
    retry_pauses: bool = True,
) -> CliRun:
    """Run ``python -m mlops_actions ARGS`` as a separate process, as CI does; stdout and stderr captured.

    Without ``retry_pauses`` the CLI retries API calls without pausing (see CLI_WITHOUT_RETRY_PAUSES).
    """
    command = ["-m", "mlops_actions"] if retry_pauses else ["-c", CLI_WITHOUT_RETRY_PAUSES]
    proc = subprocess.run(
        [sys.executable, *command, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CliRun(proc.returncode, proc.stdout, proc.stderr)


# The real CLI's ``main`` for each (args, cwd) of a JSON list, one after the other in this one process: in
# its folder, with that folder first on sys.path as ``python -m`` has it and every module imported from it
# forgotten afterwards (so a payload's planted module is imported afresh, or not, by each run).
CLI_RUNS_IN_ONE_PROCESS = """\
import contextlib, importlib, io, json, os, sys, traceback
from mlops_actions.cli import main
runs, results = json.loads(open(sys.argv[1]).read()), []
for args, cwd in runs:
    os.chdir(cwd)
    sys.path.insert(0, cwd)
    importlib.invalidate_caches()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 1
    sys.path.remove(cwd)
    for name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(cwd + os.sep):
            del sys.modules[name]
    results.append([code, out.getvalue(), err.getvalue()])
open(sys.argv[2], "w").write(json.dumps(results))
"""


def run_cli_in_one_process(
    runs: Iterable[tuple[Iterable[str], Path]], *, workdir: Path, env: Mapping[str, str], timeout: float = 600
) -> list[CliRun]:
    """The CLI for each (args, cwd) of ``runs`` in one separate process, one run after the other (see
    CLI_RUNS_IN_ONE_PROCESS); ``env`` is the whole environment. Each run's exit code, stdout and stderr."""
    import json

    plan, answers = workdir / "cli-runs.json", workdir / "cli-answers.json"
    plan.write_text(json.dumps([[list(args), str(cwd)] for args, cwd in runs]))
    proc = subprocess.run(
        [sys.executable, "-c", CLI_RUNS_IN_ONE_PROCESS, str(plan), str(answers)],
        cwd=workdir,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return [CliRun(code, stdout, stderr) for code, stdout, stderr in json.loads(answers.read_text())]


def assert_one_line_error(run: CliRun, *, code: int = 2, contains: Iterable[str] = ()) -> str:
    """The run failed with ``code`` and exactly one error line holding every text in ``contains``; no traceback."""
    assert run.code == code, f"exit {run.code}, expected {code}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    assert "Traceback" not in run.stderr, run.stderr
    lines = run.error_lines
    assert len(lines) == 1, f"expected one error line, got {lines!r}\nstderr:\n{run.stderr}"
    for text in contains:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    return lines[0]


def tree_snapshot(root: Path, *, ignore: Iterable[str] = (".git", "__pycache__")) -> dict[str, bytes]:
    """Every file below ``root`` (relative path -> content), to prove a failed run wrote nothing."""
    skipped = set(ignore)
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if skipped.intersection(relative.parts) or not path.is_file() or path.is_symlink():
            continue
        found[relative.as_posix()] = path.read_bytes()
    return found


def assert_nothing_written(before: dict[str, bytes], root: Path, **options: Iterable[str]) -> None:
    """No file below ``root`` was added, changed or removed since ``before`` (hidden staging files included)."""
    after = tree_snapshot(root, **options)
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(name for name in set(before) & set(after) if before[name] != after[name])
    assert not (added or removed or changed), f"added {added}, removed {removed}, changed {changed}"


@pytest.fixture(autouse=True)
def _metadata_store_outside_the_project(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs are recorded in a store outside the project, so a tree snapshot sees only what the stage writes there."""
    monkeypatch.setenv("MLOPS_METADATA_PATH", str(tmp_path_factory.mktemp("metadata") / "metadata.sqlite"))


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    """A path that hostile payloads try to create; its absence proves that nothing ran."""
    return tmp_path / "canary-ran"


ERROR_REPORT_FILES = ("mlops-out/mlops-result.json", "mlops-out/report.md", "mlops-out/report.html")


def assert_only_the_error_report_written(
    before: dict[str, bytes], root: Path, *, line: str | None = None, comment: str | None = ".mlops/comments"
) -> dict[str, object]:
    """A check stopped by an error wrote its error result, the reports and (unless ``comment`` is None) the
    model's sticky comment, and nothing else: no model, no staging file. Returns the result document."""
    import json

    after = tree_snapshot(root)
    expected = set(ERROR_REPORT_FILES)
    result = json.loads(after["mlops-out/mlops-result.json"])
    if comment is not None:
        expected.add(f"{comment}/{result['model']['name']}.md")
    changed = {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
    assert changed == expected, f"changed {sorted(changed)}, expected {sorted(expected)}"
    assert result["verdict"] == "error" and result["error"]["stage"], result
    if line is not None:
        assert line == f"mlops-actions: error: {result['error']['message']}", (line, result["error"])
    if comment is not None:
        posted = after[f"{comment}/{result['model']['name']}.md"].decode()
        assert "## ⚠️ ERROR: model" in posted and result["error"]["stage"] in posted, posted
    return result


MARKED_MODEL = """\
import os
import pathlib

from tiny_model import train_model as _train_model


def train_model(X, y, params):
    pathlib.Path(os.environ["MLOPS_TEST_TRAINED_MARKER"]).write_text("trained")
    return _train_model(X, y, params)
"""


def train_with_a_marker(project: Path, marker: Path) -> dict[str, str]:
    """Make the tiny project's training write ``marker`` when it runs; the environment the CLI needs for it."""
    (project / "marked_model.py").write_text(MARKED_MODEL)
    config = project / "mlops.yaml"
    config.write_text(config.read_text().replace("tiny_model:train_model", "marked_model:train_model"))
    return {"MLOPS_TEST_TRAINED_MARKER": str(marker)}


@pytest.fixture(params=["github", "gitlab"])
def side(request: pytest.FixtureRequest) -> Iterator[object]:
    """A started forge stand-in, GitHub and GitLab in turn (see tests/standins/forge_sides.py)."""
    from tests.standins.forge_sides import side_of

    with side_of(request.param) as started:
        yield started


@pytest.fixture
def result(tmp_path: Path) -> Path:
    """A valid result file to post as the sticky comment."""
    from tests.standins.forge_sides import write_result

    return write_result(tmp_path / "out")


def assert_refused_before_training(
    project: Path, canary: Path, args: Iterable[str], contains: Iterable[str], *, env: Mapping[str, str]
) -> None:
    """``mlops-actions ARGS`` fails with one line holding ``contains``, exit 2, before the training (which would
    write ``canary``) ran; no model or staging is left, and nothing is written but a check's error report."""
    args = list(args)
    before = tree_snapshot(project)
    run = run_cli(args, cwd=project, env=env)
    line = assert_one_line_error(run, code=2, contains=contains)
    assert not canary.exists(), "the training ran"
    assert not (project / "mlops-out" / "model").exists()
    assert not list(project.rglob(".*staging-*"))
    if args == ["check"]:  # a check reports its error as its result and comment, and only that
        assert_only_the_error_report_written(before, project, line=line)
    else:
        assert_nothing_written(before, project)
