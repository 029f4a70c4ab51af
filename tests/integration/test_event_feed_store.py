"""The event feed on a real event store: decoding the log, and waking on PostgreSQL NOTIFY."""

from __future__ import annotations

import asyncio

from cms_graph.adapters.notification_log import PostgresCommitListener, StoreNotificationLog
from cms_graph.application.event_feed import EventFeed
from cms_graph.application.identity import Principal
from cms_graph.bootstrap import Container
from tests.factories import COMPLAINT_CELL, SDPO, lodge_command

# Bounds the wait for an item, so a feed that never wakes fails the test.
WAIT_SECONDS = 30.0


def test_log_reads_complaint_events_only(container: Container) -> None:
    lodged = container.complaints.lodge(Principal.anonymous(), lodge_command())
    complaint_id = lodged.complaint_id
    record = container.queries.get_record(complaint_id)
    # Reading the complainant's details stores an access record in the same log.
    container.queries.complainant(COMPLAINT_CELL, record)
    container.complaints.add_note(SDPO, complaint_id, text="Called back.", internal=True)
    log = StoreNotificationLog(container.event_store)

    batch = log.read_after(0, 100)
    first_only = log.read_after(0, 100, stop=batch.items[0].position)

    assert [item.event_type for item in batch.items] == ["ComplaintLodged", "NoteAdded"]
    assert [item.version for item in batch.items] == [1, 2]
    assert all(item.complaint_id == complaint_id for item in batch.items)
    assert batch.last_position == log.head()
    assert batch.items[1].position - batch.items[0].position == 2
    assert [item.event_type for item in first_only.items] == ["ComplaintLodged"]
    assert log.read_after(batch.last_position, 100).items == []


def test_notify_wakes_event_feed(postgres_container: Container) -> None:
    url = postgres_container.settings.database_url
    assert url is not None
    # A poll interval far beyond the wait: only the LISTEN connection can wake this feed,
    # and it is not among the container's commit listeners.
    feed = EventFeed(
        StoreNotificationLog(postgres_container.event_store),
        poll_seconds=3600,
        commit_listener=PostgresCommitListener(url, retry_seconds=1),
    )

    async def scenario() -> tuple[str, int]:
        await asyncio.wait_for(feed.start(), WAIT_SECONDS)
        stream = feed.stream(after=None, wanted=lambda _item: True)
        pending = asyncio.ensure_future(anext(stream))
        # One turn of the loop registers the stream, because the feed has started.
        await asyncio.sleep(0)
        await asyncio.to_thread(
            postgres_container.complaints.lodge, Principal.anonymous(), lodge_command()
        )
        try:
            item = await asyncio.wait_for(pending, WAIT_SECONDS)
        finally:
            await stream.aclose()
            await feed.stop()
        return item.event_type, item.position

    event_type, position = asyncio.run(scenario())

    assert event_type == "ComplaintLodged"
    assert position == postgres_container.event_store.recorder.max_notification_id()
