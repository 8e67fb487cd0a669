# The README's two commands: `make demo` (the main job) and `make test` (the suite).
# Each creates the project's virtual environment (.venv) when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-pythons lint bench venv clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10+ is required")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

# The fast tests (api, sandbox, tap: no Meltano) on each other Python we support, found with
# pyenv (or as python3.X on PATH); each gets its own .venv-3.X, installed with the default
# venv's uv. An absent interpreter is skipped with one line. The SDK's end-of-life notice
# for 3.10 is a warning, not a failure.
PYTHONS ?= 3.10 3.13
FAST_TESTS ?= tests/api tests/sandbox tests/tap
test-pythons: $(STAMP)
	@status=0; for v in $(PYTHONS); do \
	  py=$$(ls -d "$$(pyenv root 2>/dev/null)"/versions/$$v.*/bin/python 2>/dev/null | sort -V | tail -n 1); \
	  [ -n "$$py" ] || py=$$(command -v python$$v || true); \
	  if [ -z "$$py" ]; then echo "test-pythons: Python $$v not found (pyenv or python$$v): skipped"; continue; fi; \
	  venv=.venv-$$v; \
	  if [ ! -f $$venv/.installed ] || [ pyproject.toml -nt $$venv/.installed ]; then \
	    rm -rf $$venv && "$$py" -m venv $$venv && \
	    $(BIN)/uv pip install --quiet --python $$venv/bin/python -e '.[dev]' && \
	    touch $$venv/.installed || exit 1; \
	  fi; \
	  echo "test-pythons: $$($$venv/bin/python -V) ($$py)"; \
	  $$venv/bin/python -m pytest -q -W "ignore::singer_sdk.helpers._compat.SingerSDKPythonEOLWarning" \
	    $(FAST_TESTS) || { status=1; echo "test-pythons: FAILED on Python $$v"; }; \
	done; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .venv-3.* build dist *.egg-info
