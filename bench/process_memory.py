"""Peak memory of the API and worker processes while the COPA file is imported and served.

Starts `cms-graph serve` and `cms-graph worker` on a fresh PostgreSQL database and Redis
database 13, imports the COPA file through `cms-graph import` (whose commits the worker
projects), pages through every imported complaint over GraphQL 50 at a time, then reads
each process's peak resident set (VmHWM in /proc). Everything is cleaned up afterwards.

    PYTHONPATH=. .venv/bin/python bench/process_memory.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import redis

from cms_graph.adapters.tokens import TokenService
from cms_graph.adapters.unit_files import load_hierarchy
from cms_graph.domain.values import Role

ROOT = Path(__file__).resolve().parents[1]
SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
BROKER = "redis://127.0.0.1:6379/13"
SECRET = "benchmark-secret-benchmark-secret-0123456789"
PORT = 8197
# Seconds to wait for /healthz to return 200. A busy machine can take more than 20.
STARTUP_SECONDS = 60
PAGE = """query($after: String) { complaints(first: 50, after: $after) {
  pageInfo { hasNextPage endCursor } edges { node { id trackingNumber status unitId
  escalationLevel lodgedAt timeline { eventType } } } } }"""


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def api_ready() -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{PORT}/healthz").status_code == 200
    except httpx.TransportError:
        return False


def main() -> None:
    work = Path(tempfile.mkdtemp())
    name = f"cms_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = SERVER.rsplit("/", 1)[0] + "/" + name
    redis.Redis.from_url(BROKER).flushdb()
    environment = os.environ | {
        "CMS_DATABASE_URL": url,
        "CMS_BROKER_URL": BROKER,
        "CMS_JWT_SECRET": SECRET,
        "CMS_DATA_DIR": str(work),
        "CMS_LOG_LEVEL": "WARNING",
        "CMS_DEMO_DATA": "false",
        "CMS_PORT": str(PORT),
    }
    command = [sys.executable, "-m", "cms_graph"]
    api = subprocess.Popen([*command, "serve"], env=environment, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([*command, "worker"], env=environment, stderr=subprocess.DEVNULL)
    try:
        ready_by = time.monotonic() + STARTUP_SECONDS
        while not api_ready():
            if time.monotonic() > ready_by:
                raise SystemExit(
                    f"/healthz did not return 200 within {STARTUP_SECONDS} s; is port {PORT} free?"
                )
            time.sleep(0.2)
        subprocess.run(
            [
                *command,
                "import",
                str(ROOT.parent / "shared/data/copa_cms_lifecycle_2019_2022.csv"),
                "--mapping",
                str(ROOT / "imports/copa_cms_lifecycle.toml"),
                "--rejects",
                str(work / "rejects.csv"),
            ],
            env=environment,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        token = TokenService(SECRET, issuer="cms-graph", units=load_hierarchy(None)).issue(
            subject="bench", role=Role.COMPLAINT_CELL, unit_id="pb"
        )
        seen, after = 0, None
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            while True:
                body = client.post(
                    f"http://127.0.0.1:{PORT}/graphql",
                    json={"query": PAGE, "variables": {"after": after}},
                ).json()
                page = body["data"]["complaints"]
                seen += len(page["edges"])
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
        print(f"paged through {seen} complaints")
        print(f"API process peak RSS: {peak_rss_mib(api.pid):.0f} MiB")
        print(f"worker process peak RSS: {peak_rss_mib(worker.pid):.0f} MiB")
    finally:
        for process in (api, worker):
            process.terminate()
            process.wait(timeout=30)
        redis.Redis.from_url(BROKER).flushdb()
        with psycopg.connect(SERVER, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
