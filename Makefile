# Development entry points. Each target creates .venv on first use.
#   make serve    run the API on SQLite under ./var, with the workers in-process
#   make test     check PostgreSQL and Redis, the checked-in schema, then run pytest
#   make lint     ruff and mypy
#   make schema   rewrite schema/schema.graphql from the code

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

# Servers the tests use. tests/conftest.py reads the same variables, with the same defaults.
export CMS_TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
export CMS_TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: serve test lint schema check-services

serve: $(VENV)/.installed
	$(BIN)/cms-graph serve

test: $(VENV)/.installed-test check-services
	$(BIN)/cms-graph schema --check
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests
	$(BIN)/mypy src

schema: $(VENV)/.installed
	$(BIN)/cms-graph schema

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The stamp files make a rerun skip pip until pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(VENV)/.installed $@

define CHECK_SERVICES
import os, sys
import psycopg, redis

postgres_url = os.environ["CMS_TEST_POSTGRES_URL"]
redis_url = os.environ["CMS_TEST_REDIS_URL"]
failed = False
try:
    psycopg.connect(postgres_url, connect_timeout=5).close()
except psycopg.Error as error:
    print(f"PostgreSQL is not reachable at {postgres_url}: {str(error).strip()}", file=sys.stderr)
    print("  Start it, or set CMS_TEST_POSTGRES_URL to another server.", file=sys.stderr)
    failed = True
try:
    redis.Redis.from_url(redis_url, socket_connect_timeout=5).ping()
except redis.RedisError as error:
    print(f"Redis is not reachable at {redis_url}: {error}", file=sys.stderr)
    print("  Start it, or set CMS_TEST_REDIS_URL to another server.", file=sys.stderr)
    failed = True
if failed:
    sys.exit(1)
print(f"PostgreSQL at {postgres_url} and Redis at {redis_url} are up")
endef
export CHECK_SERVICES

check-services: $(VENV)/.installed-test
	@$(BIN)/python -c "$$CHECK_SERVICES"
