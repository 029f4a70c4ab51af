"""Tampering with stored events is detected at the right position, on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import psycopg
import pytest

from cms_graph.application.audit_verification import AuditVerifier
from cms_graph.application.identity import Principal
from cms_graph.bootstrap import Container
from tests.factories import SDPO, lodge_command


def history(container: Container) -> list[UUID]:
    """Write 12 events over three complaints and chain them; return the complaint ids."""
    keys = []
    for _ in range(3):
        key = container.complaints.lodge(Principal.anonymous(), lodge_command()).complaint_id
        container.complaints.acknowledge(SDPO, key, None)
        container.complaints.assign(
            SDPO, key, officer_id="officer-1", unit_id="pb_lahore-c1", reason=None
        )
        container.complaints.add_note(SDPO, key, text="checked", internal=True)
        keys.append(key)
    container.catch_up_all()
    return keys


def verifier(container: Container) -> AuditVerifier:
    return AuditVerifier(
        container.event_store, container.database, container.settings.audit_signing_key()
    )


@pytest.fixture
def admin(postgres_container: Container) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A superuser connection with the append-only trigger off, as a rogue administrator."""
    url = postgres_container.settings.database_url or ""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "ALTER TABLE complaints_events DISABLE TRIGGER complaints_events_append_only"
        )
        yield connection


def event_at(
    connection: psycopg.Connection[tuple[object, ...]], position: int
) -> tuple[UUID, int, bytes]:
    row = connection.execute(
        "SELECT originator_id, originator_version, state FROM complaints_events"
        " WHERE notification_id = %s",
        (position,),
    ).fetchone()
    assert row is not None
    return row  # type: ignore[return-value]


def test_intact_log_verifies(postgres_container: Container) -> None:
    history(postgres_container)
    report = verifier(postgres_container).verify()
    assert report.intact
    assert report.verified == 12
    assert report.pending == 0
    assert report.checkpoints >= 1


def test_unchained_events_pending(postgres_container: Container) -> None:
    history(postgres_container)
    # Lodging brings only the complaint view up to date; the chain waits for the workers.
    postgres_container.complaints.lodge(Principal.anonymous(), lodge_command())
    report = verifier(postgres_container).verify()
    assert report.intact
    assert report.verified == 12
    assert report.pending == 1


def test_edited_event_detected(
    postgres_container: Container, admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    history(postgres_container)
    originator, _version, state = event_at(admin, 6)
    admin.execute(
        "UPDATE complaints_events SET state = %s WHERE notification_id = 6",
        (state.replace(b"pb_lahore-c1", b"pb_lahore-c2"),),
    )
    finding = verifier(postgres_container).verify().finding
    assert finding is not None
    assert finding.position == 6
    assert finding.aggregate_id == originator
    assert "edited" in finding.problem


def test_deleted_event_detected(
    postgres_container: Container, admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    history(postgres_container)
    originator, _version, _state = event_at(admin, 8)
    admin.execute("DELETE FROM complaints_events WHERE notification_id = 8")
    finding = verifier(postgres_container).verify().finding
    assert finding is not None
    assert finding.position == 8
    assert finding.aggregate_id == originator
    assert "deleted" in finding.problem


def test_inserted_event_detected(
    postgres_container: Container, admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    keys = history(postgres_container)
    # A gap in the sequence, as a rolled-back insert leaves; the forger fills it later.
    (gap,) = admin.execute("SELECT nextval('complaints_events_notification_id_seq')").fetchone()  # type: ignore[misc]
    postgres_container.complaints.add_note(SDPO, keys[0], text="after the gap", internal=True)
    postgres_container.catch_up_all()
    _originator, _version, state = event_at(admin, 4)
    admin.execute(
        "INSERT INTO complaints_events (originator_id, originator_version, topic, state,"
        " notification_id) SELECT originator_id, 99, topic, state, %s FROM complaints_events"
        " WHERE notification_id = 4",
        (gap,),
    )
    finding = verifier(postgres_container).verify().finding
    assert finding is not None
    assert finding.position == gap
    assert "inserted" in finding.problem


def test_swapped_events_detected(
    postgres_container: Container, admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    history(postgres_container)
    first = event_at(admin, 5)
    second = event_at(admin, 9)
    # Swap the two rows' positions in the global order.
    admin.execute("UPDATE complaints_events SET notification_id = -5 WHERE notification_id = 5")
    admin.execute("UPDATE complaints_events SET notification_id = 5 WHERE notification_id = 9")
    admin.execute("UPDATE complaints_events SET notification_id = 9 WHERE notification_id = -5")
    assert event_at(admin, 5) == second
    finding = verifier(postgres_container).verify().finding
    assert finding is not None
    assert finding.position == 5
    assert finding.aggregate_id == second[0]
    assert first[0] != second[0] or first[1] != second[1]


def test_rewritten_chain_caught_by_checkpoint(
    postgres_container: Container, admin: psycopg.Connection[tuple[object, ...]]
) -> None:
    from cms_graph.adapters.hash_chain import GENESIS, event_digest, next_link

    history(postgres_container)
    _originator, _version, state = event_at(admin, 3)
    admin.execute(
        "UPDATE complaints_events SET state = %s WHERE notification_id = 3",
        (state.replace(b"SDPO", b"IGP"),),
    )
    # Recompute every link after the edit, as a forger without the signing key would.
    previous = GENESIS
    rows = admin.execute(
        "SELECT notification_id, originator_id, originator_version, topic, state"
        " FROM complaints_events ORDER BY notification_id"
    ).fetchall()
    for position, originator, version, topic, body in rows:
        digest = event_digest(position, originator, version, topic, body)  # type: ignore[arg-type]
        previous = next_link(previous, digest)
        admin.execute(
            "UPDATE audit_chain SET event_hash = %s, chain_hash = %s WHERE notification_id = %s",
            (digest, previous, position),
        )
    finding = verifier(postgres_container).verify().finding
    assert finding is not None
    assert "checkpoint" in finding.problem


def test_app_role_cannot_change_events(postgres_container: Container) -> None:
    history(postgres_container)
    url = postgres_container.settings.database_url or ""
    app_url = url.replace("postgres@", "cms_graph_app@", 1)
    with psycopg.connect(app_url, autocommit=True) as connection:
        assert connection.execute("SELECT COUNT(*) FROM complaints_events").fetchone() == (12,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute(
                "UPDATE complaints_events SET state = state WHERE notification_id = 1"
            )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute("DELETE FROM complaints_events WHERE notification_id = 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            connection.execute("TRUNCATE complaints_events")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute(
                "ALTER TABLE complaints_events DISABLE TRIGGER complaints_events_no_truncate"
            )


def test_owner_blocked_by_trigger(postgres_container: Container) -> None:
    history(postgres_container)
    url = postgres_container.settings.database_url or ""
    with psycopg.connect(url, autocommit=True) as connection:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            connection.execute("DELETE FROM complaints_events WHERE notification_id = 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            connection.execute("UPDATE complaints_events SET state = state")


def test_sqlite_trigger_blocks_changes(sqlite_container: Container) -> None:
    import sqlite3

    history(sqlite_container)
    connection = sqlite3.connect(sqlite_container.settings.sqlite_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        connection.execute("DELETE FROM stored_events")
    assert verifier(sqlite_container).verify().intact
