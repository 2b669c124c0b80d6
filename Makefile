# omsx — `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast lint clean bench-validate bench-register bench-daily bench-admin bench-load fuzz

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(STAMP) ## create .venv and install omsx with its dev extras

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: install ## start every process on the embedded default (NATS, Valkey, SQLite under ./var)
	$(VENV)/bin/omsx up

test: install ## run the whole test suite (starts its own servers on free ports)
	$(PY) -m pytest

test-fast: install ## unit tests only
	$(PY) -m pytest tests/unit

lint: install ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

fuzz: install ## fuzz FLK with mutated registers, long (tests/hostile/test_fuzz.py); OMSX_FUZZ_EXAMPLES=N
	OMSX_FUZZ_EXAMPLES=$${OMSX_FUZZ_EXAMPLES:-20000} $(PY) -m pytest tests/hostile/test_fuzz.py -p no:cacheprovider --hypothesis-show-statistics

bench-validate: install ## FLK of a 100k register vs lxml (floor) and xmlschema; BENCH_CASES=N
	$(PY) -m bench.validate

bench-register: install ## a 100k register through the hub (SQLite, PostgreSQL) vs its floor; BENCH_CASES=N BENCH_DBS=sqlite,postgres
	$(PY) -m bench.register

bench-daily: install ## one day's consolidation: 200 МО, 4 СМО, 50k events (SQLite, PostgreSQL) vs its floor; BENCH_EVENTS=N
	$(PY) -m bench.daily

bench-admin: install ## package search and person card through the admin app, 100k packages, 1M cases (SQLite, PostgreSQL) vs their floor; BENCH_CASES=N BENCH_PACKAGES=N
	$(PY) -m bench.admin

bench-load: install ## 200 МО + 4 СМО gateways: packages/s, p50/p95/p99 publish→protocol, stages, floors (SQLite, PostgreSQL; 1/2 workers, 1/2 ingests); BENCH_PACKAGES=N BENCH_MATRIX=… BENCH_DBS=…
	$(PY) -m bench.load

clean: ## remove the virtual environment and local data (./var)
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
