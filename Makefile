# The two commands of the README: `make demo` and `make test`. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export KODOMO_HOME ?= $(CURDIR)/.kodomo
DEMO_LANDING := $(KODOMO_HOME)/landing
DEMO_SCALE ?= prefecture

.PHONY: setup test demo app dagster bench clean

setup: $(VENV)/.installed

# Exact versions come from requirements.lock; uv (installed by pip) only makes the install fast.
$(VENV)/.installed: requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

test: setup
	$(BIN)/python -m pytest

demo: setup
	test -f $(DEMO_LANDING)/agencies.csv || $(BIN)/kodomo generate --out $(DEMO_LANDING) --scale $(DEMO_SCALE)
	$(BIN)/kodomo run --landing $(DEMO_LANDING)
	$(BIN)/kodomo report ingest
	$(MAKE) app

# The app reads the warehouse and the registry of $(KODOMO_HOME); the Dagster UI stays on `make dagster`.
app: setup
	$(BIN)/streamlit run app/main.py --server.headless true --server.address 127.0.0.1 --server.port 8501 \
		--browser.gatherUsageStats false

dagster: setup
	KODOMO_LANDING=$(DEMO_LANDING) $(BIN)/python -m orchestration.dev

bench: setup
	$(BIN)/python bench/ingest.py --scale prefecture
	$(BIN)/python bench/link.py --scale prefecture
	$(BIN)/python bench/train.py --scale prefecture
	$(BIN)/python bench/backtest.py --scale prefecture

clean:
	rm -rf $(VENV) .pytest_cache
