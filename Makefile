# Every target does its own set-up from a fresh clone: the virtualenv, the install, the services.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck services clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

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
