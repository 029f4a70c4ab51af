"""The readiness lag check logs a projection when it falls behind and when it recovers."""

from __future__ import annotations

import logging

import pytest

from cms_graph.health import readiness
from cms_graph.health.readiness import lag_check
from cms_graph.health.store import ProjectionProgress


def progress(name: str, seconds: float) -> ProjectionProgress:
    return ProjectionProgress(name=name, position=1, lag_events=3, lag_seconds=seconds)


@pytest.fixture(autouse=True)
def fresh_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readiness, "_lag_reports", readiness._LagReports())


def test_lagging_projection_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cms_graph.health.readiness")
    probes = [
        [progress("escalations", 400), progress("audit_trail", 1)],
        [progress("escalations", 410), progress("audit_trail", 1)],
        [progress("escalations", 420), progress("audit_trail", 500)],
        [progress("escalations", 0), progress("audit_trail", 0)],
    ]

    results = [lag_check(probe, 300) for probe in probes]

    assert results[0].startswith("failed: ")
    assert "escalations 400 s" in results[0]
    assert "audit_trail 500 s" in results[2]
    assert results[3] == "ok"
    assert caplog.messages == [
        "readiness: projection escalations has not applied an event recorded 400 s ago"
        " (3 events behind, limit 300 s)",
        "readiness: projection audit_trail has not applied an event recorded 500 s ago"
        " (3 events behind, limit 300 s)",
        "readiness: projection audit_trail is within the lag limit again",
        "readiness: projection escalations is within the lag limit again",
    ]


def test_lag_check_off_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cms_graph.health.readiness")

    assert lag_check([progress("escalations", 4000)], 0) == "off"
    assert caplog.messages == []
