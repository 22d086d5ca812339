# The two commands: `make run` (the embedded default) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

.PHONY: run test install services test-postgres test-sqlite lint contracts bench clean

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv

$(VENV)/.installed: $(BIN)/uv pyproject.toml requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $@

install: $(VENV)/.installed

## make run: fresh clone → venv, install, migrate SQLite, seed the demo region, serve with GraphiQL.
run: install
	$(BIN)/moe-zdorovye migrate
	$(BIN)/moe-zdorovye seed-demo
	MZ_LOG_JSON=$${MZ_LOG_JSON:-false} $(BIN)/moe-zdorovye serve

## make test: PostgreSQL + Redis (started if absent), then at once (each one's output printed when it ends):
## the whole suite on PostgreSQL, the dialect-sensitive tests on SQLite, ruff, mypy and the import contracts.
## The tests mostly wait (databases, sockets, subprocesses), so each run spreads over pytest-xdist workers, each
## with its own database and Redis db (MZ_TEST_WORKERS, default 4 on PostgreSQL and 3 on SQLite).
MZ_TEST_WORKERS ?= 4
MZ_TEST_SQLITE_WORKERS ?= 3
test: install services
	$(MAKE) --no-print-directory -j3 --output-sync=target test-postgres test-sqlite lint

services:
	bash scripts/ensure-services.sh

test-postgres:
	MZ_TEST_REDIS_URL=$${MZ_TEST_REDIS_URL:-redis://127.0.0.1:6379/1} $(BIN)/pytest -q -p no:cacheprovider -n $(MZ_TEST_WORKERS)

test-sqlite:
	MZ_TEST_DIALECT=sqlite MZ_TEST_REDIS_URL=$${MZ_TEST_SQLITE_REDIS_URL:-redis://127.0.0.1:6379/8} $(BIN)/pytest -q -p no:cacheprovider -m dialect -n $(MZ_TEST_SQLITE_WORKERS)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

contracts: install
	$(BIN)/moe-zdorovye export-contracts

bench: install services
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
