# Every target does its own set-up from a fresh clone: the virtualenv, the install, the services.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck services clean lock audit

# Locks: every package with its hashes, for Python 3.11 on Linux; requirements.lock has the dev
# extra (make, CI), requirements-runtime.lock the same versions without it (the Dockerfile), and
# requirements-build.lock what pyproject.toml's [build-system] needs to build the wheel (the
# Dockerfile's first stage).
LOCK         := requirements.lock
RUNTIME_LOCK := requirements-runtime.lock
BUILD_LOCK   := requirements-build.lock
UV           := uv==0.13.8
LOCK_FLAGS   ?=
COMPILE       = .lock-venv/bin/uv pip compile pyproject.toml --quiet --generate-hashes \
                --python-version 3.11 --python-platform linux --custom-compile-command 'make lock'

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

## lock: pin what pyproject.toml asks for, with hashes, keeping the pins that still fit
## (`make lock LOCK_FLAGS=--upgrade` pins every package anew)
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet $(UV)
	$(COMPILE) $(LOCK_FLAGS) --extra dev -o $(LOCK)
	$(COMPILE) --constraint $(LOCK) -o $(RUNTIME_LOCK)
	.lock-venv/bin/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' > .lock-venv/build.in
	$(subst pyproject.toml,.lock-venv/build.in,$(COMPILE)) -o $(BUILD_LOCK)
	rm -rf .lock-venv

## audit: the locked versions against PyPI's vulnerability records (skipped, saying so, when they
## do not answer)
audit: $(STAMP)
	$(BIN)/python scripts/audit_lock.py $(LOCK)

## demo: render manifests/demo.yaml on embedded defaults (SQLite, filesystem broker, local storage, emulator)
demo: $(STAMP)
	$(BIN)/audiobatch run manifests/demo.yaml

## services: make sure PostgreSQL and Redis are installed and running (installs them where missing)
services:
	bash scripts/ensure-services

## test: lint, type-check, audit the lock and run every test against real PostgreSQL, Redis, an S3 server and the emulator
## (four processes, one test file each at a time: most of a test's time is spent waiting on
## servers and subprocesses, and a file's module fixtures are made once)
test: $(STAMP) services lint typecheck audit
	AUDIOBATCH_SCREENSHOTS=$${AUDIOBATCH_SCREENSHOTS:-tests/artifacts/screenshots} $(BIN)/pytest --numprocesses 4 --dist loadfile --durations 30

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .lock-venv .audiobatch renders .mypy_cache .ruff_cache .pytest_cache
