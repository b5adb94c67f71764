# petsuite quick start: `make demo` and `make test` on a fresh machine with Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test lint typecheck imports pytest bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Installed-state stamps: reinstall only when pyproject.toml changes (idempotent).
$(VENV)/.installed-core: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[fhe]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]'
	touch $@ $(VENV)/.installed-core

demo: $(VENV)/.installed-core
	$(BIN)/petsuite demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks examples

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy src

imports: $(VENV)/.installed-dev
	$(BIN)/lint-imports --no-cache

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest

test: lint typecheck imports pytest

bench-quick: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench_group.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
