# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install system-deps e2e-tools bench-tools demo test lint typecheck format unit func e2e bench clean

GITLAB_CI_LOCAL := tests/e2e/gitlab/node_modules/.bin/gitlab-ci-local

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,mlflow,serve,loadtest,dask,spark,delta]'
	touch $(STAMP)

# gitlab-ci-local (pinned by tests/e2e/gitlab/package-lock.json) for the GitLab end-to-end tests
$(GITLAB_CI_LOCAL): tests/e2e/gitlab/package-lock.json
	npm ci --prefix tests/e2e/gitlab --no-audit --no-fund --loglevel=error
	touch $(GITLAB_CI_LOCAL)

install: $(STAMP)

# git, make, rsync, node/npm, Java for Spark (apt-get when run as root; otherwise says what to install)
system-deps:
	bash .ci/install-system-deps.sh

e2e-tools: system-deps $(GITLAB_CI_LOCAL)

# wrk, the load generator of benchmarks/bench_serve.py (apt-get when run as root; otherwise says what to install)
bench-tools:
	bash .ci/install-bench-tools.sh

## main -> release v1 -> PR branch -> check -> PR comment -> merge -> release v2, all local
demo: install
	$(BIN)/python -m mlops_actions.demo --workspace demo-workspace

lint: install
	$(BIN)/ruff check mlops_actions tests benchmarks example_project .ci build_backend
	$(BIN)/ruff format --check mlops_actions tests benchmarks example_project .ci build_backend

typecheck: install
	$(BIN)/mypy
	$(BIN)/mypy .ci/release.py build_backend/reproducible_setuptools.py

format: install
	$(BIN)/ruff format mlops_actions tests benchmarks example_project .ci build_backend
	$(BIN)/ruff check --fix mlops_actions tests benchmarks example_project .ci build_backend

test: lint typecheck e2e-tools
	bash .ci/pytest.sh $(PYTEST_ARGS)

unit: install
	$(BIN)/pytest -q tests/unit tests/contracts

func: install
	$(BIN)/pytest -q tests/func

e2e: install e2e-tools
	$(BIN)/pytest -q tests/e2e

bench: install bench-tools
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_compare.py
	$(BIN)/python benchmarks/bench_data.py
	$(BIN)/python benchmarks/bench_release.py
	$(BIN)/python benchmarks/bench_serve.py

clean:
	rm -rf $(VENV) demo-workspace mlops-out .mlops .pytest_cache .mypy_cache .ruff_cache
