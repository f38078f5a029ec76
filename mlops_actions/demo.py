"""`make demo`: the whole loop on the example project, locally (local registry, local forge).

main -> release v1 -> PR branch (Bob adds a feature) -> check -> PR comment -> merge -> release v2 -> deploy v2,
then a second PR with a bug in feature code that the gate stops; last, v2 serves traffic whose loan amounts
have shifted and whose ages leave the trained range, and the monitor reads the prediction log and says so;
last, the trend dashboard of both versions and both PR checks.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "example_project"
IGNORED = shutil.ignore_patterns(".mlops", "mlops-out", "__pycache__", ".pytest_cache", "*.pyc")
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Bob Example",
    "GIT_AUTHOR_EMAIL": "bob@example.invalid",
    "GIT_COMMITTER_NAME": "Bob Example",
    "GIT_COMMITTER_EMAIL": "bob@example.invalid",
}

# The shifted traffic: the evaluation rows with every loan amount 75% larger (all still inside the trained
# range), and one row in 25 from an applicant older than anyone in the training data (80 to 94; the data
# schema accepts ages up to 100, so the server answers them). Deterministic: no random draws.
SHIFTED_COLUMN, SHIFT_FACTOR = "loan_amount", 1.75
OUT_OF_RANGE_COLUMN, OUT_OF_RANGE_EVERY, OUT_OF_RANGE_AGES = "age", 25, range(80, 95)
SERVED_VERSION = "1.1.0"  # what the second release (Bob's feature, a minor bump) creates
ROWS_PER_REQUEST = 200
SERVER_START_TIMEOUT_S = 120.0
LISTENING = re.compile(r"^serving .* on (http://[0-9.]+:[0-9]+) ", re.MULTILINE)


def say(title: str) -> None:
    bold, plain = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    print(f"\n{bold}== {title}{plain}", flush=True)


def demo_environment() -> dict[str, str]:
    """The environment of every command the demo runs: a local forge, Bob's git identity, no CI."""
    env = {**os.environ, **GIT_IDENTITY, "MLOPS_FORGE": "local"}
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "MLOPS_REGISTRY_PATH"):
        env.pop(name, None)
    return env


def run(args: list[str], cwd: Path, *, ok_codes: tuple[int, ...] = (0,)) -> int:
    print(f"$ {' '.join(args)}", flush=True)
    code = subprocess.run(args, cwd=cwd, env=demo_environment(), check=False).returncode
    if code not in ok_codes:
        raise SystemExit(f"demo: '{' '.join(args)}' exited with {code}")
    return code


def mlops(*args: str) -> list[str]:
    return [sys.executable, "-m", "mlops_actions", *args]


def _typed(value: str) -> int | float | str:
    """A CSV cell as JSON would carry it: an integer, a number, or text."""
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(value)
    return value


def traffic(eval_csv: Path, target: str, *, shifted: bool) -> list[dict[str, int | float | str]]:
    """The rows sent to the server: the evaluation rows without their target, shifted or as they are."""
    with eval_csv.open(newline="") as handle:
        rows = [{k: _typed(v) for k, v in row.items() if k != target} for row in csv.DictReader(handle)]
    if shifted:
        for index, row in enumerate(rows):
            row[SHIFTED_COLUMN] = round(float(row[SHIFTED_COLUMN]) * SHIFT_FACTOR)
            if index % OUT_OF_RANGE_EVERY == 0:
                ages = OUT_OF_RANGE_AGES
                row[OUT_OF_RANGE_COLUMN] = ages[(index // OUT_OF_RANGE_EVERY) % len(ages)]
    return rows


def send(url: str, rows: list[dict[str, int | float | str]]) -> int:
    """POST the rows to ``url``/predict, ROWS_PER_REQUEST at a time; the number of rows answered."""
    answered = 0
    for start in range(0, len(rows), ROWS_PER_REQUEST):
        body = json.dumps(rows[start : start + ROWS_PER_REQUEST]).encode()
        request = urllib.request.Request(
            f"{url}/predict", data=body, headers={"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answered += len(json.load(response)["predictions"])
        except urllib.error.HTTPError as refused:
            raise SystemExit(
                f"demo: {url}/predict answered {refused.code}: {refused.read().decode(errors='replace')[:500]}"
            ) from None
    return answered


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ready", timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def serving(args: list[str], cwd: Path, server_log: Path) -> Iterator[str]:
    """Run ``mlops-actions serve ARGS --port 0`` until the block ends (then SIGTERM, which flushes the
    prediction log); yields the server's URL once it is ready. Its output goes to ``server_log``."""
    command = mlops("serve", *args, "--port", "0")
    print(f"$ {' '.join(command)} &", flush=True)
    server_log.parent.mkdir(parents=True, exist_ok=True)
    with server_log.open("w") as output:
        proc = subprocess.Popen(
            command, cwd=cwd, env=demo_environment(), stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        url = None
        while url is None or not _ready(url):
            if proc.poll() is not None:
                raise SystemExit(f"demo: the server exited with {proc.returncode}: {server_log.read_text()}")
            if time.monotonic() > deadline:
                raise SystemExit(f"demo: the server was not ready in {SERVER_START_TIMEOUT_S:.0f} s")
            found = LISTENING.search(server_log.read_text())
            url = found.group(1) if found else None
            time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise SystemExit(f"demo: the server stopped with {proc.returncode}: {server_log.read_text()}")


def plain(markdown_line: str) -> str:
    """A line of the Markdown report as plain text: no bold, no backslash escapes, no HTML entities."""
    text = markdown_line.strip().removeprefix("**").removesuffix("**").replace("\u200b", "")
    text = re.sub(r"\\(.)", r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def monitor_shifted_traffic(repo: Path, version: str) -> int:
    """Serve ``version``, send it shifted traffic, stop it, and monitor its prediction log; the monitor's
    exit code."""
    from mlops_actions.domain.config import load_config

    config = load_config(repo / "mlops.yaml")
    tag = f"{config.model_name}@v{version}"
    rows = traffic(config.eval_data or repo / "data" / "eval.csv", config.target, shifted=True)
    logs = repo / ".mlops" / "predictions"
    server_log = repo / "mlops-out" / "server-output.txt"
    with serving(["--version-tag", tag, "--log-dir", str(logs)], repo, server_log) as url:
        answered = send(url, rows)
    older = len(range(0, len(rows), OUT_OF_RANGE_EVERY))
    print(
        f"sent {answered} rows to {url}/predict: the evaluation rows with {SHIFTED_COLUMN} x{SHIFT_FACTOR} "
        f"(still inside the trained range) and, in {older} of them (one in {OUT_OF_RANGE_EVERY}), "
        f"{OUT_OF_RANGE_COLUMN} {OUT_OF_RANGE_AGES.start} to {OUT_OF_RANGE_AGES.stop - 1} (older than anyone "
        f"trained on); the server stopped, its prediction log is in {logs}",
        flush=True,
    )
    out = repo / "mlops-out" / "monitor"
    command = mlops("monitor", "--logs", str(logs), "--version-tag", tag, "--out", str(out))
    print(f"$ {' '.join(command)}", flush=True)
    proc = subprocess.run(
        command, cwd=repo, env=demo_environment(), check=False, stdout=subprocess.PIPE, text=True
    )  # the Markdown report goes to its file; the verdict, its first line, is printed below
    if proc.returncode not in (0, 1):
        raise SystemExit(f"demo: the monitor exited with {proc.returncode}")
    lines = proc.stdout.splitlines()
    print(f"monitor verdict (exit {proc.returncode}): {plain(lines[0]) if lines else '(none)'}")
    return proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--workspace", default="demo-workspace", help="folder to create the demo repository in"
    )
    parser.add_argument(
        "--example",
        default=str(EXAMPLE),
        help="the example project to copy (default: example_project of the source checkout holding this "
        "package; an installed package needs it named)",
    )
    args = parser.parse_args(argv)
    example = Path(args.example)
    if not (example / "mlops.yaml").is_file():
        print(
            f"--example {example}: expected a folder holding mlops.yaml (the example project)",
            file=sys.stderr,
        )
        return 2
    workspace = Path(args.workspace).resolve()
    repo = workspace / "credit-default"
    if workspace.exists():
        shutil.rmtree(workspace)
    shutil.copytree(example, repo, ignore=IGNORED)

    say("A fresh repository holding the example project, on main")
    run(["git", "init", "-q", "-b", "main"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", "Credit-default model"], repo)

    say("Merge to main releases v1: train, gate (no production yet: absolute bounds), tag, publish")
    run(mlops("release"), repo)

    say("Bob opens a pull request that adds the debt-to-income ratio")
    run(["git", "checkout", "-q", "-b", "bob/debt-to-income"], repo)
    run(["git", "apply", "changes/add-debt-to-income.patch"], repo)
    run(["git", "commit", "-q", "-am", "Add the debt-to-income ratio to the features"], repo)

    say("The PR check: project tests, train, compare with production on the same rows, gate, comment")
    run(mlops("check"), repo)

    say("Merged: main releases v2 and moves 'production' to it")
    run(["git", "checkout", "-q", "main"], repo)
    run(["git", "merge", "-q", "--no-ff", "-m", "Merge bob/debt-to-income", "bob/debt-to-income"], repo)
    run(mlops("release"), repo)

    say(
        "The release deploys v2: built-in server, smoke test against the release's answers, load test, verdict"
    )
    run(mlops("deploy", "--ref", "production"), repo)
    run(mlops("registry", "deploys"), repo)

    say("Another PR brings a bug in feature code: the tests pass, the gate does not")
    run(["git", "checkout", "-q", "-b", "carol/refactor-features"], repo)
    run(["git", "apply", "changes/broken-feature.patch"], repo)
    run(["git", "commit", "-q", "-am", "Refactor the feature scaling"], repo)
    code = run(mlops("check"), repo, ok_codes=(0, 1))
    if code != 1:
        raise SystemExit("demo: the broken feature passed the gate; expected it to fail")

    say("The registry's history")
    run(mlops("history"), repo)

    say(
        f"Production: v{SERVED_VERSION} serves loans whose amounts have grown and some applicants older than "
        "any it was trained on; the monitor reads the prediction log against the release-time profile"
    )
    run(["git", "checkout", "-q", "main"], repo)  # the feature code the served version was trained with
    verdict = monitor_shifted_traffic(repo, SERVED_VERSION)

    say("The trend across versions: metrics per release, the PR checks, the deploy and the monitor run")
    dashboard = repo / "mlops-out" / "trend" / "index.html"
    run(mlops("history", "--trend", "--output", str(dashboard.parent)), repo)

    print(f"\nThe sticky PR comment: {repo / '.mlops' / 'comments' / 'credit-default.md'}")
    print(f"The HTML report: {repo / 'mlops-out' / 'report.html'}")
    print(f"The monitor report: {repo / 'mlops-out' / 'monitor' / 'monitor.md'}")
    print(f"The trend dashboard: {dashboard}")
    if verdict != 1:
        raise SystemExit("demo: the monitor let the shifted traffic pass; expected it to fail")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
