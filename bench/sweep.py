"""Time the deadline sweep's search over a million open complaints on PostgreSQL.

Fills a fresh database's escalation_view with OPEN_COMPLAINTS rows, DUE of them with a
passed deadline, then times EscalationService.due_deadlines (the query each sweep runs)
and reports the median and slowest of RUNS runs. The database is dropped afterwards.

    .venv/bin/python bench/sweep.py [--open 1000000] [--due 1000] [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from cms_graph.bootstrap import build_container
from cms_graph.settings import load_settings

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"

FILL = """
INSERT INTO escalation_view (complaint_id, tracking_number, status, unit_id, unit_path,
    holder_rank, escalation_level, opened_at, deadline_plan, deadline_step, due_at, fire_at,
    version)
SELECT gen_random_uuid(), 'LHR-' || lpad(n::text, 9, '0'), 'LODGED', 'pb_lahore-c1',
    '/pb/pb-rgn-lahore/pb_lahore/pb_lahore-c1/', 'CIRCLE', 0, now(), '{}', 'FIRST_CONTACT',
    due, due, 1
FROM (
    SELECT n, CASE WHEN n <= %(due)s THEN now() - (n || ' seconds')::interval
                   ELSE now() + (n || ' seconds')::interval END AS due
    FROM generate_series(1, %(open)s) AS n
) AS rows
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=1_000_000, help="open complaints")
    parser.add_argument("--due", type=int, default=1_000, help="of which past their deadline")
    parser.add_argument("--runs", type=int, default=20, help="timed sweeps")
    arguments = parser.parse_args()

    name = f"cms_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        url = SERVER.rsplit("/", 1)[0] + "/" + name
        container = build_container(
            load_settings(_env_file=None, database_url=url, data_dir=Path(tempfile.mkdtemp()))
        )
        started = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(FILL, {"due": arguments.due, "open": arguments.open})
            connection.execute("VACUUM ANALYZE escalation_view")
        print(f"filled {arguments.open:,} rows in {time.perf_counter() - started:.1f} s")

        timings = []
        for _ in range(arguments.runs):
            started = time.perf_counter()
            found = container.escalations.due_deadlines(limit=arguments.due)
            timings.append(time.perf_counter() - started)
            assert len(found) == arguments.due, len(found)
        print(
            f"sweep search over {arguments.open:,} open complaints, {arguments.due:,} due: "
            f"median {statistics.median(timings) * 1000:.1f} ms, "
            f"slowest {max(timings) * 1000:.1f} ms ({arguments.runs} runs)"
        )
        container.close()
    finally:
        with psycopg.connect(SERVER, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
