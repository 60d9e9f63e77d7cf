# Two commands (see README): `make demo` and `make test`; each sets everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.brahmasifier-installed
DEMO_OUT ?= demo_output

.PHONY: setup browser demo docs test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/brahmasifier demo --out $(DEMO_OUT)

# The browser tests (tests/evaluation/test_report.py: the report; tests/inspect/test_app.py: the grading
# app, driven by key events over the DevTools pipe, so no chromedriver) need Chromium: install Debian's
# `chromium` where it is missing and apt-get is usable (root); otherwise say why the tests are skipped.
BROWSERS := chromium chromium-browser google-chrome
browser:
	@if (for b in $(BROWSERS); do command -v $$b >/dev/null 2>&1 && exit 0; done; exit 1); then \
	  :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing chromium (apt-get) for the report's browser test"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
	    || echo "note: apt-get could not install chromium; the report's browser test will be skipped"; \
	else \
	  echo "note: no chromium, and apt-get is not usable here (missing, or not root); the report's browser test will be skipped"; \
	fi

# The documentation site (docs/, Sphinx + MyST): warnings are errors (-W), every reference is checked
# (-n: a renamed function or CLI option breaks it), all problems listed before failing (--keep-going).
# -E: read every page afresh, so a warning of an unchanged page is not hidden by the cache of a
# previous build. Offline; output in build/docs/html (git-ignored). See docs/contributing.md.
DOCS_OUT ?= build/docs
SPHINXBUILD = $(BIN)/python -m sphinx -E -W --keep-going -n -q -b html docs $(DOCS_OUT)/html
docs: setup
	$(SPHINXBUILD)

# Lint (ruff, incl. pydocstyle), then types (mypy on src/), then the docs, then the suite; any error fails.
test: setup browser
	$(BIN)/ruff check src tests benchmarks experiments docs
	$(BIN)/mypy
	$(SPHINXBUILD)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache $(DOCS_OUT)
