# Quick start: `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# The project's offline mirror of MNIST, when it sits beside the checkout.
ifneq ($(wildcard ../shared/data/mnist),)
export GENZOO_DATA_DIR ?= $(abspath ../shared/data)
endif

.PHONY: venv demo test test-all lint format clean

$(BIN)/genzoo: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH (or: make PYTHON=python3 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

venv: $(BIN)/genzoo

demo: venv
	$(BIN)/genzoo data info mnist
	$(BIN)/genzoo reproduce --preset quick --out reports/quick
	@echo "report: $(abspath reports/quick/report.html)"

test: venv
	$(BIN)/python -m pytest -q

test-all: venv
	$(BIN)/python -m pytest -q -m ''

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
