#!/usr/bin/env bash
# System tools the benchmarks need (wrk, the HTTP load generator of benchmarks/bench_serve.py). Idempotent.
set -euo pipefail
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "missing benchmark tools: ${missing[*]} (install them with your package manager)" >&2
    exit 1
  fi
fi
