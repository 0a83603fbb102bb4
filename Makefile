# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export TD_CACHE_DIR ?= $(CURDIR)/.cache
export ZIG_GLOBAL_CACHE_DIR ?= $(TD_CACHE_DIR)/zig

.PHONY: demo test lint bench bench-full clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/tardigrade demo

test: $(BIN)/.installed
	$(BIN)/pytest -q -ra; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests selected"; exit 0; fi; exit $$rc

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy api runtime snapshots guest

bench: $(BIN)/.installed
	$(BIN)/tardigrade bench --quick

bench-full: $(BIN)/.installed
	$(BIN)/tardigrade bench

clean:
	rm -rf .tardigrade .pytest_cache .mypy_cache .ruff_cache
