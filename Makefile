# Two commands on a fresh machine with Python 3.10+ and make:  make demo  |  make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
READY  := $(VENV)/.installed

.PHONY: demo test clean

demo: $(READY)
	$(BIN)/dwtrigger demo

test: $(READY)
	$(BIN)/python -m pytest

# The venv is (re)built whenever the pinned requirements change.
$(READY): requirements/runtime.txt requirements/dev.txt pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "dwtrigger needs Python 3.10+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements/dev.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

clean:
	rm -rf $(VENV) build .pytest_cache .hypothesis
