"""Shared inline catch-up: the threads of a process wait for one thread's batches.

A command brings the complaint view up to its own commit before it returns, so that the
mutation can read the complaint back (read-your-writes). When each request ran its own
catch-up, concurrent requests queued on the runner's batch lock and most of the batches
they ran found nothing left to do. Here one thread at a time runs the batches, up to the
highest notification id that any waiting thread has asked for, while the others wait on a
condition until a finished round covers their id.
"""

from __future__ import annotations

import logging
import threading

from cms_graph.projections.runner import ProjectionRunner

logger = logging.getLogger(__name__)


class InlineCatchUp:
    """Brings one projection up to a notification id for the threads of one process."""

    def __init__(self, runner: ProjectionRunner) -> None:
        self.runner = runner
        self._changed = threading.Condition(threading.Lock())
        self._running = False
        # The highest notification id a thread has asked for.
        self._requested = 0
        # A position this process has seen committed; the projection may be further on.
        self._applied_through = 0
        # The target of the last round that ended, whether its batches succeeded or not.
        self._attempted_through = 0

    def wait_for(self, notification_id: int) -> bool:
        """Return once the projection includes ``notification_id``, or once a round that
        should have included it failed; return whether it is included.

        It does not raise. A failed round is logged, and the workers' follower catches up.
        The caller's notification must be committed before the call, because a round
        run for a later id then includes it too: ids commit in their own order.
        """
        with self._changed:
            self._requested = max(self._requested, notification_id)
            while (
                self._applied_through < notification_id
                and self._attempted_through < notification_id
            ):
                if self._running:
                    self._changed.wait()
                    continue
                self._run_round()
            return self._applied_through >= notification_id

    def _run_round(self) -> None:
        """Catch up to the highest id requested so far, outside the condition's lock.

        Called, and returns, with the lock held.
        """
        self._running = True
        target = self._requested
        self._changed.release()
        position: int | None = None
        try:
            self.runner.catch_up(until=target)
            # catch_up returns once the position reaches the target, or once nothing is
            # left to apply, which also means the target is in: it was committed first.
            position = target
        except Exception:
            logger.exception(
                "inline catch-up of projection %s to notification %d failed",
                self.runner.name,
                target,
            )
        finally:
            self._changed.acquire()
            self._running = False
            self._attempted_through = max(self._attempted_through, target)
            if position is not None:
                self._applied_through = max(self._applied_through, position)
            self._changed.notify_all()


__all__ = ["InlineCatchUp"]
