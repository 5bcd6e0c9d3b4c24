# The two commands the README promises: `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { command -v $$p; break; }; done)
PYTEST_ARGS ?=
CONSOLE := fleet_server/console
NPM_STAMP := $(CONSOLE)/node_modules/.installed
CONSOLE_BUNDLE := $(CONSOLE)/dist/index.html
CONSOLE_SOURCES := $(shell find $(CONSOLE)/src $(CONSOLE)/public -type f 2>/dev/null) \
	$(CONSOLE)/index.html $(CONSOLE)/vite.config.ts $(CONSOLE)/tsconfig.json

.PHONY: setup demo test lint typecheck pytest console console-test clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required (python3.11 / python3.12 on PATH)"; exit 2; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { echo "creating $(VENV) failed: on Debian/Ubuntu install python3-venv"; exit 2; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

$(NPM_STAMP): $(CONSOLE)/package.json $(CONSOLE)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "Node.js 20.19+ with npm is required for the web console"; exit 2; }
	@node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
		|| { echo "Node.js 20.19+ is required for the web console (found $$(node --version))"; exit 2; }
	cd $(CONSOLE) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The console is rebuilt only when its sources changed since the last build.
$(CONSOLE_BUNDLE): $(NPM_STAMP) $(CONSOLE_SOURCES)
	cd $(CONSOLE) && npm run build --silent
	@touch $@

console: $(CONSOLE_BUNDLE)

console-test: $(NPM_STAMP)
	cd $(CONSOLE) && npm test --silent

demo: setup console
	$(VENV)/bin/fleet demo

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

pytest: setup console
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint typecheck console-test pytest

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache $(CONSOLE)/node_modules $(CONSOLE)/dist
