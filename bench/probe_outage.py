"""Time /readyz and /metrics with PostgreSQL reachable, behind a closed proxy and stalled.

Serves the app with uvicorn on 127.0.0.1, on a fresh PostgreSQL database reached through
a TCP proxy of its own and a Redis broker under a namespace of its own. It lodges
COMPLAINTS complaints, applies them, and times SCRAPES requests to each endpoint while the
proxy forwards. Then it times a few requests after closing the proxy (connections
refused) and after stalling it (connections accepted, no response). The database and
the Redis keys are removed afterwards.

    PYTHONPATH=. .venv/bin/python bench/probe_outage.py [--complaints 200] [--scrapes 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
from dramatiq.brokers.redis import RedisBroker
from tests.conftest import make_settings
from tests.integration.test_health_probes import TcpProxy
from tests.integration.test_operations import lodge, serving

from cms_graph.bootstrap import build_container
from cms_graph.web import create_app

POSTGRES_URL = os.environ.get(
    "CMS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("CMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
OUTAGE_REQUESTS = 3


def timed(client: httpx.Client, path: str) -> tuple[int, float]:
    """Return the status of GET ``path`` and its duration in milliseconds."""
    start = time.perf_counter()
    response = client.get(path, timeout=600.0)
    return response.status_code, (time.perf_counter() - start) * 1000


def report(label: str, client: httpx.Client, path: str, requests: int) -> None:
    results = [timed(client, path) for _ in range(requests)]
    durations = sorted(duration for _status, duration in results)
    statuses = sorted({status for status, _duration in results})
    print(
        f"{label:<10} {path:<8} statuses {statuses} median {statistics.median(durations):8.1f} ms"
        f"  slowest {durations[-1]:8.1f} ms  ({requests} requests)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=200, help="complaints to lodge")
    parser.add_argument("--scrapes", type=int, default=50, help="requests per endpoint")
    parser.add_argument("--probe-timeout", type=int, default=3, help="CMS_PROBE_TIMEOUT_SECONDS")
    arguments = parser.parse_args()

    name = f"cms_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    server = urlsplit(POSTGRES_URL)
    proxy = TcpProxy(server.port or 5432)
    proxy.start()
    user = f"{server.username}@" if server.username else ""
    url = f"postgresql://{user}127.0.0.1:{proxy.port}/{name}"
    broker = RedisBroker(url=REDIS_URL, namespace=f"cms-bench-{uuid.uuid4().hex[:8]}")
    try:
        settings = make_settings(
            Path(tempfile.mkdtemp()), url, probe_timeout_seconds=arguments.probe_timeout
        )
        container = build_container(settings)
        app = create_app(settings, container=container, run_workers=False, broker=broker)
        with serving(app) as client:
            for _ in range(arguments.complaints):
                lodge(client)
            container.catch_up_all()
            report("reachable", client, "/readyz", arguments.scrapes)
            report("reachable", client, "/metrics", arguments.scrapes)
            proxy.close()
            report("closed", client, "/readyz", OUTAGE_REQUESTS)
            report("closed", client, "/metrics", OUTAGE_REQUESTS)
            # A stalled proxy on the same port: connections are accepted and get no response.
            proxy = TcpProxy(server.port or 5432, listen_port=proxy.port)
            proxy.start()
            proxy.stall()
            report("stalled", client, "/readyz", OUTAGE_REQUESTS)
            report("stalled", client, "/metrics", OUTAGE_REQUESTS)
    finally:
        proxy.stop()
        broker.flush_all()
        broker.close()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
