# Quick start:  make run   (example pipeline on the local store)   |   make test   (the test suite)
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed-$(1)

.PHONY: run test install install-dev graphviz clean

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

# Graphviz's `dot` renders .svg/.png graphs (.dot output needs nothing). Best effort: installed with apt
# where we are root; without it the tests that render images are skipped, with the reason printed.
graphviz:
	@command -v dot >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) ; } || \
	  echo "graphviz not installed: graph rendering tests will be skipped"

test: install-dev graphviz
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) .dds build *.egg-info
