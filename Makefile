# cenomed: two commands on a fresh clone.
#   make run    install, initialise ./var (SQLite), seed the demo, serve on 127.0.0.1:8000
#   make test   install with the dev tools, lint, type-check, run the whole suite
# The suite runs on SQLite; set CENOMED_TEST_DATABASE_URL (or use make test-postgres) for PostgreSQL.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
# pytest-xdist workers: one per core by default (PYTEST_WORKERS=0 runs in one process).
PYTEST_WORKERS ?= auto
OIDC_PROVIDER := tests/oidc_provider
BROWSER_TESTS := tests/browser

.PHONY: run test test-postgres lint install dev lock clean bench bench-crypto bench-policy bench-purge bench-audit bench-indicators bench-search bench-minutes bench-worklist bench-tlog

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt --editable .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet --constraint constraints.txt --editable '.[dev]'
	touch $@

$(OIDC_PROVIDER)/node_modules/.installed: $(OIDC_PROVIDER)/package-lock.json
	npm ci --prefix $(OIDC_PROVIDER) --no-audit --no-fund --loglevel=error
	touch $@

# axe-core, which the browser tests inject into every screen (Chromium itself is Debian's).
$(BROWSER_TESTS)/node_modules/.installed: $(BROWSER_TESTS)/package-lock.json
	npm ci --prefix $(BROWSER_TESTS) --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.dev-installed $(OIDC_PROVIDER)/node_modules/.installed \
	$(BROWSER_TESTS)/node_modules/.installed

run: install
	# A second run keeps the web passwords already printed (and noted) where they still work.
	umask 077 && mkdir -p var && $(BIN)/cenomed demo --keep-passwords-from var/demo-tokens.tsv > var/demo-tokens.tsv.new \
		&& mv var/demo-tokens.tsv.new var/demo-tokens.tsv && cat var/demo-tokens.tsv
	@echo "Web: http://$(HOST):$(PORT)/ (web passwords: third column of var/demo-tokens.tsv); API docs: http://$(HOST):$(PORT)/docs"
	CENOMED_WEB_DEMO_ACCOUNTS=true $(BIN)/cenomed serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check app tests bench migrations/env.py
	$(BIN)/ruff format --check app tests bench migrations/env.py
	$(BIN)/mypy

test: dev lint
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS)

test-postgres: dev
	CENOMED_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest -n $(PYTEST_WORKERS)

# The service under load on PostgreSQL (issue 8): 100,000 and 1,000 cases, two workers, 32
# clients; writes bench/RESULTS.md and bench/results/load.json (about ten minutes here).
bench: $(VENV)/.installed
	$(BIN)/python -m bench.load_bench

bench-crypto: $(VENV)/.installed
	$(BIN)/python -m bench.crypto_bench

bench-policy: $(VENV)/.installed
	$(BIN)/python -m bench.policy_bench

bench-purge: $(VENV)/.installed
	$(BIN)/python -m bench.purge_bench

bench-audit: $(VENV)/.installed
	$(BIN)/python -m bench.audit_bench

bench-indicators: $(VENV)/.installed
	$(BIN)/python -m bench.indicators_bench

# Finding a case by identity (issue 16): the same time at 1,000 and 100,000 cases, and never
# more cases decrypted than returned; writes bench/results/search.{json,md} (a few minutes).
bench-search: $(VENV)/.installed
	$(BIN)/python -m bench.search_bench

# What awaits a coordinator (issue 18): the same time at 1,000 and 100,000 cases (the same open
# work, the rest closed or purged history); writes bench/results/worklist.{json,md} (minutes).
bench-worklist: $(VENV)/.installed
	$(BIN)/python -m bench.worklist_bench

# The minutes of a 40-case meeting as a PDF (issue 17): generated in under a few seconds;
# writes bench/results/meeting-minutes.{json,md} (under a minute).
bench-minutes: $(VENV)/.installed
	$(BIN)/python -m bench.meeting_minutes_bench

# The audit log's Merkle tree (issue 20): proofs at 10^5 and 10^6 leaves from an in-memory
# level store, full-tree hashing against bare SHA-256; writes bench/results/tlog.{json,md} (a minute).
bench-tlog: $(VENV)/.installed
	$(BIN)/python -m bench.tlog_bench

lock: $(VENV)/.dev-installed
	{ head -2 constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v '^cenomed'; } > constraints.new
	mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) $(OIDC_PROVIDER)/node_modules $(BROWSER_TESTS)/node_modules .pytest_cache .mypy_cache .ruff_cache
