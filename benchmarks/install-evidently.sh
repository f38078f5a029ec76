#!/usr/bin/env bash
# Evidently in a virtualenv of its own (benchmarks/.venv-evidently, git-ignored), for the side-by-side runs of
# benchmarks/bench_monitor.py and bench_data.py: its pins (pandas<3, ...) never touch the project's env.
# Idempotent; EVIDENTLY_VERSION picks the release (default 0.7.*). Prints the venv's python.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${EVIDENTLY_VENV:-$here/.venv-evidently}"
version="${EVIDENTLY_VERSION:-0.7.*}"
python="${PYTHON:-python3}"
if ! "$venv/bin/python" -c "import evidently.presets" >/dev/null 2>&1; then
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q "evidently==$version" "pandas<3" pyarrow  # evidently 0.7 needs pandas<3
fi
echo "$venv/bin/python"
