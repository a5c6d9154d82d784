# The two commands of the README. Each sets itself up: a .venv is created and filled when absent or
# when pyproject.toml changed.
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8080
PYTEST_ARGS ?=

.PHONY: serve test install install-dev prometheus clean

serve: $(VENV)/.installed
	$(VENV)/bin/promcast serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-dev prometheus
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/bin/python:
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "promcast needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

prometheus:
	@sh scripts/ensure-prometheus.sh

clean:
	rm -rf $(VENV) build dist .pytest_cache
