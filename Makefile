# Two commands: `make demo` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out/demo

.PHONY: demo test install browser lint bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[embedded,rocksdb,test]'
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium drives the page tests (playwright with executable_path; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the page tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "WARNING: could not install chromium; browser tests will fail"; }

demo: $(STAMP)
	$(BIN)/safety demo --out $(OUT) $(DEMO_ARGS)

test: $(STAMP) browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check safety streams tests bench

bench: $(STAMP)
	$(BIN)/python bench/replay_bench.py
	$(BIN)/python bench/stream_bench.py

clean:
	rm -rf $(VENV) out .pytest_cache
