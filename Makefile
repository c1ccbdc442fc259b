# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DB ?= sqlite:///watchkeeper.db
PORT ?= 7070

.PHONY: run test lint format bench screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)  ## start the server on http://127.0.0.1:7070 with SQLite at ./watchkeeper.db
	$(BIN)/watchkeeper serve --db $(DB) --port $(PORT)

test: $(STAMP)  ## lint, type-check, then the whole test suite
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: $(STAMP)  ## ingest benchmark against the raw baselines (see docs/performance.md)
	$(BIN)/python benchmarks/ingest.py

screenshots: $(STAMP)  ## refresh docs/screenshots/*.png with the browser tests' harness
	WATCHKEEPER_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest tests/e2e -q \
		-k "loads_without_console_errors or theme or phone"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info src/*.egg-info
