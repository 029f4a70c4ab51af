"""Shared fixtures: settings and containers on SQLite and on a real PostgreSQL.

PostgreSQL and Redis are required, never skipped: set CMS_TEST_POSTGRES_URL and
CMS_TEST_REDIS_URL to point the tests at servers other than the local defaults.
"""

from __future__ import annotations

import io
import json
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker

from cms_graph.bootstrap import Container, build_container
from cms_graph.logging_setup import build_handler
from cms_graph.settings import LogFormat, Settings, load_settings

POSTGRES_URL = os.environ.get(
    "CMS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("CMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_SECRET = "test-signing-secret-that-is-long-enough-0123456789"


def _replace_database(url: str, name: str) -> str:
    base, _, _old = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=5) as connection:
            connection.execute("SELECT 1")
    except psycopg.OperationalError as error:
        pytest.fail(
            f"PostgreSQL is required at {POSTGRES_URL} (set CMS_TEST_POSTGRES_URL): {error}",
            pytrace=False,
        )
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """Return the URL of a new, empty database, dropped after the test."""
    name = f"cms_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield _replace_database(postgres_server, name)
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_server() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5).ping()
    except redis.RedisError as error:
        pytest.fail(
            f"Redis is required at {REDIS_URL} (set CMS_TEST_REDIS_URL): {error}", pytrace=False
        )
    return REDIS_URL


@pytest.fixture
def redis_broker(redis_server: str) -> Iterator[RedisBroker]:
    """Return a Redis broker in a namespace of its own, flushed after the test."""
    broker = RedisBroker(url=redis_server, namespace=f"cms-test-{uuid.uuid4().hex[:8]}")
    yield broker
    broker.flush_all()
    broker.close()


def make_settings(data_dir: Path, database_url: str | None = None, **overrides: object) -> Settings:
    return load_settings(
        _env_file=None,
        data_dir=data_dir,
        database_url=database_url,
        broker_url=None,
        jwt_secret=TEST_SECRET,
        demo_data=False,
        **overrides,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for a fresh store, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return make_settings(tmp_path)
    return make_settings(tmp_path, request.getfixturevalue("postgres_url"))


@pytest.fixture
def container(store_settings: Settings) -> Iterator[Container]:
    built = build_container(store_settings)
    yield built
    built.close()


@pytest.fixture
def sqlite_container(tmp_path: Path) -> Iterator[Container]:
    built = build_container(make_settings(tmp_path))
    yield built
    built.close()


@pytest.fixture
def postgres_container(tmp_path: Path, postgres_url: str) -> Iterator[Container]:
    built = build_container(make_settings(tmp_path, postgres_url))
    yield built
    built.close()


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Capture every log record of this process at DEBUG, rendered as JSON lines."""
    stream = io.StringIO()
    handler = build_handler(LogFormat.JSON, stream)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


def log_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
