PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TYPED := models connectors workflows activities cli ingress telemetry security store sandbox \
	bench chaos worker.py config.py

.PHONY: install demo dev test lint bench chaos clean postgres

# The store tests run on PostgreSQL too: the suite starts its own server from Debian's packages.
PG_INITDB := $(wildcard /usr/lib/postgresql/*/bin/initdb)
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/psflow demo

dev: $(STAMP)
	$(BIN)/psflow dev

postgres:
ifeq ($(PG_INITDB),)
	$(SUDO) apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
endif

test: $(STAMP) postgres
	$(BIN)/ruff check .
	$(BIN)/mypy $(TYPED)
	$(BIN)/pytest

# Not part of `make test`: starts its own servers, about 15 minutes on 2 cores (bench/README.md).
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Not part of `make test` (tests/test_chaos.py runs a small one): its own servers, 100 sagas and
# a month-end under kills, an outage, 429 storms and cancels; five to eight minutes on 2 cores.
chaos: $(STAMP)
	$(BIN)/python -m chaos $(CHAOS_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy $(TYPED)

clean:
	rm -rf $(VENV) .psflow .pytest_cache
