"""Release time on the example project: the pull request's checked model promoted vs trained again.

Sets up example_project as a git repository, releases v1.0.0, checks a pull request (the debt-to-income
feature) and merges it. Then, each repeat from a fresh copy of the registry, times
`mlops-actions release` promoting the checked model (`--candidate`) and training it again
(`--candidate-source none`). Both gate against v1.0.0 and publish v1.1.0.

Run: .venv/bin/python benchmarks/bench_release.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "example_project"
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}
MLOPS = [sys.executable, "-m", "mlops_actions"]


def run(args: list[str], cwd: Path) -> str:
    return subprocess.run(args, cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True).stdout


def prepared(root: Path) -> tuple[Path, Path, Path]:
    """(project merged on main, its registry holding v1.0.0, the pull request's check output)."""
    project = root / "credit"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".mlops", "mlops-out", "__pycache__"))
    run(["git", "init", "-q", "-b", "main"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-q", "-m", "The credit-default model"], project)
    run([*MLOPS, "release", "-o", str(root / "out-v1")], project)
    run(["git", "checkout", "-q", "-b", "feature"], project)
    run(["git", "apply", str(EXAMPLE / "changes" / "add-debt-to-income.patch")], project)
    run(["git", "commit", "-q", "-am", "Add debt to income"], project)
    pr_out = root / "pr-out"
    run([*MLOPS, "check", "--forge", "none", "-o", str(pr_out)], project)
    run(["git", "checkout", "-q", "main"], project)
    run(["git", "merge", "-q", "--ff-only", "feature"], project)
    registry = project / ".mlops" / "registry"
    saved = root / "registry-v1"
    shutil.copytree(registry, saved)
    return project, saved, pr_out


def timed_release(project: Path, saved: Path, extra: list[str], out: Path) -> tuple[float, str]:
    """Seconds of one release from the saved registry, and the model source it reports."""
    registry = project / ".mlops" / "registry"
    shutil.rmtree(registry)
    shutil.copytree(saved, registry)
    shutil.rmtree(out, ignore_errors=True)
    for tag in run(["git", "tag", "--points-at", "HEAD"], project).split():
        run(["git", "tag", "-d", tag], project)
    started = time.perf_counter()
    printed = run([*MLOPS, "release", "--json", "-o", str(out), *extra], project)
    return time.perf_counter() - started, json.loads(printed)["source"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-release-") as tmp:
        root = Path(tmp)
        project, saved, pr_out = prepared(root)
        times: dict[str, list[float]] = {"promoted": [], "trained": []}
        for _ in range(args.repeats):
            for wanted, extra in (
                ("promoted", ["--candidate", str(pr_out)]),
                ("trained", ["--candidate-source", "none"]),
            ):
                seconds, source = timed_release(project, saved, extra, root / f"out-{wanted}")
                if source != wanted:
                    raise SystemExit(f"expected a {wanted} model, the release reports {source!r}")
                times[wanted].append(seconds)
    promoted, trained = statistics.median(times["promoted"]), statistics.median(times["trained"])
    print(f"release of example_project, median of {args.repeats} (wall seconds, whole CLI process):")
    print(f"  promoted (the checked model): {promoted:6.2f} s")
    print(f"  trained again:                {trained:6.2f} s")
    print(f"  ratio trained / promoted:     {trained / promoted:6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
