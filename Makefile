# SpendSense: `make demo` runs the whole pipeline on the local sandbox AWS account;
# `make test` installs what is missing, starts what the tests need, runs the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_PACKAGES := openjdk-17-jre-headless maven postgresql chromium prometheus prometheus-node-exporter nodejs npm wrk nginx
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install sysdeps jars ui demo test test-deploy test-fast lint typecheck bench bench-nab bench-api bench-ui bench-idle bench-anomalies bench-collect bench-collect-scale bench-pipeline bench-restart bench-waste chaos migration clean

help:
	@echo "make demo   - the whole pipeline on the sandbox AWS account (dashboard URL + demo login printed)"
	@echo "make test   - install what is missing, start what the tests need, run the tests"
	@echo "make lint   - ruff + mypy"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "SpendSense needs Python 3.11+; install it and run make again")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# System packages: installed with apt when run as root, otherwise the exact command is printed.
sysdeps:
	@bash deploy/scripts/sysdeps.sh $(APT_PACKAGES)

jars: $(STAMP)
	@$(BIN)/python -c 'from devstack.broker import BrokerPaths, ensure_jars; from spendsense.settings import get_settings; ensure_jars(BrokerPaths(get_settings().kafka.home))'

ui:
	@if [ -f ui/package.json ]; then bash deploy/scripts/build-ui.sh; fi

demo: sysdeps install jars ui
	$(BIN)/spendsense demo

test: sysdeps install jars ui
	$(BIN)/python -m pytest -p no:cacheprovider --doctest-modules spendsense ingest detector actions api projector sandbox bench devstack tests

# The deployment for real (tests/deploy/test_stack_runs.py): Docker set up on this host,
# the stand-ins and the image built, the compose stack up behind nginx, a customer's first
# steps through it, data kept across down and up. Figures: var/deploy-test/figures.json.
test-deploy: sysdeps install jars
	bash deploy/scripts/docker-host.sh
	SPENDSENSE_TEST_DEPLOY=1 $(BIN)/python -m pytest -p no:cacheprovider -s tests/deploy/test_stack_runs.py tests/deploy/test_ansible_play.py

test-fast: install
	$(BIN)/python -m pytest -x -q -m "not slow" tests

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy spendsense ingest detector actions api projector sandbox bench devstack

# NAB (shared/nab beside the repo) and the idle benchmark on a seeded 480-instance, 21-day fleet
# (at least 25 instances of every workload kind); the fleet is generated again when the
# generator changes, and its folder names the instance count so a smaller one is never reused.
NAB_DIR ?= ../shared/nab
IDLE_FLEET_SEED ?= 7
IDLE_FLEET_INSTANCES ?= 480
IDLE_FLEET := var/bench/fleet-$(IDLE_FLEET_SEED)-$(IDLE_FLEET_INSTANCES)

bench-nab: install
	$(BIN)/spendsense nab --data $(NAB_DIR)/data --out var/bench/nab --published $(NAB_DIR)/README.md --json bench/results/nab.json

$(IDLE_FLEET)/labels.json: $(wildcard sandbox/fleet/*.py) | $(STAMP)
	$(BIN)/spendsense fleet generate --seed $(IDLE_FLEET_SEED) --instances $(IDLE_FLEET_INSTANCES) --out $(IDLE_FLEET)

# Onboarding replayed (14 days backfilled at connection, then 7 live): model and anchor rules.
bench-idle: install $(IDLE_FLEET)/labels.json
	$(BIN)/spendsense bench idle --fleet $(IDLE_FLEET) --json bench/results/idle.json --markdown

# Usage anomalies on a fleet with labelled anomaly windows; thresholds were chosen on seed 101.
ANOMALY_FLEET_SEED ?= 7
ANOMALY_FLEET := var/bench/anomaly-fleet-$(ANOMALY_FLEET_SEED)

$(ANOMALY_FLEET)/anomalies.json: $(wildcard sandbox/fleet/*.py) | $(STAMP)
	$(BIN)/spendsense fleet generate --seed $(ANOMALY_FLEET_SEED) --instances 300 --days 28 --anomalies 0.3 --out $(ANOMALY_FLEET)

bench-anomalies: install $(ANOMALY_FLEET)/anomalies.json
	$(BIN)/spendsense bench anomalies --fleet $(ANOMALY_FLEET) --json bench/results/anomalies.json --markdown

# broker (started if not running) + detector workers (1, then 2 with one killed) + model
# service, three runs each, about ten minutes
WASTE_FLEET_SEED ?= 7
WASTE_FLEET := var/bench/waste-fleet-$(WASTE_FLEET_SEED)

$(WASTE_FLEET)/resources.json: $(wildcard sandbox/fleet/*.py) | $(STAMP)
	$(BIN)/spendsense fleet generate --seed $(WASTE_FLEET_SEED) --instances 60 --resources 20 --out $(WASTE_FLEET)

# the resources collector from onboarding to the fleet's end, through the local broker
bench-waste: install jars $(WASTE_FLEET)/resources.json
	$(BIN)/spendsense bench waste --fleet $(WASTE_FLEET) --poll-hours 3 --baseline --json bench/results/waste.json --markdown

bench-pipeline: install jars
	$(BIN)/spendsense kafka start
	$(BIN)/spendsense bench pipeline --workers 2 --json bench/results/pipeline.json

# a detector restart with 100k instances of state, in-memory store against RocksDB, ~5 minutes
bench-restart: install jars
	$(BIN)/spendsense kafka start
	$(BIN)/spendsense bench restart --instances 100000 --json bench/results/restart.json

# The API under load: instances and costs for a tenant with 10,000 instances, 100 clients.
bench-api: install
	$(BIN)/python -m bench.api --instances 10000 --clients 100 --json bench/results/api.json

# The dashboard's first paint at 10,000 instances in headless Chromium (median of 5 loads).
bench-ui: install ui
	$(BIN)/python -m bench.first_paint --instances 10000 --runs 5 --json bench/results/dashboard.json

# The polling benchmark: AWS cost and time to the idle verdict per policy, on the same fleet.
bench-collect: install $(IDLE_FLEET)/labels.json
	$(BIN)/spendsense bench collect --fleet $(IDLE_FLEET) --json bench/results/collect.json

# One full collection cycle at 10, 100 and 1,000 sandbox accounts, with 1 and 2 collector
# processes in the collectors group (about 13 minutes; the 1,000-account sandbox takes 4.5 GB).
bench-collect-scale: install jars
	$(BIN)/spendsense kafka start
	$(BIN)/spendsense bench collect --accounts 10 100 1000 --collectors 1 2 --json bench/results/collect_scale.json --markdown

# The pipeline under SIGKILLs, a broker restart and AWS faults for CHAOS_MINUTES (default 10),
# then checks: exactly once, scored, cooldowns, stops, audit, recovery. Non-zero on a breach.
CHAOS_MINUTES ?= 10
CHAOS_SEED ?= 1
chaos: install jars
	$(BIN)/spendsense chaos --minutes $(CHAOS_MINUTES) --seed $(CHAOS_SEED)

migration: install
	$(BIN)/python -m spendsense.store.regenerate

clean:
	-$(BIN)/spendsense kafka stop
	rm -rf var
