# Every target installs what it needs: a Python 3.11+ virtualenv in .venv and, when missing and
# we are root, the system packages (Tesseract OCR, LibreOffice headless for Office documents and
# presentations). Without root, the message says what to install.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EVAL_STAMP := $(VENV)/.installed-eval
APT_PACKAGES := tesseract-ocr tesseract-ocr-eng libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui python3-venv

.PHONY: demo test test-faults test-postgres dev bench bench-scale eval robustness lint format system-deps postgres-deps clean ui-check

system-deps:
	@missing=""; \
	command -v tesseract >/dev/null 2>&1 || missing="$$missing tesseract-ocr tesseract-ocr-eng"; \
	command -v soffice >/dev/null 2>&1 || command -v libreoffice >/dev/null 2>&1 \
	  || [ -x /Applications/LibreOffice.app/Contents/MacOS/soffice ] \
	  || missing="$$missing libreoffice-writer-nogui libreoffice-calc-nogui"; \
	[ "$$(uname)" != Linux ] || [ -e /usr/lib/libreoffice/share/registry/impress.xcd ] \
	  || missing="$$missing libreoffice-impress-nogui"; \
	[ -n "$(PYTHON)" ] || { echo "Python 3.11+ is required (python3.11 or newer on PATH)"; exit 1; }; \
	$(PYTHON) -c 'import ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "missing system packages:$$missing"; \
	    echo "install them (Debian/Ubuntu: sudo apt-get install$$missing; macOS: brew install tesseract; brew install --cask libreoffice)"; \
	    exit 1; \
	  fi; \
	fi

# PostgreSQL's server binaries (Debian's `postgresql`), for the deployment tests and benchmarks: each
# starts a throwaway cluster of its own on a free loopback port (pii_pipeline/local_postgres.py).
# No service is started or enabled.
postgres-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing: postgresql"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	  else \
	    echo "missing system package: postgresql (Debian/Ubuntu: sudo apt-get install postgresql; macOS: brew install postgresql)"; \
	    exit 1; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: system-deps $(STAMP)
	$(BIN)/pii-pipeline demo

test: system-deps postgres-deps $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

# `pii-pipeline process` through an S3 proxy injecting SlowDown, resets (mid-body too), stalls
# and failing PUTs at set rates; slow, so not part of `make test`. See docs/operations.md.
test-faults: system-deps $(STAMP)
	$(BIN)/python -m pytest -m faults

# The distributed deployment as processes on PostgreSQL: dagster-daemon, a gRPC code server, queued
# parallel runs, a run worker killed with SIGKILL and retried, a published version (~1-3 min).
test-postgres: system-deps postgres-deps $(STAMP)
	$(BIN)/python -m pytest -m postgres tests/test_postgres_deployment.py

# The embedded S3 keeps its objects in .dev_s3/ between restarts; ports: make dev S3_PORT=… UI_PORT=…
S3_PORT ?= 9000
UI_PORT ?= 3000
dev: system-deps $(STAMP)
	$(BIN)/pii-pipeline dev --s3-port $(S3_PORT) --ui-port $(UI_PORT)

bench: system-deps postgres-deps $(STAMP)
	$(BIN)/python -m bench

# The long benchmarks (about 40 minutes on 2 cores): publishing on a 1,000,000-document /
# 10,000,000-entity dataset, discovery over 1,000,000 keys, Dagster with up to 1,000,000 partitions
# on PostgreSQL.
bench-scale: system-deps postgres-deps $(STAMP)
	BENCH_SCALE=1 $(BIN)/python -m bench --scale --json .bench/scale.json

$(EVAL_STAMP): pyproject.toml
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,eval]'
	@touch $(EVAL_STAMP)

# Offline extractor quality next to Presidio's pattern recognizers (held-out seed), on real public
# blank forms filled through their fields (and flattened) and on documents in five languages; see
# docs/recognizers.md. EVAL_ARGS="--ner spacy:<pipeline>" also times a NER backend.
eval: system-deps $(EVAL_STAMP)
	TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS= $(BIN)/python -m bench.eval $(EVAL_ARGS)

# The whole pipeline over public real-world and damaged files fetched onto this machine (PDF,
# Office and mail libraries' own test files); not part of `make test`. See docs/documents.md.
robustness: system-deps $(STAMP)
	$(BIN)/python -m bench.robustness $(ROBUSTNESS_ARGS)

# The Dagster UI in headless Chromium shows a failed document as failed (tests/ui_check.py, 1-3
# min; not part of `make test`). Debian's chromium is installed when missing and we are root.
ui-check: system-deps $(STAMP)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing: chromium"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else \
	    echo "missing system package: chromium (Debian/Ubuntu: sudo apt-get install chromium)"; \
	    exit 1; \
	  fi; \
	}
	$(BIN)/python -m tests.ui_check $(UI_CHECK_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .demo .dagster_home .dagster_home.stale-* .dev_s3 .bench .pytest_cache .ruff_cache .ui-check
