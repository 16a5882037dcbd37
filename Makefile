# Two commands on a fresh machine: `make run` and `make test`.
# The interpreter: Debian's python3.11 where the machine has it (built with PGO and LTO,
# libpython linked in), python3 elsewhere. A plain `./configure` build, such as pyenv's
# default, runs the server's insert path in about 8% more instructions (callgrind) and
# with worse branch layout: docs/decisions/0017-optimized-interpreter.md.
DEBIAN_PYTHON := /usr/bin/python3.11
PYTHON ?= $(shell test -x $(DEBIAN_PYTHON) && echo $(DEBIAN_PYTHON) || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

NODE_STAMP := node_modules/.installed
WEB := examples/chat/web
WEB_STAMP := $(WEB)/dist/index.html
AUTH_WEB := examples/auth/web
AUTH_WEB_STAMP := $(AUTH_WEB)/dist/index.html
DASHBOARD := dashboard
DASHBOARD_STAMP := pyconvex/server/dashboard_dist/index.html
CHROMIUM := /usr/bin/chromium
PORT ?= 3210
SITE_PORT ?= 3211

.PHONY: run test lint unit bench clean setup web postgres dashboard container-tools

# The editable install is a path entry (editable_mode=compat), not an import hook: mypy
# and pyright find pyconvex (and its py.typed) only through a path.
$(STAMP): pyproject.toml
	@# Debian ships venv's pip bootstrap apart (python3.11-venv), and the headers apart too.
	if [ "$(PYTHON)" = "$(DEBIAN_PYTHON)" ] && ! dpkg -s python3.11-venv python3.11-dev >/dev/null 2>&1; then \
		apt-get update && apt-get install -y python3.11-venv python3.11-dev; fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]' --config-settings editable_mode=compat
	touch $(STAMP)

# The official npm `convex` client, pinned in package-lock.json, for compatibility tests.
$(NODE_STAMP): package.json package-lock.json
	command -v node >/dev/null && command -v npm >/dev/null || \
		(apt-get update && apt-get install -y nodejs npm)
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# The chat example's page: the official convex browser client bundled by Vite (lock file pinned).
$(WEB_STAMP): $(WEB)/package.json $(WEB)/package-lock.json $(WEB)/index.html $(WEB)/vite.config.js $(wildcard $(WEB)/src/*) $(NODE_STAMP)
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent

# The auth example's page: @convex-dev/auth's React client bundled by Vite (lock file pinned).
$(AUTH_WEB_STAMP): $(AUTH_WEB)/package.json $(AUTH_WEB)/package-lock.json $(AUTH_WEB)/index.html $(AUTH_WEB)/vite.config.js $(wildcard $(AUTH_WEB)/src/*) $(NODE_STAMP)
	cd $(AUTH_WEB) && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent

web: $(WEB_STAMP) $(AUTH_WEB_STAMP)

# The dashboard (/dashboard): Preact components bundled by Vite (lock file pinned) into one
# HTML file inside the package, which the wheel ships and the server serves.
$(DASHBOARD_STAMP): $(DASHBOARD)/package.json $(DASHBOARD)/package-lock.json $(DASHBOARD)/index.html $(DASHBOARD)/vite.config.js $(wildcard $(DASHBOARD)/src/*) $(NODE_STAMP)
	cd $(DASHBOARD) && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent

dashboard: $(DASHBOARD_STAMP)

# Debian's Chromium for the browser tests (driven by Playwright from the dev extras).
$(CHROMIUM):
	apt-get update && apt-get install -y chromium

# A PostgreSQL server for the PostgreSQL tests (PYCONVEX_TEST_POSTGRES_URL, default the
# local one, trust auth, database "test"): started if installed but down, installed
# (Debian's package) if missing. The tests never skip PostgreSQL.
postgres:
	@if [ -n "$$PYCONVEX_TEST_POSTGRES_URL" ]; then exit 0; fi; \
	if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
		command -v pg_ctlcluster >/dev/null || (apt-get update && apt-get install -y postgresql); \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | sort -V | tail -1) main start || true; \
		for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
	fi; \
	pg_isready -h 127.0.0.1 -p 5432 || (echo "PostgreSQL did not start" >&2; exit 1); \
	psql -h 127.0.0.1 -U postgres -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 || \
		su postgres -c "createdb test" 2>/dev/null || psql -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE test"

# Debian's podman for the container image test (tests/test_container.py), with runc (crun
# refuses a host whose cgroup v2 hierarchy has controllers beside cgroup v1's), and
# debootstrap to make the image's base locally, for machines that cannot pull from a registry.
container-tools:
	@command -v podman >/dev/null && command -v runc >/dev/null && command -v debootstrap >/dev/null || \
		(apt-get update && apt-get install -y podman runc debootstrap)

setup: $(STAMP) $(NODE_STAMP) $(DASHBOARD_STAMP) $(WEB_STAMP) $(AUTH_WEB_STAMP) $(CHROMIUM) postgres container-tools

lint: $(STAMP)
	$(BIN)/ruff check pyconvex tests bench examples
	$(BIN)/lint-imports
	$(BIN)/mypy --strict pyconvex
	@# Dead code (config in pyproject.toml [tool.vulture]): any line about pyconvex/ fails.
	@! $(BIN)/vulture | grep '^pyconvex/'

# pytest exits 5 when it collected nothing: that must fail CI, never pass it.
# Coverage of the in-process code is measured and reported (COVERAGE=0 skips it).
COVERAGE ?= 1
unit: setup
ifeq ($(COVERAGE),1)
	$(BIN)/coverage run -m pytest -p no:cacheprovider
	$(BIN)/coverage report
else
	$(BIN)/pytest -p no:cacheprovider
endif

test: lint unit

# The chat example on the embedded default (SQLite and files in examples/chat/.pyconvex/).
run: $(STAMP) $(DASHBOARD_STAMP) $(WEB_STAMP)
	@echo "pyconvex: starting the chat example; open the page printed below in two windows."
	$(BIN)/pyconvex dev --functions examples/chat/convex --web $(WEB)/dist --port $(PORT) --site-port $(SITE_PORT)

bench: $(STAMP)
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(AUTH_WEB)/node_modules $(AUTH_WEB)/dist $(DASHBOARD)/node_modules pyconvex/server/dashboard_dist
	rm -rf $(VENV) node_modules $(WEB)/node_modules $(WEB)/dist .pytest_cache .ruff_cache .mypy_cache .coverage
