# Two commands on a fresh machine with Python 3.10+ and make:  make demo  |  make test (the suite on python3 and FC's python3.12)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
READY  := $(VENV)/.installed
# FC's Python runtime (s.yaml's vars.python)
FC_PYTHON ?= 3.12

.PHONY: demo test suite suite-fc package bench mutants clean

demo: $(READY)
	$(BIN)/dwtrigger demo

# The suite runs twice at once: on this machine's python3 and on FC's runtime (FC_PYTHON, found on PATH or under
# pyenv). It waits on loopback servers more than it computes, so each run spreads its modules over TEST_WORKERS
# processes (pytest-xdist, a module to a worker) and the two runs take little longer than one (docs/design.md has
# the figures); each run's output is printed whole when it ends, and meanwhile each says how far it is every minute
# on the terminal, which it gets as descriptor 3 (tests/progress.py). The venvs are built first, one after the other
# (both install this checkout in place). Without FC's Python the suite runs once, with a warning; in CI that fails.
FC_VENV := .venv-$(FC_PYTHON)
# deploy/fcpython.py finds it (on PATH, else under pyenv), for the suite and for `make package`'s bytecode alike.
FC_INTERPRETER ?= $(shell $(PYTHON) deploy/fcpython.py $(FC_PYTHON) 2>/dev/null)
FC_INTERPRETER := $(FC_INTERPRETER)
FC_READY := $(if $(FC_INTERPRETER),$(FC_VENV)/.installed)
TEST_WORKERS ?= 2
PYTEST = -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: $(READY) $(FC_READY)
	@DWTRIGGER_TEST_PROGRESS=3 $(MAKE) --no-print-directory -j2 --output-sync=target suite suite-fc 3>&2

# Each slow module runs once: `slow` on FC's Python, `load` (mostly waiting) on python3, so the two runs end together.
suite:
	$(BIN)/python $(PYTEST) $(if $(FC_INTERPRETER),-m "not slow")

suite-fc:
ifeq ($(FC_INTERPRETER),)
	@echo "warning: no python$(FC_PYTHON) here (FC's runtime): the suite ran on $$($(PYTHON) --version) only" >&2; test -z "$$CI"
else
	@echo "the suite on $$($(FC_VENV)/bin/python --version) (FC's runtime):"
	$(FC_VENV)/bin/python $(PYTEST) -m "not load"
endif

# FC code packages for `s deploy` (s.yaml's pre-deploy action runs this): build/<fn>/ and build/<fn>.zip.

package: $(READY)
	$(BIN)/python deploy/package.py --python $(FC_PYTHON) --out build $(if $(FC_INTERPRETER),--interpreter $(FC_INTERPRETER))

# Issue 13's performance figures, dwtrigger against the naive relay in bench/naive.py (under 5 minutes).
bench: $(READY)
	$(BIN)/python bench/perf.py

# Deleting any one guard of the safety net must fail a test: each guard mutated in a copy of the tree, its tests run
# (tests/mutants.py; 6 to 8 minutes, 2 mutants at once; --only NAME or --jobs N through ARGS). Not part of `test`.
mutants: $(READY)
	$(BIN)/python tests/mutants.py $(ARGS)

# A venv is (re)built whenever the pinned requirements change: $(call venv,INTERPRETER,DIR). uv installs the pins
# (pip took about 70 s a venv, building the SDKs' source distributions one by one; uv, under 10 s); each venv is
# seeded with pip, which deploy/package.py drives. uv itself, pinned here, is pip-installed into a venv of its own, .venv-uv.
UV_VERSION := 0.13.10
UV := .venv-uv/bin/uv

define venv
	$(1) -c 'import sys; assert sys.version_info >= (3, 10), "dwtrigger needs Python 3.10+"'
	$(UV) venv -q --seed --python $(1) $(2)
	$(UV) pip install -q --python $(2)/bin/python -r requirements/dev.txt
	$(UV) pip install -q --python $(2)/bin/python --no-deps -e .
	touch $(2)/.installed
endef

$(UV):
	$(PYTHON) -m venv .venv-uv
	.venv-uv/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)

$(READY): requirements/runtime.txt requirements/dev.txt pyproject.toml | $(UV)
	$(call venv,$(PYTHON),$(VENV))

$(FC_VENV)/.installed: requirements/runtime.txt requirements/dev.txt pyproject.toml | $(UV)
	$(call venv,$(FC_INTERPRETER),$(FC_VENV))

clean:
	rm -rf $(VENV) .venv-* build .pytest_cache .hypothesis
