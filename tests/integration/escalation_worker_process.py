"""A worker process that stops dead in the middle of an escalation.

Usage: python -m tests.integration.escalation_worker_process DATA_DIR DATABASE_URL
       REDIS_URL NAMESPACE POLICY_FILE MARKER_FILE {before-save|after-save}

It consumes the escalation queue like ``cms-graph worker``, but when it reaches the save
(or has just saved) it creates MARKER_FILE and waits, so the test can kill it there.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from cms_graph.bootstrap import build_container
from cms_graph.workers.process import connect_broker
from tests.conftest import make_settings


def main() -> None:
    data_dir, database_url, redis_url, namespace, policy, marker, mode = sys.argv[1:8]
    settings = make_settings(Path(data_dir), database_url, sla_policy=Path(policy))
    container = build_container(settings)
    store = container.event_store
    real_save = store.save_complaint

    def save_then_hang(complaint: Any) -> int:
        if mode == "before-save":
            Path(marker).touch()
            threading.Event().wait()
        notification_id = real_save(complaint)
        Path(marker).touch()
        threading.Event().wait()
        return notification_id

    store.save_complaint = save_then_hang  # type: ignore[method-assign]
    broker = RedisBroker(url=redis_url, namespace=namespace, heartbeat_timeout=1000)
    connect_broker(container, broker)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
