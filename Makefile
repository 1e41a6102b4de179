# Touchline. `make help` lists the targets. The two that matter: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PYTEST := $(BIN)/pytest
CODE := cli touchline pipeline producers sinks synthetic tests devtools
# pytest-xdist processes for `make test`, a file each at a time; each starts its own services
# (the suite waits on Kafka, Redis and subprocesses far more than it computes)
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-z][a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

system-deps: ## install Java, Maven, redis-server, Prometheus, Alertmanager, chromium and python3-venv with apt when missing
	@deploy/install-system-deps.sh

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip
	@$(BIN)/pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

install: system-deps $(STAMP) ## create .venv and install Touchline with its dev tools

demo: install ## start the local stack, run the pipeline on generated data, print the reports
	$(BIN)/touchline demo

test: install lint typecheck ## lint, types and the whole suite on throwaway Kafka, Redis and registry
	$(PYTEST) tests -m "not bench" -n $(TEST_WORKERS) --dist loadfile --durations=25

test-unit: $(STAMP) ## unit tests only (no services needed)
	$(PYTEST) tests/unit

test-integration: install ## integration and e2e tests (real Kafka, Redis, chDB)
	$(PYTEST) tests/integration tests/e2e

test-alerts: install ## end-to-end alert tests in full: every outage on a stack of their own
	$(PYTEST) tests/e2e/test_ops_alerts.py tests/unit/test_alert_rules.py --slow-e2e -s

bench: install ## benchmarks: print figures and write bench-results/*.json with same-run baselines
	$(PYTEST) tests/bench --bench -s

lint: $(STAMP) ## ruff lint and format check (changes nothing)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)

format: $(STAMP) ## apply ruff format and safe fixes
	$(BIN)/ruff check --fix $(CODE)
	$(BIN)/ruff format $(CODE)

typecheck: $(STAMP) ## mypy with disallow_untyped_defs on the packages
	$(BIN)/mypy

services-up: install ## start the local Kafka, Redis and schema registry
	$(BIN)/touchline services up

services-down: $(STAMP) ## stop every local process Touchline started
	$(BIN)/touchline services down

clean: services-down ## stop services and delete local state (.touchline/)
	rm -rf .touchline bench-results

.PHONY: help system-deps install demo test test-unit test-integration test-alerts bench lint format typecheck \
	services-up services-down clean
