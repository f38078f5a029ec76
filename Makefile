# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install demo test lint typecheck format unit func e2e bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## main -> release v1 -> PR branch -> check -> PR comment -> merge -> release v2, all local
demo: install
	$(BIN)/python -m mlops_actions.demo --workspace demo-workspace

lint: install
	$(BIN)/ruff check mlops_actions tests benchmarks example_project
	$(BIN)/ruff format --check mlops_actions tests benchmarks example_project

typecheck: install
	$(BIN)/mypy

format: install
	$(BIN)/ruff format mlops_actions tests benchmarks example_project
	$(BIN)/ruff check --fix mlops_actions tests benchmarks example_project

test: lint typecheck
	bash .ci/pytest.sh $(PYTEST_ARGS)

unit: install
	$(BIN)/pytest -q tests/unit

func: install
	$(BIN)/pytest -q tests/func

e2e: install
	$(BIN)/pytest -q tests/e2e

bench: install
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_compare.py
	$(BIN)/python benchmarks/bench_data.py

clean:
	rm -rf $(VENV) demo-workspace mlops-out .mlops .pytest_cache .mypy_cache .ruff_cache
