# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export TD_CACHE_DIR ?= $(CURDIR)/.cache
export ZIG_GLOBAL_CACHE_DIR ?= $(TD_CACHE_DIR)/zig

.PHONY: demo test lint bench bench-full browser clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/tardigrade demo

test: $(BIN)/.installed browser
	$(BIN)/pytest -q -ra; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests selected"; exit 0; fi; exit $$rc

# The web page is tested in Debian's headless Chromium; install it when this machine lets us.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (Debian) for the browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-liberation fonts-dejavu-core >/dev/null; \
	  else echo "chromium is not installed and cannot be installed here: the browser test will be skipped"; fi; }

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
