# Two commands on a fresh machine with Python 3.10+ and make:  make demo  |  make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
READY  := $(VENV)/.installed

.PHONY: demo test package bench clean

demo: $(READY)
	$(BIN)/dwtrigger demo

test: $(READY)
	$(BIN)/python -m pytest

# FC code packages for `s deploy` (s.yaml's pre-deploy action runs this): build/<fn>/ and build/<fn>.zip.
FC_PYTHON ?= 3.12

package: $(READY)
	$(BIN)/python deploy/package.py --python $(FC_PYTHON) --out build

# Issue 13's performance figures, dwtrigger against the naive relay in bench/naive.py (under 5 minutes).
bench: $(READY)
	$(BIN)/python bench/perf.py

# The venv is (re)built whenever the pinned requirements change.
$(READY): requirements/runtime.txt requirements/dev.txt pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "dwtrigger needs Python 3.10+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements/dev.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

clean:
	rm -rf $(VENV) build .pytest_cache .hypothesis
