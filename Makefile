# pagedesk: `make demo` to try it, `make test` to check it.
# Tools run as `python -m …`: venv script shebangs are not trusted to point at this venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format install clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "pagedesk needs Python 3.11 or newer (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m pagedesk.cli up --demo

lint: $(STAMP)
	$(BIN)/python -m ruff check src tests $(wildcard bench/*.py)
	$(BIN)/python -m ruff format --check src tests $(wildcard bench/*.py)
	$(BIN)/python -m mypy

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

format: $(STAMP)
	$(BIN)/python -m ruff format src tests $(wildcard bench/*.py)
	$(BIN)/python -m ruff check --fix src tests $(wildcard bench/*.py)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
