# Every target does its own set-up from a fresh clone: the virtualenv, the install, the services.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck services clean lock

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

## lock: pin anew every package pyproject.toml asks for (with the dev extra) in requirements.lock
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet '.[dev]'
	{ sed -n '1,2p' requirements.lock; .lock-venv/bin/pip freeze --exclude audiobatch; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv

## demo: render manifests/demo.yaml on embedded defaults (SQLite, filesystem broker, local storage, emulator)
demo: $(STAMP)
	$(BIN)/audiobatch run manifests/demo.yaml

## services: make sure PostgreSQL and Redis are installed and running (installs them where missing)
services:
	bash scripts/ensure-services

## test: lint, type-check and run every test against real PostgreSQL, Redis, an S3 server and the emulator
test: $(STAMP) services lint typecheck
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .audiobatch renders .mypy_cache .ruff_cache .pytest_cache
