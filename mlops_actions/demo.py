"""`make demo`: the whole loop on the example project, locally (local registry, local forge).

main -> release v1 -> PR branch (Bob adds a feature) -> check -> PR comment -> merge -> release v2 -> deploy v2,
then a second PR with a bug in feature code that the gate stops.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "example_project"
IGNORED = shutil.ignore_patterns(".mlops", "mlops-out", "__pycache__", ".pytest_cache", "*.pyc")
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Bob Example",
    "GIT_AUTHOR_EMAIL": "bob@example.invalid",
    "GIT_COMMITTER_NAME": "Bob Example",
    "GIT_COMMITTER_EMAIL": "bob@example.invalid",
}


def say(title: str) -> None:
    bold, plain = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    print(f"\n{bold}== {title}{plain}", flush=True)


def run(args: list[str], cwd: Path, *, ok_codes: tuple[int, ...] = (0,)) -> int:
    env = {**os.environ, **GIT_IDENTITY, "MLOPS_FORGE": "local"}
    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "MLOPS_REGISTRY_PATH"):
        env.pop(name, None)
    print(f"$ {' '.join(args)}", flush=True)
    code = subprocess.run(args, cwd=cwd, env=env, check=False).returncode
    if code not in ok_codes:
        raise SystemExit(f"demo: '{' '.join(args)}' exited with {code}")
    return code


def mlops(*args: str) -> list[str]:
    return [sys.executable, "-m", "mlops_actions", *args]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--workspace", default="demo-workspace", help="folder to create the demo repository in"
    )
    args = parser.parse_args(argv)
    workspace = Path(args.workspace).resolve()
    repo = workspace / "credit-default"
    if workspace.exists():
        shutil.rmtree(workspace)
    shutil.copytree(EXAMPLE, repo, ignore=IGNORED)

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

    say("The registry's history")
    run(mlops("history"), repo)
    print(f"\nThe sticky PR comment: {repo / '.mlops' / 'comments' / 'credit-default.md'}")
    print(f"The HTML report: {repo / 'mlops-out' / 'report.html'}")
    if code != 1:
        raise SystemExit("demo: the broken feature passed the gate; expected it to fail")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
