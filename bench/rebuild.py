"""Compare the rebuild speed of the complaints projection with the raw notification read rate.

Fills the event store of a fresh PostgreSQL database with COMPLAINTS complaints of five
events each (lodged, acknowledged, assigned, a note, resolved). They are saved straight
through the event store and interleaved in the log in groups of GROUP complaints: the
group's lodgings, then its acknowledgements, and so on. So four of five events update a
row that an earlier event inserted, about GROUP events earlier in the log. Then each
round times:

- ``read``: every notification read with ``recorder.select_notifications`` in pages of
  BATCH_SIZE, without decoding or applying them (the baseline);
- ``read+decode``: the same, turning each notification into a domain event;
- ``rebuild``: ``cms_graph.projections.rebuild.rebuild`` of the ``complaints`` projection
  with the same batch size, including the switch to the new tables.

The rebuild line also gives the CPU time of this process, so that time spent waiting for
PostgreSQL, or for a core on a busy machine, shows as the difference.

With ``--profile`` it runs one more rebuild under cProfile afterwards, untimed, and prints
the functions with the most time. The database is dropped afterwards.

    PYTHONPATH=. .venv/bin/python bench/rebuild.py [--complaints 20000] [--group 200] \
        [--batch-size 2000] [--rounds 2] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from cms_graph.adapters.policy_files import load_policy
from cms_graph.bootstrap import Container, build_container, build_projectors
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.ladder import Rank
from cms_graph.domain.tracking_number import new_tracking_number
from cms_graph.domain.values import (
    Actor,
    Channel,
    ComplaintCategory,
    Language,
    Outcome,
    Role,
)
from cms_graph.projections.rebuild import rebuild
from cms_graph.settings import load_settings

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
EVENTS_PER_COMPLAINT = 5
SAVE_CHUNK = 500  # aggregates per transaction while filling the store


def lodged_complaints(count: int, started: datetime) -> Iterator[Complaint]:
    plan = load_policy(None).plan_for(ComplaintCategory.BRIBERY)
    sealed = os.urandom(136)  # as long as a sealed complainant of tests.factories
    for index in range(count):
        yield Complaint.lodge(
            complaint_id=uuid.uuid4(),
            tracking_number=new_tracking_number("LHR"),
            category=ComplaintCategory.BRIBERY,
            description="The duty officer asked for money to record my statement.",
            district_id="pb_lahore",
            station_id="pb_lahore-c1-ps1",
            unit_id="pb_lahore-c1",
            incident_at=None,
            language=Language.UR,
            complainant_sealed=sealed,
            phone_digest=os.urandom(32).hex(),
            deadline_plan=plan,
            holder_rank=Rank.CIRCLE,
            actor=Actor.complainant(),
            channel=Channel.WEB_PORTAL,
            occurred_at=started + timedelta(seconds=index),
        )


def fill_event_store(container: Container, complaints: int, group_size: int) -> int:
    """Save complaints of five events each and return the number of events saved."""
    sdpo = Actor.staff("sdpo-lahore-c1", Role.SDPO, "pb_lahore-c1")
    staff = {"actor": sdpo, "channel": Channel.STAFF_CONSOLE}
    started = datetime.now(UTC) - timedelta(days=30)
    steps = [
        lambda c, at: c.acknowledge(note="Called the complainant.", at=at, **staff),
        lambda c, at: c.assign(
            officer_id="inspector-7",
            unit_id="pb_lahore-c1",
            holder_rank=Rank.CIRCLE,
            reason="Inquiry",
            at=at,
            **staff,
        ),
        lambda c, at: c.add_note(text="Statement recorded.", internal=True, at=at, **staff),
        lambda c, at: c.resolve(
            outcome=Outcome.RELIEF_GRANTED, summary="The officer was warned.", at=at, **staff
        ),
    ]
    store = container.event_store
    pending = lodged_complaints(complaints, started)
    saved = 0
    while True:
        group = [complaint for _, complaint in zip(range(group_size), pending, strict=False)]
        if not group:
            return saved * EVENTS_PER_COMPLAINT
        for hours, step in enumerate([None, *steps]):
            if step is not None:
                for complaint in group:
                    step(complaint, complaint.opened_at + timedelta(hours=hours))
            for start in range(0, len(group), SAVE_CHUNK):
                store.save(*group[start : start + SAVE_CHUNK])
        saved += len(group)


def read_all(container: Container, batch_size: int, decode: bool) -> int:
    recorder = container.event_store.recorder
    mapper = container.event_store.mapper
    position = 0
    count = 0
    while True:
        notifications = recorder.select_notifications(
            start=position, limit=batch_size, inclusive_of_start=False
        )
        if not notifications:
            return count
        if decode:
            for notification in notifications:
                mapper.to_domain_event(notification)
        count += len(notifications)
        position = notifications[-1].id


def rebuild_complaints(container: Container, batch_size: int) -> int:
    projector = build_projectors(container.settings, container.units)["complaints"]
    result = rebuild(
        container.database,
        container.event_store,
        projector,
        data_dir=container.settings.data_dir,
        batch_size=batch_size,
    )
    return result.events


def timed(
    label: str, events: int, seconds: float, baseline: float | None, cpu: float | None = None
) -> float:
    rate = events / seconds
    ratio = f", {rate / baseline:.2f} of read" if baseline else ""
    cpu_text = f", CPU {cpu:.2f} s" if cpu is not None else ""
    print(
        f"  {label:12} {events:,} events in {seconds:.2f} s: {rate:9,.0f} events/s{ratio}{cpu_text}"
    )
    return rate


def profile_rebuild(container: Container, batch_size: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    rebuild_complaints(container, batch_size)
    profiler.disable()
    for order in ("tottime", "cumulative"):
        output = io.StringIO()
        pstats.Stats(profiler, stream=output).sort_stats(order).print_stats(25)
        text = output.getvalue()
        text = text[text.index("   ncalls") :].rstrip()
        # Shorten file names to their place in the project or the installed package.
        text = re.sub(r"\S*/(site-packages|python3\.\d+)/", "", text)
        text = text.replace(f"{Path.cwd()}/", "")
        print(f"cProfile of one rebuild, by {order}:")
        print(text)


def load_average() -> str:
    """Return the machine's one-minute load average, to show what else was running."""
    return Path("/proc/loadavg").read_text().split()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=20_000, help="five events each")
    parser.add_argument(
        "--group", type=int, default=200, help="complaints whose events are interleaved"
    )
    parser.add_argument("--batch-size", type=int, default=2000, help="notifications per batch")
    parser.add_argument("--rounds", type=int, default=2, help="times to run every measurement")
    parser.add_argument("--profile", action="store_true", help="profile one more rebuild")
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
        events = fill_event_store(container, arguments.complaints, arguments.group)
        print(f"saved {events:,} events in {time.perf_counter() - started:.1f} s")
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE complaints_events")

        print(f"load average (1 min) before: {load_average()}")
        for round_number in range(1, arguments.rounds + 1):
            print(f"round {round_number}, batch size {arguments.batch_size:,}:")
            started = time.perf_counter()
            read = read_all(container, arguments.batch_size, decode=False)
            read_rate = timed("read", read, time.perf_counter() - started, None)
            started = time.perf_counter()
            decoded = read_all(container, arguments.batch_size, decode=True)
            timed("read+decode", decoded, time.perf_counter() - started, read_rate)
            started = time.perf_counter()
            cpu_started = time.process_time()
            rebuilt = rebuild_complaints(container, arguments.batch_size)
            seconds = time.perf_counter() - started
            timed("rebuild", rebuilt, seconds, read_rate, time.process_time() - cpu_started)
            assert read == decoded == rebuilt == events, (read, decoded, rebuilt, events)

        print(f"load average (1 min) after: {load_average()}")
        if arguments.profile:
            profile_rebuild(container, arguments.batch_size)
        container.close()
    finally:
        with psycopg.connect(SERVER, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
