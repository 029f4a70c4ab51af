"""Wake the projections when events are committed by any process.

On PostgreSQL the event store sends ``NOTIFY complaints_events`` with each commit, so the
follower LISTENs and wakes at once, polling as well in case a notification is missed
(for example across a reconnect). On SQLite it polls.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from cms_graph.adapters.database import connection_failure_text
from cms_graph.adapters.event_store import EVENTS_TABLE

logger = logging.getLogger(__name__)


class ProjectionFollower:
    def __init__(
        self,
        catch_up: Callable[[], int],
        *,
        database_url: str | None,
        poll_seconds: float,
    ) -> None:
        self._catch_up = catch_up
        self._database_url = database_url
        self._poll_seconds = poll_seconds
        self._stopping = threading.Event()
        # Set once the follower listens (or polls) and has caught up the first time.
        self.ready = threading.Event()
        # True from a lost connection until LISTEN works again, to log the recovery once.
        self._connection_lost = False
        self._thread = threading.Thread(target=self._run, name="projection-follower", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        logger.info(
            "projection follower started (%s)",
            "LISTEN/NOTIFY" if self._database_url else "polling",
        )
        while not self._stopping.is_set():
            try:
                if self._database_url:
                    self._listen(self._database_url)
                else:
                    self._safe_catch_up()
                    self.ready.set()
                    self._stopping.wait(self._poll_seconds)
            except psycopg.OperationalError as error:
                self._connection_lost = True
                logger.warning(
                    "projection follower lost its connection, retrying: %s",
                    connection_failure_text(error),
                )
                self._stopping.wait(self._poll_seconds)
        logger.info("projection follower stopped")

    def _listen(self, url: str) -> None:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f'LISTEN "{EVENTS_TABLE}"')
            if self._connection_lost:
                self._connection_lost = False
                logger.info("projection follower reconnected")
            self._safe_catch_up()
            self.ready.set()
            while not self._stopping.is_set():
                # Wakes on the first notification or after poll_seconds, whichever is first.
                for _ in connection.notifies(timeout=self._poll_seconds, stop_after=1):
                    pass
                self._safe_catch_up()

    def _safe_catch_up(self) -> None:
        try:
            self._catch_up()
        except psycopg.OperationalError:
            raise
        except Exception:
            logger.exception("projection catch-up failed; retrying at the next wake-up")


__all__ = ["ProjectionFollower"]
