#!/usr/bin/env bash
# System packages the tests need (git, make; rsync and node/npm for gitlab-ci-local; a Java runtime for the
# Spark engine, which pyspark runs on; Chromium, which opens the trend dashboard headless). Idempotent.
set -euo pipefail
missing=()
for tool in git make rsync; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v java >/dev/null 2>&1 || [ -x "${JAVA_HOME:-/nonexistent}/bin/java" ] || missing+=(openjdk-17-jre-headless)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "missing system tools: ${missing[*]} (install them with your package manager)" >&2
    exit 1
  fi
fi
git config --global user.email >/dev/null 2>&1 || git config --global user.email "ci@mlops-actions.invalid"
git config --global user.name >/dev/null 2>&1 || git config --global user.name "mlops-actions CI"
