# weir: two commands on a fresh machine.
#   make demo   creates .venv, installs weir, runs the whole loop on a simulated year of loans, then serves (DEMO_ARGS=--no-serve exits)
#   make test   creates .venv, installs the dev extras (Ray included) and services, runs lint, types, layers and the suite

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: demo test lint services clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: $(STAMP)
	WEIR_HOME=$${WEIR_HOME:-.weir} $(BIN)/weir demo $(DEMO_ARGS)

services:
	bash scripts/install-services.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: $(STAMP) services lint
	WEIRTEST_POSTGRES=required WEIRTEST_REDIS=required WEIRTEST_RAY=required $(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .weir
