# The two commands of the README: `make demo` and `make test`. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export KODOMO_HOME ?= $(CURDIR)/.kodomo
DEMO_LANDING := $(KODOMO_HOME)/landing
DEMO_SCALE ?= prefecture
CHROMIUM := /usr/bin/chromium

.PHONY: setup java test test-spark demo app dagster mlflow serve serve-stop bench bench-scale clean

# dbt's manifest (dbt_project/target/manifest.json), which the pipeline's dbt assets are read from, and the compiled
# SQL of the online intake features are made here when the project changed; every `kodomo run` checks them again.
# Importing the code never runs dbt.
setup: $(VENV)/.installed java
	$(BIN)/python -m orchestration.defs.conform.project

# Splink's Spark engine (KODOMO_LINKAGE_ENGINE=spark) runs on a JVM: Debian's OpenJDK 17 (the default JRE where a
# Debian release has no 17), installed when no `java` is on the PATH.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
java:
	@command -v java >/dev/null || { $(SUDO) apt-get update -qq && \
		{ DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq openjdk-17-jre-headless || \
		  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq default-jre-headless; }; }

# Exact versions come from requirements.lock; uv (installed by pip) only makes the install fast. Bytecode is compiled
# at install: where PYTHONDONTWRITEBYTECODE is set (as on these machines), every process would otherwise compile
# what it imports, about 10 CPU-seconds for each pipeline run and 2 for each dbt command.
$(VENV)/.installed: requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

test: setup $(CHROMIUM)
	$(BIN)/python -m pytest

# The linkage on Spark alone (part of `make test` too): Spark and DuckDB give the same children on a `small` world.
test-spark: setup
	$(BIN)/python -m pytest -m spark

# The browser test drives Debian's Chromium through Playwright (never a downloaded browser), with Japanese fonts
# so that screenshots read; installed here when missing (as root, or through sudo).
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-noto-cjk

demo: setup
	test -f $(DEMO_LANDING)/agencies.csv || $(BIN)/kodomo generate --out $(DEMO_LANDING) --scale $(DEMO_SCALE)
	$(BIN)/kodomo run --landing $(DEMO_LANDING)
	$(BIN)/kodomo report ingest
	$(BIN)/kodomo demo-accounts
	$(MAKE) app

# The app reads the warehouse and the registry of $(KODOMO_HOME); the Dagster UI stays on `make dagster`.
app: setup
	$(BIN)/streamlit run app/main.py --server.headless true --server.address 127.0.0.1 --server.port 8501 \
		--browser.gatherUsageStats false

dagster: setup
	KODOMO_LANDING=$(DEMO_LANDING) $(BIN)/python -m orchestration.dev

# MLflow's own UI on http://127.0.0.1:5000: the tracking store of $(KODOMO_HOME) (SQLite; PostgreSQL in production).
mlflow: setup
	$(BIN)/python -m ml.mlflow_ui

# What a prefecture's server runs (README, "Production services"): the Dagster webserver and daemon (nightly schedule,
# landing sensor), MLflow's server and the app, on PostgreSQL (KODOMO_POSTGRES_URL; KODOMO_SECRET must be set),
# logging to $(KODOMO_HOME)/logs. Ctrl-C or `make serve-stop` stops them.
serve: setup
	KODOMO_ENV=$${KODOMO_ENV:-production} $(BIN)/python -m orchestration.serve

serve-stop: setup
	KODOMO_ENV=$${KODOMO_ENV:-production} $(BIN)/python -m orchestration.serve --stop

# Issue 14's table: per scale the cost of generation, ingestion, linkage, dbt and training (wall, peak RSS, rows/s,
# growth exponents) and a delivery's run on a prefecture; the larger scales take long (tokyo: hours on 2 cores).
SCALES ?= small,prefecture,national
bench-scale: setup
	$(BIN)/python bench/scale.py --scales $(SCALES) --incremental prefecture

bench: setup
	$(BIN)/python bench/ingest.py --scale prefecture
	$(BIN)/python bench/link.py --scale prefecture
	$(BIN)/python bench/train.py --scale prefecture
	$(BIN)/python bench/backtest.py --scale prefecture

clean:
	rm -rf $(VENV) .pytest_cache

# dbt's documentation on http://127.0.0.1:$(DOCS_PORT): lineage from the feeds' sources to the marts and their
# consumers (the exposures of dbt_project/models/exposures.yml: the risk model and the app pages). Column types
# come from the warehouse of $(KODOMO_HOME) once the pipeline has run; before that the docs show the project alone.
DOCS_PORT ?= 8081
DOCS_TARGET := $(CURDIR)/dbt_project/target/docs
.PHONY: docs
docs: setup
	mkdir -p $(DOCS_TARGET)
	cd dbt_project && if test -f "$(KODOMO_HOME)/warehouse.duckdb"; then \
		DBT_DUCKDB_PATH="$(KODOMO_HOME)/warehouse.duckdb" ../$(BIN)/dbt docs generate --quiet --target-path $(DOCS_TARGET); \
	else \
		DBT_DUCKDB_PATH=$(DOCS_TARGET)/empty.duckdb ../$(BIN)/dbt docs generate --quiet --empty-catalog \
			--target-path $(DOCS_TARGET); \
	fi
	cd dbt_project && ../$(BIN)/dbt docs serve --host 127.0.0.1 --port $(DOCS_PORT) --no-browser \
		--target-path $(DOCS_TARGET)
