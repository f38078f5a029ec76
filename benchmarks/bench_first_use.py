"""Minutes from `pip install` to the first pull-request comment on a project the tool has never seen.

In a fresh virtualenv: `pip install` of this checkout (dependencies from the package index), then the onboarding
project of tests/onboarding (a regression task, a command trainer, HistGradientBoosting and a
FunctionTransformer) as a new git repository: `config validate`, `release` on main, a pull request branch and
`check`, which writes the sticky comment. Prints the seconds of each step and the total.

Run: .venv/bin/python benchmarks/bench_first_use.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "tests" / "onboarding" / "house_prices"
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def timed(
    label: str, args: list[str], cwd: Path, timings: list[tuple[str, float]], verdicts: tuple[int, ...] = (0,)
) -> None:
    """Run ``args`` and record its seconds; an exit code outside ``verdicts`` stops the benchmark."""
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=False)
    if proc.returncode not in verdicts:
        raise SystemExit(f"{label}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    timings.append((label, time.perf_counter() - started))


def main() -> int:
    timings: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-first-use-") as tmp:
        root = Path(tmp)
        venv = root / "venv"
        timed("create a virtualenv", [sys.executable, "-m", "venv", str(venv)], root, timings)
        python = str(venv / "bin" / "python")
        timed(
            "pip install mlops-actions", [python, "-m", "pip", "install", "--quiet", str(REPO)], root, timings
        )
        project = root / "house-prices"
        shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("__pycache__"))
        (project / ".gitignore").write_text(".mlops/\nmlops-out/\n__pycache__/\n")
        timed("generate the project's data", [python, "generate.py", "data"], project, timings)
        for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "house prices"]):
            subprocess.run(["git", *args], cwd=project, env=GIT_ENV, check=True)
        mlops = [python, "-m", "mlops_actions"]
        timed("config validate", [*mlops, "config", "validate", "mlops.yaml"], project, timings)
        timed("release on main (v1.0.0)", [*mlops, "release"], project, timings)
        config = project / "mlops.yaml"
        subprocess.run(["git", "checkout", "-q", "-b", "tune"], cwd=project, env=GIT_ENV, check=True)
        config.write_text(config.read_text().replace("max_iter: 150", "max_iter: 300"))
        subprocess.run(
            ["git", "commit", "-q", "-am", "more iterations"], cwd=project, env=GIT_ENV, check=True
        )
        # exit 1 is a failed gate: a verdict and a comment all the same
        timed("check the pull request (comment written)", [*mlops, "check"], project, timings, (0, 1))
        comment = project / ".mlops" / "comments" / "house-price.md"
        assert comment.is_file(), "no comment was written"
    width = max(len(label) for label, _ in timings)
    for label, seconds in timings:
        print(f"{label:<{width}}  {seconds:7.1f} s")
    total = sum(seconds for _, seconds in timings)
    print(f"{'total: pip install to the first comment':<{width}}  {total:7.1f} s ({total / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
