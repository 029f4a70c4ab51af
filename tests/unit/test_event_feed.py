"""The event feed's fan-out, resume seam and overflow, on an in-memory notification log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID, uuid4

import pytest

from cms_graph.application.event_feed import EventFeed, FeedItem, LogBatch, SubscriberTooSlow

T = TypeVar("T")
# Bounds every wait, so a broken feed fails the test instead of hanging it.
WAIT_SECONDS = 10.0
COMPLAINT = uuid4()
OTHER_COMPLAINT = uuid4()


class MemoryLog:
    """A notification log in a list; ``skipped`` positions are events of other kinds."""

    def __init__(self) -> None:
        self.items: list[FeedItem] = []
        self.skipped: set[int] = set()
        self.head_position = 0

    def append(self, complaint_id: UUID = COMPLAINT, event_type: str = "NoteAdded") -> int:
        self.head_position += 1
        self.items.append(
            FeedItem(
                position=self.head_position,
                complaint_id=complaint_id,
                event_type=event_type,
                occurred_at=datetime.now(UTC),
                version=self.head_position,
            )
        )
        return self.head_position

    def append_other(self) -> int:
        self.head_position += 1
        self.skipped.add(self.head_position)
        return self.head_position

    def head(self) -> int:
        return self.head_position

    def read_after(self, position: int, limit: int, stop: int | None = None) -> LogBatch:
        end = min(self.head_position, position + limit)
        if stop is not None:
            end = min(end, stop)
        items = [item for item in self.items if position < item.position <= end]
        return LogBatch(items, max(position, end))


async def within(awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, WAIT_SECONDS)


async def take(stream: AsyncIterator[FeedItem], count: int) -> list[int]:
    positions = []
    for _ in range(count):
        positions.append((await within(anext(stream))).position)
    return positions


async def reached(feed: EventFeed, position: int) -> None:
    while feed.position < position:
        await asyncio.sleep(0.01)


async def registered(stream: AsyncIterator[FeedItem]) -> asyncio.Future[FeedItem]:
    """Start waiting for the stream's next item; return once it listens (feed started)."""
    pending = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    return pending


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(test())


def everything(_item: FeedItem) -> bool:
    return True


def test_feed_resume_replays_then_follows() -> None:
    async def scenario() -> None:
        log = MemoryLog()
        for _ in range(3):
            log.append()
        log.append_other()
        log.append(OTHER_COMPLAINT)
        feed = EventFeed(log, poll_seconds=60, batch_size=2)
        stream = feed.stream(after=1, wanted=lambda item: item.complaint_id == COMPLAINT)

        replayed = await take(stream, 2)
        log.append()
        log.append()
        feed.wake()
        live = await take(stream, 2)

        assert replayed == [2, 3]
        assert live == [6, 7]
        await stream.aclose()
        await feed.stop()

    run(scenario)


def test_feed_without_after_starts_now() -> None:
    async def scenario() -> None:
        log = MemoryLog()
        log.append()
        feed = EventFeed(log, poll_seconds=60)
        await within(feed.start())
        stream = feed.stream(after=None, wanted=everything)
        pending = await registered(stream)

        log.append()
        feed.wake()

        assert (await within(pending)).position == 2
        await stream.aclose()
        await feed.stop()

    run(scenario)


def test_feed_seam_has_no_duplicate() -> None:
    async def scenario() -> None:
        log = MemoryLog()
        feed = EventFeed(log, poll_seconds=60)
        await within(feed.start())
        # The live queue and the replay range meet at the feed's position; items in both
        # (a resume from before the feed's start) are delivered once.
        log.append()
        log.append()
        feed.wake()
        await within(reached(feed, 2))
        first = feed.stream(after=None, wanted=everything)
        log.append()
        feed.wake()
        assert await take(first, 1) == [3]

        resumed = feed.stream(after=0, wanted=everything)
        positions = await take(resumed, 3)
        log.append()
        feed.wake()
        positions += await take(resumed, 1)

        assert positions == [1, 2, 3, 4]
        await first.aclose()
        await resumed.aclose()
        await feed.stop()

    run(scenario)


def test_feed_overflow_ends_slow_subscriber() -> None:
    async def scenario() -> None:
        log = MemoryLog()
        feed = EventFeed(log, poll_seconds=60, queue_size=2)
        await within(feed.start())
        slow = feed.stream(after=None, wanted=everything)
        fast = feed.stream(after=None, wanted=everything)
        slow_first = await registered(slow)
        fast_first = await registered(fast)

        log.append()
        feed.wake()
        assert (await within(slow_first)).position == 1
        assert (await within(fast_first)).position == 1
        # The slow subscriber takes nothing while five more events arrive.
        fast_positions = []
        for _ in range(5):
            log.append()
            feed.wake()
            fast_positions += await take(fast, 1)

        assert fast_positions == [2, 3, 4, 5, 6]
        assert await take(slow, 2) == [2, 3]
        with pytest.raises(SubscriberTooSlow) as raised:
            await within(anext(slow))
        assert raised.value.extensions == {"resumeAfter": 3}
        assert raised.value.code == "RATE_LIMITED"
        assert feed.subscriber_count == 1
        await fast.aclose()
        await feed.stop()

    run(scenario)


def test_feed_stop_completes_streams() -> None:
    async def scenario() -> None:
        log = MemoryLog()
        feed = EventFeed(log, poll_seconds=60)
        await within(feed.start())
        stream = feed.stream(after=None, wanted=everything)
        pending = await registered(stream)

        await feed.stop()

        with pytest.raises(StopAsyncIteration):
            await within(pending)

    run(scenario)


def test_feed_retries_after_read_failure() -> None:
    async def scenario() -> None:
        log = MemoryLog()
        feed = EventFeed(log, poll_seconds=60)
        await within(feed.start())
        stream = feed.stream(after=None, wanted=everything)
        pending = await registered(stream)
        read_after = log.read_after

        def failing_read(position: int, limit: int, stop: int | None = None) -> LogBatch:
            log.read_after = read_after  # type: ignore[method-assign]  # fail once only
            raise ConnectionError("database went away")

        log.read_after = failing_read  # type: ignore[method-assign]  # simulate an outage
        log.append()
        feed.wake()
        while log.read_after is failing_read:
            await asyncio.sleep(0.01)
        feed.wake()

        assert (await within(pending)).position == 1
        await stream.aclose()
        await feed.stop()

    run(scenario)


def test_feed_restarts_in_new_loop() -> None:
    log = MemoryLog()
    feed = EventFeed(log, poll_seconds=60)

    async def first_loop() -> None:
        await within(feed.start())
        await feed.stop()

    async def second_loop() -> list[int]:
        log.append()
        stream = feed.stream(after=0, wanted=everything)
        positions = await take(stream, 1)
        await stream.aclose()
        await feed.stop()
        return positions

    asyncio.run(first_loop())

    assert asyncio.run(second_loop()) == [1]
