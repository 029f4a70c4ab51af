"""The readiness report that ``GET /readyz`` returns."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from cms_graph.bootstrap import Container
from cms_graph.health.broker import BrokerProbe
from cms_graph.health.store import ProjectionProgress, read_store_progress

logger = logging.getLogger(__name__)


def readiness(
    container: Container, broker: BrokerProbe, now: datetime | None = None
) -> dict[str, Any]:
    """Check the event store, the broker and the projections' lag age.

    The report is not ready when the database or the broker cannot be reached within
    CMS_PROBE_TIMEOUT_SECONDS, or when a projection has not applied an event recorded
    more than CMS_READY_MAX_LAG_SECONDS ago (unless that setting is 0).
    """
    settings = container.settings
    report: dict[str, Any] = {"ready": True, "checks": {}, "projections": {}}
    names = [runner.name for runner in container.projections]
    progress: list[ProjectionProgress] | None = None
    try:
        database = container.database
        with database.probe(settings.probe_timeout_seconds) as cursor:
            progress = read_store_progress(
                cursor, container.event_store, database.dialect, names, now or datetime.now(UTC)
            )
        report["checks"]["eventStore"] = "ok"
    except Exception as error:  # any failure means not ready, and the probe must return
        logger.warning("readiness: event store unreachable: %s", error)
        report["checks"]["eventStore"] = f"failed: {type(error).__name__}"
        report["ready"] = False

    report["checks"]["broker"] = broker.status()
    if report["checks"]["broker"] != "ok":
        report["ready"] = False

    if progress is None:
        report["checks"]["projectionLag"] = "unknown: the event store is unreachable"
        for name in names:
            report["projections"][name] = {"position": None, "lag": None, "lagSeconds": None}
        return report
    for entry in progress:
        report["projections"][entry.name] = {
            "position": entry.position,
            "lag": entry.lag_events,
            "lagSeconds": round(entry.lag_seconds, 3),
        }
    report["checks"]["projectionLag"] = lag_check(progress, settings.ready_max_lag_seconds)
    if report["checks"]["projectionLag"].startswith("failed"):
        report["ready"] = False
    return report


class _LagReports:
    """The projections this process last reported as lagging, so that each readiness
    probe logs only changes: a projection falling behind, and one catching up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._behind: set[str] = set()

    def update(self, behind: set[str]) -> tuple[set[str], set[str]]:
        """Record the projections behind now; return those newly behind and those recovered."""
        with self._lock:
            newly_behind, recovered = behind - self._behind, self._behind - behind
            self._behind = set(behind)
        return newly_behind, recovered


_lag_reports = _LagReports()


def lag_check(progress: list[ProjectionProgress], max_lag_seconds: float) -> str:
    """Return ``ok``, ``off``, or ``failed: …`` naming each projection whose lag age
    exceeds ``max_lag_seconds``.

    A projection is logged once when it falls behind the limit and once when it is back
    within it, not at every probe.
    """
    if max_lag_seconds == 0:
        return "off"
    behind = [entry for entry in progress if entry.lag_seconds > max_lag_seconds]
    newly_behind, recovered = _lag_reports.update({entry.name for entry in behind})
    for entry in behind:
        if entry.name in newly_behind:
            logger.warning(
                "readiness: projection %s has not applied an event recorded %.0f s ago"
                " (%d events behind, limit %g s)",
                entry.name,
                entry.lag_seconds,
                entry.lag_events,
                max_lag_seconds,
            )
    for name in sorted(recovered):
        logger.info("readiness: projection %s is within the lag limit again", name)
    if not behind:
        return "ok"
    details = ", ".join(f"{entry.name} {entry.lag_seconds:.0f} s" for entry in behind)
    return (
        f"failed: oldest unapplied event older than {max_lag_seconds:g} s in {details};"
        " check that the workers run"
    )


__all__ = ["lag_check", "readiness"]
