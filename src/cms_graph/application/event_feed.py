"""One reader of the notification log per process, fanning new events out to subscribers.

Every API process reads the same shared log, so a change committed through any process
reaches the subscribers of every process. The feed wakes when notified that something was
committed (PostgreSQL NOTIFY, or a commit in this process) and at least every
``poll_seconds``, then reads everything after the last position it saw.

Each subscriber has its own bounded queue, and the feed never waits for a subscriber: one
whose queue is full is dropped and its stream raises ``SubscriberTooSlow`` with the last
position it processed, so the client resubscribes from there and loses nothing.

A stream may start ``after`` an earlier position. It first replays the matching events
from the log up to the position where its live queue starts, then continues from the
queue. Both parts are ordered by position and the stream skips any position it already
passed, so the seam has neither a gap nor a duplicate.

Usage::

    async for item in feed.stream(after=41, wanted=lambda item: item.complaint_id == key):
        ...  # item.position is 42 or later, each position at most once, in log order
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from cms_graph.domain.errors import DomainError

logger = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 1000
DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True)
class FeedItem:
    """One complaint event from the log, with its position (the notification id)."""

    position: int
    complaint_id: UUID
    event_type: str
    occurred_at: datetime
    version: int


@dataclass(frozen=True)
class LogBatch:
    """Complaint events read from the log, and the last position read.

    ``last_position`` may be past the last item, because the log also contains events
    that are not about complaints (access records), which the feed skips.
    """

    items: list[FeedItem]
    last_position: int


class NotificationLog(Protocol):
    def head(self) -> int:
        """Return the highest position in the log, 0 when it is empty."""
        ...

    def read_after(self, position: int, limit: int, stop: int | None = None) -> LogBatch:
        """Return up to ``limit`` notifications after ``position`` and up to ``stop``."""
        ...


class CommitListener(Protocol):
    """Calls ``wake`` when another process commits; started and stopped by the feed."""

    async def run(self, wake: Callable[[], None]) -> None: ...


class SubscriberTooSlow(DomainError):
    """Raised in a stream whose subscriber fell behind by more than its queue holds.

    ``extensions`` carries ``resumeAfter``, the last position the stream processed, which
    the client passes as ``after`` when it subscribes again.
    """

    code = "RATE_LIMITED"

    def __init__(self, last_position: int, queue_size: int) -> None:
        super().__init__(
            f"the subscription fell more than {queue_size} events behind and was ended;"
            f" subscribe again with after: {last_position} to continue without a gap"
        )
        self.extensions = {"resumeAfter": last_position}


class _Signal:
    """A sentinel that ends a subscriber's stream."""

    def __init__(self, name: str) -> None:
        self.name = name


_OVERFLOWED = _Signal("overflowed")
_STOPPED = _Signal("stopped")


class _Subscriber:
    def __init__(self, wanted: Callable[[FeedItem], bool], limit: int) -> None:
        self.wanted = wanted
        self.limit = limit
        # Unbounded so that a closing sentinel always fits; offer() enforces the limit.
        self.queue: asyncio.Queue[FeedItem | _Signal] = asyncio.Queue()

    def offer(self, item: FeedItem) -> bool:
        """Queue ``item`` if wanted; return False when the queue is full."""
        if not self.wanted(item):
            return True
        if self.queue.qsize() >= self.limit:
            self.queue.put_nowait(_OVERFLOWED)
            return False
        self.queue.put_nowait(item)
        return True


class EventFeed:
    """The notification-log reader of one process and its subscribers (one per process).

    It starts on the first ``stream`` call, in that call's event loop, at the log's head.
    ``wake`` may be called from any thread.
    """

    def __init__(
        self,
        log: NotificationLog,
        *,
        poll_seconds: float,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        batch_size: int = DEFAULT_BATCH_SIZE,
        commit_listener: CommitListener | None = None,
    ) -> None:
        self._log = log
        self._poll_seconds = poll_seconds
        self.queue_size = queue_size
        self._batch_size = batch_size
        self._commit_listener = commit_listener
        self._subscribers: set[_Subscriber] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake_event: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._start_lock: asyncio.Lock | None = None
        # The last position read from the log; items after it go to the live queues.
        self.position = 0

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def start(self) -> None:
        """Read the log's head and start following it; does nothing when already started."""
        if self._tasks:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._tasks:
                return
            self.position = await asyncio.to_thread(self._log.head)
            self._loop = asyncio.get_running_loop()
            self._wake_event = asyncio.Event()
            self._tasks.append(asyncio.create_task(self._follow(), name="event-feed"))
            if self._commit_listener is not None:
                self._tasks.append(
                    asyncio.create_task(
                        self._commit_listener.run(self.wake), name="event-feed-listener"
                    )
                )
            logger.info("event feed started at position %d", self.position)

    async def stop(self) -> None:
        """Stop reading and end every open stream; a later ``stream`` starts it again."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for subscriber in self._subscribers:
            subscriber.queue.put_nowait(_STOPPED)
        self._subscribers.clear()
        # The next start may run in another event loop, which needs its own lock.
        self._loop, self._start_lock = None, None
        if tasks:
            logger.info("event feed stopped at position %d", self.position)

    def wake(self, _position: int | None = None) -> None:
        """Make the feed read the log now. Safe to call from any thread.

        The optional position makes it usable as a commit listener of the container.
        """
        loop, event = self._loop, self._wake_event
        if loop is None or event is None or loop.is_closed():
            return
        # RuntimeError: the loop closed between the check and the call, so no stream is open.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(event.set)

    async def stream(
        self, *, after: int | None, wanted: Callable[[FeedItem], bool]
    ) -> AsyncIterator[FeedItem]:
        """Yield the wanted items after ``after`` (or from now), in log order, each once.

        Raises SubscriberTooSlow when this stream's queue overflows.
        """
        await self.start()
        subscriber = _Subscriber(wanted, self.queue_size)
        # Registering and reading the position happen without a pause in between, so the
        # queue receives exactly the items after live_from.
        self._subscribers.add(subscriber)
        live_from = self.position
        last = live_from if after is None else after
        try:
            if last < live_from:
                async for item in self.replay(after=last, until=live_from, wanted=wanted):
                    yield item
                    last = item.position
                last = live_from
            while True:
                received = await subscriber.queue.get()
                if received is _OVERFLOWED:
                    raise SubscriberTooSlow(last, self.queue_size)
                if isinstance(received, _Signal):
                    return
                if received.position <= last:
                    continue
                yield received
                last = received.position
        finally:
            self._subscribers.discard(subscriber)

    async def replay(
        self, *, after: int, until: int, wanted: Callable[[FeedItem], bool]
    ) -> AsyncIterator[FeedItem]:
        """Yield the wanted items with positions after ``after`` and up to ``until``."""
        # NOTE: this reads every notification in the range. A resume from far back (after: 0
        # on a log of millions of events) takes as long as reading that much of the log.
        position = after
        while position < until:
            batch = await asyncio.to_thread(self._log.read_after, position, self._batch_size, until)
            for item in batch.items:
                if wanted(item):
                    yield item
            if batch.last_position <= position:
                return
            position = batch.last_position

    async def _follow(self) -> None:
        assert self._wake_event is not None
        failing = False
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_event.wait(), self._poll_seconds)
            self._wake_event.clear()
            try:
                await self._read_new()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the next wake-up retries; the feed must keep running
                if not failing:
                    logger.warning(
                        "event feed could not read the log after position %d, retrying: %s",
                        self.position,
                        error,
                    )
                failing = True
                continue
            if failing:
                logger.info("event feed reads the log again, at position %d", self.position)
                failing = False

    async def _read_new(self) -> None:
        while True:
            batch = await asyncio.to_thread(self._log.read_after, self.position, self._batch_size)
            if batch.last_position <= self.position:
                return
            self._fan_out(batch.items)
            self.position = batch.last_position

    def _fan_out(self, items: Sequence[FeedItem]) -> None:
        for item in items:
            for subscriber in list(self._subscribers):
                if not subscriber.offer(item):
                    self._subscribers.discard(subscriber)
                    logger.warning(
                        "dropped a subscriber more than %d events behind, at position %d",
                        self.queue_size,
                        item.position,
                    )


__all__ = [
    "CommitListener",
    "EventFeed",
    "FeedItem",
    "LogBatch",
    "NotificationLog",
    "SubscriberTooSlow",
]
