"""A cheap check of a pooled PostgreSQL connection before each use.

A server restart, a failover or ``pg_terminate_backend`` ends the backends behind every
pooled connection. Unchecked, each of those connections fails the one request that next
takes it from the pool. psycopg_pool's own check runs an empty query on every checkout.
That round trip costs the client about as much CPU as a short statement, which is an
estimate from the ``SELECT 1`` timing in docs/benchmarks.md (0.16 ms of thread CPU).

An idle backend sends nothing unless something happens to it. When it is ended, it
sends an error message and closes the socket. So this check first polls the idle
connection's socket, without waiting, and runs the full check only when the socket has
something to read.

A connection that fails the full check means the server probably ended every backend.
psycopg_pool (3.3) retries a checkout at once after its first failed check, then after
pauses of about 1, 2, 4 seconds and so on. Taking the dead connections one by one would
add those pauses up, so the check also has the pool test all its idle connections at
once (``ConnectionPool.check``), and the immediate retry finds a live one.

NOTE: a connection cut without a close (a network partition, a host that lost power)
leaves nothing to read, so it still fails the request that next takes it.
"""

from __future__ import annotations

import logging
import select
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

logger = logging.getLogger(__name__)


class ReadableSocketCheck:
    """A pool's ``check`` callback that runs a full check only on a readable socket.

    ``pool`` is the pool whose idle connections are tested once one fails. It may be set
    after the pool is built, because the pool takes its check when it is built.
    """

    def __init__(self, pool: ConnectionPool[Any] | None = None) -> None:
        self.pool = pool

    def __call__(self, connection: psycopg.Connection[Any]) -> None:
        readable, _, _ = select.select([connection.fileno()], [], [], 0)
        if not readable:
            return
        try:
            ConnectionPool.check_connection(connection)
        except psycopg.Error:
            if self.pool is not None:
                self._replace_lost(self.pool)
            raise

    @staticmethod
    def _replace_lost(pool: ConnectionPool[Any]) -> None:
        """Test every idle connection of ``pool`` and log how many were lost besides this one."""
        logger.warning("pool %s lost a connection; testing the idle ones", pool.name)
        lost_before = pool.get_stats().get("connections_lost", 0)
        pool.check()
        lost = pool.get_stats().get("connections_lost", 0) - lost_before
        logger.info("pool %s replaced %d more lost idle connections", pool.name, lost)


__all__ = ["ReadableSocketCheck"]
