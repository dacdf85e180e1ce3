PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := application models workflows activities connectors store sandbox cli security telemetry ingress \
	stack inbox tryton_psflow \
	worker.py config.py config_sources.py
TYPED := $(PACKAGES) bench chaos

.PHONY: install bytecode demo dev test lint bench chaos clean postgres browser tryton

# The store tests run on PostgreSQL too: the suite starts its own server from Debian's packages.
PG_INITDB := $(wildcard /usr/lib/postgresql/*/bin/initdb)
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# An editable install leaves psflow's modules uncompiled, and the workflow sandbox imports them
# anew for every run: without bytecode on disk (PYTHONDONTWRITEBYTECODE, as container images
# set it) each run compiles them again. A wheel install compiles them; this does it here.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q $(PACKAGES)

demo: bytecode
	$(BIN)/psflow demo

dev: bytecode
	$(BIN)/psflow dev

postgres:
ifeq ($(PG_INITDB),)
	$(SUDO) apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
endif

# The inbox's tests drive Debian's chromium (Playwright downloads no browser of its own here).
browser:
ifeq ($(wildcard /usr/bin/chromium),)
	$(SUDO) apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
endif

test: bytecode postgres browser
	$(BIN)/ruff check .
	$(BIN)/mypy $(TYPED)
	$(BIN)/pytest --ignore=tests/test_tryton.py --ignore=tests/test_tryton_people.py \
		--ignore=tests/test_tryton_stack.py --ignore=tests/test_tryton_billing.py \
		--ignore=tests/test_chaos_tryton.py --ignore=tests/test_tryton_reconcile.py \
		--ignore=tests/test_demo_tryton.py

# The Tryton connector's own tests, reconciliation and the demo's chapter on Tryton, and a
# small chaos run against it (about two minutes), outside `make test` to keep it in budget (the
# sagas and a month-end on Tryton are in it): a real trytond, its database built once into a
# template under .psflow/tryton (about 45 s the first time).
tryton: bytecode
	$(BIN)/pytest tests/test_tryton.py tests/test_tryton_people.py tests/test_tryton_stack.py \
		tests/test_tryton_billing.py tests/test_chaos_tryton.py tests/test_tryton_reconcile.py \
		tests/test_demo_tryton.py

# Not part of `make test`: starts its own servers, about 15 minutes on 2 cores (bench/README.md).
bench: bytecode
	$(BIN)/python -m bench $(BENCH_ARGS)

# Not part of `make test` (tests/test_chaos.py runs a small one): its own servers, 100 sagas and
# a month-end under kills, an outage, 429 storms and cancels; five to eight minutes on 2 cores.
# CHAOS_ARGS="--erp tryton": the same against a trytond of its own (README, Chaos against Tryton).
chaos: bytecode
	$(BIN)/python -m chaos $(CHAOS_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy $(TYPED)

clean:
	rm -rf $(VENV) .psflow .pytest_cache
