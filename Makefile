# Tongban 通办 — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
export TONGBAN_HOST ?= $(HOST)
export TONGBAN_PORT ?= $(PORT)

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast lint format migrations messages bench lock clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Tongban needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP) ## Create .venv, install pinned dependencies, compile translations
	@$(BIN)/pybabel compile --use-fuzzy --statistics -d app/locale -D messages

run: install ## Start everything (web, worker, Redis, SQLite, demo data) on HOST:PORT
	$(BIN)/tongban run

test: install ## Run the whole test suite (starts its own Redis; browser tests in headless Chromium)
	@bash tests/e2e/ensure-chromium.sh
	@bash tests/e2e/ensure-axe.sh
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: install ## Run the tests without the browser
	$(BIN)/pytest -m "not e2e" $(PYTEST_ARGS)

lint: install ## ruff check, ruff format --check, mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrations: install ## Write auto migrations for changed tables (migrations/<domain>/)
	$(BIN)/tongban makemigrations

messages: install ## Extract translatable strings and update the catalogues
	$(BIN)/pybabel extract -F app/locale/babel.cfg -k _ -k N_ -k gettext -k ngettext:1,2 -o app/locale/messages.pot --no-location --sort-output --width 100 .
	$(BIN)/pybabel update -i app/locale/messages.pot -d app/locale -D messages --no-fuzzy-matching --width 100

bench: install ## Run the benchmarks in bench/ (prints figures)
	$(BIN)/python -m bench

lock: ## Re-resolve dependencies into constraints.txt (then commit it)
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e ".[dev]"
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt
	rm -rf .lock-venv

clean: ## Remove the virtualenv and local data (var/)
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
