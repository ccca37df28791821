# Quick start:  make run   (example pipeline on the local store)   |   make test   (the test suite)
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed-$(1)

.PHONY: run test reliability install install-dev graphviz chromium clean

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

# Debian's Chromium for the docs tests that look at the site in a real browser (tests/test_docs.py); best
# effort like graphviz: without it those tests are skipped, with the reason printed.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } || \
	  echo "chromium not installed: the browser checks of the docs will be skipped"

test: install-dev graphviz chromium
	$(PY) -m pytest -q

# Crash, damage, fuzz and security tests with large counts (200 random SIGKILLs, 10x the fuzz examples);
# writes docs/reliability.md from their figures. `make test` runs the same tests with small counts.
reliability: install-dev
	$(PY) tests/reliability_report.py --kills 200 --fuzz 10

# Benchmarks (issue 6; targets in bench/README.md). Peers (dds_py, checkpointer) go into bench/.venv-peers,
# a benchmark-only virtualenv created by bench/peers.py. Frame size: DDS_BENCH_MB (bench 500, bench-quick 50).
.PHONY: bench bench-quick bench-profile
bench: install
	$(PY) bench/run.py

bench-quick: install
	$(PY) bench/run.py --quick

bench-profile: install
	@$(PY) -m pip install --quiet pyinstrument || echo "pyinstrument not installed: profiling with cProfile"
	$(PY) bench/profiling.py

# The user guide (mkdocs-material, API reference from docstrings) into site/; offline, and any warning fails it.
# NO_MKDOCS_2_WARNING silences mkdocs-material's notice about its own future, printed on every build.
.PHONY: docs
$(VENV)/.installed-docs: $(VENV)/bin/python setup.py pyproject.toml
	$(PY) -m pip install --quiet -e ".[docs]"
	touch $@

# The tutorial's pictures need Graphviz (installed by `graphviz` where it can be; without it the tutorial
# says where each picture would be). Search needs a web server: `make docs-serve` (see README).
docs: $(VENV)/.installed-docs graphviz
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

docs-serve: docs
	@echo "the user guide, with search: http://127.0.0.1:8000/index.html (Ctrl-C stops it)"
	$(PY) -m http.server --bind 127.0.0.1 --directory site 8000

# Execute notebooks/*.ipynb on a fresh kernel of this venv and write them back with their outputs, scrubbed
# of timings and temporary paths (tests/test_notebooks.py fails when the committed outputs are stale).
.PHONY: notebooks docs-serve
notebooks: $(VENV)/.installed-dev
	$(PY) notebooks/execute.py

clean:
	rm -rf $(VENV) .dds build *.egg-info
