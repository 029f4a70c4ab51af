"""Measure how long after a deadline its escalation is committed, with a worker running.

Starts `cms-graph worker` as a separate process on PostgreSQL and Redis, lodges
COMPLAINTS complaints spread over a few seconds under a policy whose first-contact
deadline is DEADLINE seconds, waits until every one has escalated, and reports the delay
from each missed deadline to the commit of its ComplaintEscalated event (the event's
recorded timestamp). Uses a fresh PostgreSQL database and Redis database 13, both
cleared afterwards.

    .venv/bin/python bench/escalation_latency.py [--complaints 300] [--deadline 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import redis
from tests.factories import lodge_command

from cms_graph.application.identity import Principal
from cms_graph.bootstrap import build_container
from cms_graph.domain.complaint import Complaint
from cms_graph.settings import load_settings
from cms_graph.workers.process import connect_broker

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
BROKER = "redis://127.0.0.1:6379/13"
SECRET = "benchmark-secret-benchmark-secret-0123456789"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=300)
    parser.add_argument("--deadline", type=int, default=3, help="first-contact seconds")
    arguments = parser.parse_args()

    work = Path(tempfile.mkdtemp())
    policy = work / "policy.toml"
    policy.write_text(
        f'name = "bench"\n[first_contact]\ndefault = "PT{arguments.deadline}S"\n'
        '[reply]\ndefault = "PT1H"\n[escalation]\ninterval = "PT1H"\n'
    )
    name = f"cms_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = SERVER.rsplit("/", 1)[0] + "/" + name
    redis.Redis.from_url(BROKER).flushdb()
    environment = os.environ | {
        "CMS_DATABASE_URL": url,
        "CMS_BROKER_URL": BROKER,
        "CMS_SLA_POLICY": str(policy),
        "CMS_JWT_SECRET": SECRET,
        "CMS_DATA_DIR": str(work),
        "CMS_LOG_LEVEL": "WARNING",
    }
    settings = load_settings(
        _env_file=None,
        database_url=url,
        broker_url=BROKER,
        sla_policy=policy,
        jwt_secret=SECRET,
        data_dir=work,
    )
    container = build_container(settings)
    worker = subprocess.Popen(
        [sys.executable, "-m", "cms_graph", "worker", "--threads", "4"], env=environment
    )
    try:
        connect_broker(container)
        time.sleep(2)  # let the worker connect before the first deadline
        for _ in range(arguments.complaints):
            container.complaints.lodge(Principal.anonymous(), lodge_command())
        lodged_at = time.monotonic()

        latencies: list[float] = []
        while time.monotonic() - lodged_at < arguments.deadline + 60:
            notifications = container.event_store.recorder.select_notifications(
                start=None, limit=arguments.complaints * 3
            )
            events = [container.event_store.mapper.to_domain_event(n) for n in notifications]
            escalated = [e for e in events if isinstance(e, Complaint.ComplaintEscalated)]
            if len(escalated) >= arguments.complaints:
                latencies = [
                    (e.timestamp - e.missed_due_at).total_seconds()
                    for e in escalated
                    if e.missed_due_at is not None
                ]
                break
            time.sleep(0.5)
        if len(latencies) < arguments.complaints:
            raise SystemExit(f"only {len(latencies)} of {arguments.complaints} escalated in time")
        print(
            f"{len(latencies)} escalations after deadline: "
            f"p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms"
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        container.close()
        redis.Redis.from_url(BROKER).flushdb()
        with psycopg.connect(SERVER, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
