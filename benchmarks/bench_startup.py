"""Start-up time of `mlops-actions --help` (goal: under 0.3 s), and which heavy modules it imports.

Times the development (editable) install and a regular wheel install in a throw-away virtualenv, which is
what users and CI runners get (the editable install's import hook alone costs tens of milliseconds).

Run: .venv/bin/python benchmarks/bench_startup.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

HEAVY = ("numpy", "pandas", "sklearn", "scipy", "skops", "jinja2", "requests", "jsonschema", "yaml")


def median_seconds(command: list[str], repeats: int) -> tuple[float, float]:
    """(median, min) wall time of a command over ``repeats`` runs, after one warm-up run."""
    subprocess.run(command, capture_output=True, check=True)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def wheel_install_python(folder: Path) -> str:
    """A fresh virtualenv with the package installed from a wheel (no dependencies: --help needs none)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(folder), str(REPO)], check=True
    )
    wheel = next(folder.glob("mlops_actions-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(folder / "venv")], check=True)
    python = folder / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    return str(python)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    bare = median_seconds([sys.executable, "-c", "pass"], args.repeats)
    editable = median_seconds([sys.executable, "-m", "mlops_actions", "--help"], args.repeats)
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        python = wheel_install_python(Path(tmp))
        installed = median_seconds([python, "-m", "mlops_actions", "--help"], args.repeats)
    probe = (
        "import sys; from mlops_actions.cli import build_parser; build_parser(); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    imported = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"{args.repeats} runs each, goal < 300 ms")
    for label, (median, fastest) in (
        ("bare python start-up", bare),
        ("mlops-actions --help (editable dev install)", editable),
        ("mlops-actions --help (wheel install)", installed),
    ):
        print(f"{label:<45} median {median * 1000:4.0f} ms   min {fastest * 1000:4.0f} ms")
    print(f"heavy modules imported by the parser: {imported or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
