# Roomwise: `make run` to try it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint bench bench-email clean

run: $(VENV)/.runtime  ## Set up, migrate, seed a demo organizer and run web + worker + beat
	$(PY) scripts/run_local.py

test: $(VENV)/.dev  ## Run the whole test suite (uses DATABASE_URL / REDIS_URL when set)
	$(PY) -m pytest

lint: $(VENV)/.dev  ## Style, formatting and type checks
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy service integrations tasks

bench: $(VENV)/.dev  ## Webhook ingest benchmark (PostgreSQL + Redis on 127.0.0.1)
	$(PY) -m bench.ingest

bench-email: $(VENV)/.dev  ## Email benchmark: 10,000 recaps next to a bare smtplib loop (PostgreSQL)
	$(PY) -m bench.email

clean:  ## Remove the virtualenv and local data (var/)
	rm -rf $(VENV) var

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime
