# `make run` and `make test` are the README's two commands.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
PYTEST := $(BIN)/pytest
STAMP := $(VENV)/.installed

.PHONY: run test lint test-sqlite test-postgres test-unit test-integration test-browser vendor clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

## Set up and run the portal on the embedded default (SQLite, jobs in-process) with demo data.
run: $(STAMP)
	$(FLASK) db upgrade
	$(FLASK) demo
	@echo "Open http://127.0.0.1:5000 and sign in with a login above."
	$(FLASK) serve

## Set up and run the whole suite: lint, architecture contract, then every test on SQLite and PostgreSQL.
test: $(STAMP)
	bash scripts/ensure-system.sh
	$(MAKE) lint
	$(MAKE) test-sqlite
	$(MAKE) test-postgres

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Unit tests touch no database: once, with SQLite's run. The browser's walks through whole
# features run once, on PostgreSQL as deployed; its smoke tests on both. Integration: both.
test-sqlite: $(STAMP)
	TEST_DATABASE=sqlite $(PYTEST) -q tests/unit tests/integration tests/browser/test_smoke.py

test-postgres: $(STAMP)
	TEST_DATABASE=postgresql $(PYTEST) -q tests/integration tests/browser

test-unit: $(STAMP)
	$(PYTEST) -q tests/unit

test-integration: $(STAMP)
	$(PYTEST) -q tests/integration

test-browser: $(STAMP)
	$(PYTEST) -q tests/browser

## Refresh the vendored front-end files from the versions pinned in package.json.
vendor:
	npm ci --no-audit --no-fund
	mkdir -p static/vendor/bootstrap
	cp node_modules/bootstrap/dist/css/bootstrap.min.css node_modules/bootstrap/dist/js/bootstrap.bundle.min.js node_modules/bootstrap/LICENSE static/vendor/bootstrap/
	mkdir -p static/vendor/chartjs
	cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/LICENSE.md static/vendor/chartjs/

clean:
	rm -rf $(VENV) instance
