# A fresh machine needs nothing but python3.11: every target sets up .venv itself.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test test-slow lint demo bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/pytest -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

# A simulated corridor on a fresh demo.db (docs/SANDBOX.md): summary, then the server.
demo: $(STAMP)
	$(BIN)/corridor demo --db demo.db --replace

bench: $(STAMP)
	rm -f bench.db bench.db-wal bench.db-shm
	$(BIN)/corridor bench ledger --db bench.db --transfers 1000000 --accounts 10000 --batch 8189 --json

clean:
	rm -rf $(VENV) demo.db* bench.db* .pytest_cache .mypy_cache .ruff_cache
