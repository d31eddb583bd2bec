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

# Debian packages the tests use: chromium drives the page tests (playwright with executable_path, no browser
# download), a CJK font renders the bilingual labels, promtool (prometheus) checks the alerting rules, pdftoppm
# (poppler-utils) renders the SAE documents to images.
APT_PACKAGES := chromium fonts-wqy-microhei prometheus poppler-utils
browser:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing="$$missing fonts-wqy-microhei"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v pdftoppm >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages for the tests:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null) \
	  || echo "WARNING: could not install$$missing; the browser and promtool tests will fail"; \
	fi

# The demo runs the trial through, prints how each role signs in, and stops; `make demo DEMO_SERVE=--serve` keeps
# its pages running (Ctrl-C stops them). DEMO_ARGS adds options, e.g. DEMO_ARGS='--port 6067' when 6066 is taken.
DEMO_SERVE ?=
demo: $(STAMP)
	$(BIN)/safety demo --out $(OUT) $(DEMO_SERVE) $(DEMO_ARGS)

# Two processes: the slow tests one after another on one, the fast tests beside them (tests/conftest.py).
test: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check safety streams tests bench

bench: $(STAMP)
	$(BIN)/python bench/replay_bench.py
	$(BIN)/python bench/stream_bench.py

clean:
	rm -rf $(VENV) out .pytest_cache
