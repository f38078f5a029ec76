#!/usr/bin/env bash
# Runs the whole suite; pytest's exit code 5 ("no tests collected") is a failure with a clear message.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pytest -q -ra -p no:cacheprovider "$@"
code=$?
if [ "$code" -eq 5 ]; then
  echo "pytest collected no tests: the suite is missing or mis-configured" >&2
  exit 1
fi
exit "$code"
