"""Compare the lodging rate of 16 concurrent writers with plain PostgreSQL INSERTs.

Every variant runs WRITERS threads for SECONDS seconds (after WARMUP seconds that are not
counted) against one fresh PostgreSQL database, which is dropped afterwards. Each thread
has its own work: its own commands, rows and, for the plain INSERTs, its own connection.

Baselines, on a table shaped like ``complaints_events`` (uuid and bigint key, text topic,
bytea state, bigserial id with a unique index), one row per transaction, with the state
bytes of a real stored ComplaintLodged event:

- ``insert``: a plain INSERT in autocommit mode.
- ``insert+lock``: the same INSERT after ``LOCK TABLE … IN EXCLUSIVE MODE`` in one
  transaction, as the eventsourcing 9.5.6 PostgreSQL recorder does for each commit.
- ``insert+notify``: the same INSERT with a ``NOTIFY`` in one transaction and no table
  lock; the recorder sends that NOTIFY too.

Lodging variants, each with the container's pools as configured (``default``) or raised
so that every writer can hold a connection of each pool (``raised``):

- ``lodge``: ``container.complaints.lodge`` with ``tests.factories.lodge_command()``.
- ``lodge-no-projection``: the same with the inline projection catch-up disabled.
- ``event-only``: ``Complaint.lodge(...)`` and ``event_store.save_complaint``, with no
  vault key, tracking number reservation or projection.

For each variant the script reports the rate, its ratio to ``insert`` of the same round,
the median latency, and the CPU time used per second by this process and by the whole
machine. Lodging variants also report how often a request waited for a pooled
connection, and how many events each transaction of the events table stored on average
(group commit puts the events of concurrent saves in one). With ``--sample-waits`` every
variant reports what its PostgreSQL backends were doing, from pg_stat_activity sampled
every 100 ms.

    PYTHONPATH=. .venv/bin/python bench/lodging.py [--writers 16] [--seconds 10] \
        [--warmup 2] [--rounds 2] [--pools both] [--sample-waits]
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import psycopg
from tests.factories import lodge_command

from cms_graph import bootstrap
from cms_graph.adapters.database import PostgresDatabase
from cms_graph.adapters.event_store import event_store_env
from cms_graph.adapters.policy_files import load_policy
from cms_graph.application.identity import Principal
from cms_graph.bootstrap import Container, build_container
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.ladder import Rank
from cms_graph.domain.tracking_number import new_tracking_number
from cms_graph.domain.values import Actor, Channel, ComplaintCategory, Language
from cms_graph.settings import load_settings

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"

PLAIN_TABLE = """
CREATE TABLE plain_events (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigserial,
    PRIMARY KEY (originator_id, originator_version)
);
CREATE UNIQUE INDEX plain_events_notification_id ON plain_events (notification_id);
"""
PLAIN_INSERT = (
    "INSERT INTO plain_events (originator_id, originator_version, topic, state)"
    " VALUES (%s, %s, %s, %s) RETURNING notification_id"
)
ACTIVITY = (
    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity"
    " WHERE datname = current_database() AND backend_type = 'client backend'"
    " AND pid <> pg_backend_pid()"
)


@dataclass
class Measurement:
    name: str
    operations: int
    seconds: float
    latencies: list[float]
    process_cpu: float
    machine_busy: float
    pool_waits: dict[str, tuple[int, int]] = field(default_factory=dict)
    activity: dict[str, float] = field(default_factory=dict)
    events_per_commit: float | None = None

    @property
    def rate(self) -> float:
        return self.operations / self.seconds


def machine_cpu_seconds() -> tuple[float, float]:
    """Return the busy and total CPU seconds of all cores since boot, from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


class ActivitySampler:
    """A sampler of the states and wait events of the database's backends, every 100 ms."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.counts: collections.Counter[str] = collections.Counter()
        self.samples = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="activity-sampler")

    def __enter__(self) -> ActivitySampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as connection:
            while not self._stopping.wait(0.1):
                rows = connection.execute(ACTIVITY).fetchall()
                self.samples += 1
                for state, wait_type, wait_event in rows:
                    where = f"{wait_type}:{wait_event}" if wait_type else "on CPU"
                    self.counts[f"{state} / {where}"] += 1

    def mean_backends(self) -> dict[str, float]:
        """Return the mean number of backends in each state per sample, largest first."""
        return {key: count / max(1, self.samples) for key, count in self.counts.most_common()}


def run_writers(
    name: str,
    writers: int,
    make_operation: Callable[[int], Callable[[], None]],
    *,
    warmup: float,
    seconds: float,
    url: str,
    sample_waits: bool,
    pools: dict[str, Any] | None = None,
) -> Measurement:
    """Run one operation per thread in a loop and count those that end in the timed window."""
    operations = [make_operation(index) for index in range(writers)]
    completions: list[list[float]] = [[] for _ in range(writers)]
    latencies: list[list[float]] = [[] for _ in range(writers)]
    errors: list[BaseException] = []
    ready = threading.Barrier(writers + 1)
    start_at = [0.0]

    def work(index: int) -> None:
        operation = operations[index]
        ready.wait()
        end_at = start_at[0] + warmup + seconds
        while (began := time.perf_counter()) < end_at:
            try:
                operation()
            except BaseException as error:  # reported after the run; this writer stops
                errors.append(error)
                return
            ended = time.perf_counter()
            completions[index].append(ended)
            latencies[index].append(ended - began)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(writers)]
    for thread in threads:
        thread.start()
    start_at[0] = time.perf_counter()
    ready.wait()
    time.sleep(warmup)
    for pool in (pools or {}).values():
        pool.pop_stats()
    cpu_before, busy_before, total_before = time.process_time(), *machine_cpu_seconds()
    sampler = ActivitySampler(url) if sample_waits else None
    with sampler if sampler is not None else nullcontext():
        time.sleep(seconds)
    cpu_after, busy_after, total_after = time.process_time(), *machine_cpu_seconds()
    pool_waits = {}
    for pool_name, pool in (pools or {}).items():
        stats = pool.pop_stats()
        pool_waits[pool_name] = (stats.get("requests_queued", 0), stats.get("requests_wait_ms", 0))
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{name}: {len(errors)} writers failed, first: {errors[0]!r}")

    window_start = start_at[0] + warmup
    window_end = window_start + seconds
    done = [t for times in completions for t in times if window_start <= t <= window_end]
    timed_latencies = [
        latency
        for times, spans in zip(completions, latencies, strict=True)
        for t, latency in zip(times, spans, strict=True)
        if window_start <= t <= window_end
    ]
    return Measurement(
        name=name,
        operations=len(done),
        seconds=seconds,
        latencies=timed_latencies,
        process_cpu=(cpu_after - cpu_before) / seconds,
        machine_busy=(busy_after - busy_before) / (total_after - total_before),
        pool_waits=pool_waits,
        activity=sampler.mean_backends() if sampler is not None else {},
    )


@contextmanager
def plain_connections(url: str, writers: int) -> Iterator[list[psycopg.Connection[Any]]]:
    connections = [psycopg.connect(url, autocommit=True) for _ in range(writers)]
    try:
        yield connections
    finally:
        for connection in connections:
            connection.close()


def plain_insert(
    connection: psycopg.Connection[Any], state: bytes, topic: str
) -> Callable[[], None]:
    def insert() -> None:
        connection.execute(PLAIN_INSERT, (uuid.uuid4(), 1, topic, state), prepare=True)

    return insert


def locked_insert(
    connection: psycopg.Connection[Any], state: bytes, topic: str
) -> Callable[[], None]:
    def insert() -> None:
        with connection.transaction():
            connection.execute("SET LOCAL lock_timeout = '10s'", prepare=True)
            connection.execute("LOCK TABLE plain_events IN EXCLUSIVE MODE", prepare=True)
            connection.execute(PLAIN_INSERT, (uuid.uuid4(), 1, topic, state), prepare=True)

    return insert


def notified_insert(
    connection: psycopg.Connection[Any], state: bytes, topic: str
) -> Callable[[], None]:
    def insert() -> None:
        with connection.transaction():
            connection.execute("NOTIFY plain_events", prepare=True)
            connection.execute(PLAIN_INSERT, (uuid.uuid4(), 1, topic, state), prepare=True)

    return insert


@contextmanager
def open_container(url: str, data_dir: Path, pools: str, writers: int) -> Iterator[Container]:
    """Build a container whose pools are as configured, or raised for ``pools='raised'``.

    The configured sizes are the event store's POSTGRES_POOL_SIZE=10 plus
    POSTGRES_MAX_OVERFLOW=10, and at most 10 connections for the project's tables. Raised
    pools give every writer a connection of each pool, plus 4 spare.
    """
    settings = load_settings(_env_file=None, database_url=url, data_dir=data_dir)
    if pools == "default":
        container = build_container(settings)
    else:

        def raised_env(**kwargs: Any) -> dict[str, str]:
            env = event_store_env(**kwargs)
            env |= {"POSTGRES_POOL_SIZE": str(writers), "POSTGRES_MAX_OVERFLOW": "4"}
            return env

        def raised_database(_settings: Any) -> PostgresDatabase:
            return PostgresDatabase(url, max_size=writers + 4)

        with (
            mock.patch.object(bootstrap, "event_store_env", raised_env),
            mock.patch.object(bootstrap, "open_database", raised_database),
        ):
            container = build_container(settings)
    try:
        yield container
    finally:
        container.close()


def container_pools(container: Container) -> dict[str, Any]:
    database = container.database
    assert isinstance(database, PostgresDatabase)
    return {
        "database": database.pool,
        "event store": container.event_store.recorder.datastore.pool,  # type: ignore[attr-defined]
    }


def sample_lodged_event(container: Container, url: str) -> tuple[bytes, str]:
    """Lodge one complaint and return its stored state bytes and topic."""
    result = container.complaints.lodge(Principal.anonymous(), lodge_command())
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT state, topic FROM complaints_events WHERE notification_id = %s",
            (result.notification_id,),
        ).fetchone()
    assert row is not None
    return bytes(row[0]), row[1]


def event_only(container: Container) -> Callable[[], None]:
    """Save a ComplaintLodged event of the usual size, skipping the vault and the index."""
    plan = load_policy(None).plan_for(ComplaintCategory.BRIBERY)
    sealed = os.urandom(136)  # as long as a sealed lodge_command() complainant
    digest = os.urandom(32).hex()
    command = lodge_command()

    def save() -> None:
        complaint = Complaint.lodge(
            complaint_id=uuid.uuid4(),
            tracking_number=new_tracking_number("LHR"),
            category=command.category,
            description=command.description,
            district_id="pb_lahore",
            station_id="pb_lahore-c1-ps1",
            unit_id="pb_lahore-c1",
            incident_at=None,
            language=Language.UR,
            complainant_sealed=sealed,
            phone_digest=digest,
            deadline_plan=plan,
            holder_rank=Rank.CIRCLE,
            actor=Actor.complainant(),
            channel=Channel.WEB_PORTAL,
            occurred_at=datetime.now(UTC),
        )
        container.event_store.save_complaint(complaint)

    return save


def lodge(container: Container) -> Callable[[], None]:
    anonymous = Principal.anonymous()

    def lodge_one() -> None:
        container.complaints.lodge(anonymous, lodge_command())

    return lodge_one


def describe(measurement: Measurement, baseline: Measurement | None) -> str:
    ratio = f", {measurement.rate / baseline.rate:.2f} of insert" if baseline else ""
    median = statistics.median(measurement.latencies) if measurement.latencies else 0.0
    line = (
        f"  {measurement.name:36} {measurement.rate:8,.0f}/s{ratio}, "
        f"median {median * 1000:.1f} ms, "
        f"this process {measurement.process_cpu:.2f} CPU s/s, "
        f"machine {measurement.machine_busy * 100:.0f}% busy"
    )
    if measurement.events_per_commit is not None:
        line += f"\n      {measurement.events_per_commit:.1f} events per commit"
    for pool_name, (queued, wait_ms) in measurement.pool_waits.items():
        line += f"\n      {pool_name} pool: {queued:,} requests waited, {wait_ms:,} ms in all"
    if measurement.activity:
        top_states = ", ".join(
            f"{key} {mean:.1f}" for key, mean in list(measurement.activity.items())[:6]
        )
        line += f"\n      backends per sample: {top_states}"
    return line


PLAIN_VARIANTS = {
    "insert+lock": locked_insert,
    "insert+notify": notified_insert,
}
LODGING_VARIANTS = ("lodge", "lodge-no-projection", "event-only")
VARIANTS = ("insert", *PLAIN_VARIANTS, *LODGING_VARIANTS)


def run_round(
    arguments: argparse.Namespace, url: str, data_dir: Path, state: bytes, topic: str
) -> list[Measurement]:
    """Run the baseline ``insert`` first, then each chosen variant; return the results."""
    writers = arguments.writers
    timing: dict[str, Any] = {
        "warmup": arguments.warmup,
        "seconds": arguments.seconds,
        "url": url,
        "sample_waits": arguments.sample_waits,
    }
    results = []
    with plain_connections(url, writers) as connections:
        results.append(
            run_writers(
                "insert", writers, lambda i: plain_insert(connections[i], state, topic), **timing
            )
        )
        for variant, make_insert in PLAIN_VARIANTS.items():
            if variant in arguments.variants:
                results.append(
                    run_writers(
                        variant,
                        writers,
                        lambda i, f=make_insert: f(connections[i], state, topic),
                        **timing,
                    )
                )

    pool_settings = ["default", "raised"] if arguments.pools == "both" else [arguments.pools]
    for pools in pool_settings:
        with open_container(url, data_dir, pools, writers) as container:
            measured_pools = container_pools(container)
            for variant in LODGING_VARIANTS:
                if variant not in arguments.variants:
                    continue
                if variant == "lodge-no-projection":
                    container.complaints.after_commit = lambda _notification_id: None
                else:
                    # Apply the events of the variants without the projection first,
                    # untimed, so the first lodgings do not measure that backlog.
                    container.complaint_projection.catch_up()
                operation = event_only if variant == "event-only" else lodge
                head = container.event_store.recorder.max_notification_id() or 0
                measurement = run_writers(
                    f"{variant} ({pools} pools)",
                    writers,
                    lambda _i, c=container, f=operation: f(c),
                    pools=measured_pools,
                    **timing,
                )
                measurement.events_per_commit = events_per_commit(url, head)
                results.append(measurement)
    return results


def events_per_commit(url: str, after: int) -> float:
    """Return the mean number of events stored per transaction after notification ``after``.

    Rows that one transaction inserted share its ``xmin``; warm-up is included.
    """
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT count(*), count(DISTINCT xmin::text) FROM complaints_events"
            " WHERE notification_id > %s",
            (after,),
        ).fetchone()
    assert row is not None
    events, transactions = row
    return events / max(1, transactions)


@contextmanager
def benchmark_database(writers: int) -> Iterator[tuple[str, Path, bytes, str]]:
    """Create a fresh database with the project's tables and the plain INSERT's table.

    Yield its URL, a data directory, and the state bytes and topic of one stored
    ComplaintLodged event for the plain INSERTs. The database is dropped afterwards.
    """
    name = f"cms_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        url = SERVER.rsplit("/", 1)[0] + "/" + name
        data_dir = Path(tempfile.mkdtemp())
        with open_container(url, data_dir, "default", writers) as container:
            state, topic = sample_lodged_event(container, url)
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(PLAIN_TABLE)
        yield url, data_dir, state, topic
    finally:
        with psycopg.connect(SERVER, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load_average() -> str:
    """Return the machine's one-minute load average, to show what else was running."""
    return Path("/proc/loadavg").read_text().split()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=16, help="concurrent writer threads")
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per variant")
    parser.add_argument("--warmup", type=float, default=2.0, help="untimed seconds first")
    parser.add_argument("--rounds", type=int, default=2, help="times to run every variant")
    parser.add_argument(
        "--pools",
        choices=["default", "raised", "both"],
        default="both",
        help="connection pools of the lodging variants: as configured, raised, or both",
    )
    parser.add_argument(
        "--variants",
        type=lambda text: text.split(","),
        default=list(VARIANTS),
        help=f"comma-separated variants to run besides insert (default: {','.join(VARIANTS)})",
    )
    parser.add_argument(
        "--sample-waits", action="store_true", help="sample pg_stat_activity every 100 ms"
    )
    arguments = parser.parse_args()
    unknown = set(arguments.variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; choose from {', '.join(VARIANTS)}")

    with benchmark_database(arguments.writers) as (url, data_dir, state, topic):
        print(
            f"{arguments.writers} writers, {arguments.seconds:g} s per variant after "
            f"{arguments.warmup:g} s warm-up; ComplaintLodged state is {len(state):,} bytes"
        )

        by_name: dict[str, list[Measurement]] = collections.defaultdict(list)
        ratios: dict[str, list[float]] = collections.defaultdict(list)
        print(f"load average (1 min) before: {load_average()}")
        for round_number in range(1, arguments.rounds + 1):
            print(f"round {round_number}:")
            results = run_round(arguments, url, data_dir, state, topic)
            baseline = results[0]
            for measurement in results:
                print(describe(measurement, None if measurement is baseline else baseline))
                by_name[measurement.name].append(measurement)
                ratios[measurement.name].append(measurement.rate / baseline.rate)

        print(f"load average (1 min) after: {load_average()}")
        print(f"median of {arguments.rounds} rounds:")
        for variant, measurements in by_name.items():
            rate = statistics.median(m.rate for m in measurements)
            ratio = statistics.median(ratios[variant])
            print(f"  {variant:36} {rate:8,.0f}/s  {ratio:.2f} of insert")


if __name__ == "__main__":
    main()
