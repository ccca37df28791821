# Quick start:  make run   (example pipeline on the local store)   |   make test   (the test suite)
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed-$(1)

.PHONY: run test install install-dev clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Re-install when packaging files change (the stamp is older than setup.py).
$(VENV)/.installed-run: $(VENV)/bin/python setup.py pyproject.toml
	$(PY) -m pip install --quiet -e ".[pandas]"
	touch $@

$(VENV)/.installed-dev: $(VENV)/bin/python setup.py pyproject.toml
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev

run: install
	$(PY) examples/pipeline.py

test: install-dev
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) .dds build *.egg-info
