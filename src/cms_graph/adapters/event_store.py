"""The event store: an ``eventsourcing`` application on SQLite or PostgreSQL.

Complaint events are stored by the library in ``complaints_events``; its notification
log (the global order of all events) is what the projections follow.
"""

from __future__ import annotations

import base64
from datetime import date
from typing import Any
from urllib.parse import unquote, urlsplit
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding

from cms_graph.domain.access_record import AccessRecord
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.deadlines import DeadlinePlan
from cms_graph.domain.errors import Conflict
from cms_graph.domain.values import Actor

# The library names tables and the NOTIFY channel after the application: complaints_events.
STORE_NAME = "Complaints"
EVENTS_TABLE = "complaints_events"


class ActorAsDict(Transcoding):
    type = Actor
    name = "actor"

    def encode(self, obj: Actor) -> dict[str, str | None]:
        return obj.to_dict()

    def decode(self, data: dict[str, str | None]) -> Actor:
        return Actor.from_dict(data)


class DeadlinePlanAsDict(Transcoding):
    type = DeadlinePlan
    name = "deadline_plan"

    def encode(self, obj: DeadlinePlan) -> dict[str, str]:
        return obj.to_dict()

    def decode(self, data: dict[str, str]) -> DeadlinePlan:
        return DeadlinePlan.from_dict(data)


class BytesAsBase64(Transcoding):
    type = bytes
    name = "bytes_b64"

    def encode(self, obj: bytes) -> str:
        return base64.b64encode(obj).decode("ascii")

    def decode(self, data: str) -> bytes:
        return base64.b64decode(data)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class ComplaintEventStore(Application[UUID]):
    """Stores and loads ``Complaint`` aggregates.

    Enum fields are ``StrEnum`` values, which JSON writes as plain strings; the aggregate
    converts them back when applying events, so they need no transcoding.
    """

    name = STORE_NAME

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(ActorAsDict())
        transcoder.register(BytesAsBase64())
        transcoder.register(DateAsISO())
        transcoder.register(DeadlinePlanAsDict())

    def get_complaint(self, complaint_id: UUID, version: int | None = None) -> Complaint:
        complaint: Complaint = self.repository.get(complaint_id, version=version)
        return complaint

    def save_complaint(self, complaint: Complaint) -> int:
        """Save pending events; return the highest notification id written.

        Raises Conflict when another command saved an event at the same version first.
        """
        try:
            recordings = self.save(complaint)
        except IntegrityError:
            raise Conflict(
                f"complaint {complaint.tracking_number} was changed by someone else; "
                "reload it and try again"
            ) from None
        ids = [recording.notification.id for recording in recordings]
        return max(ids) if ids else 0


def save_access_record(store: ComplaintEventStore, record: AccessRecord) -> int:
    """Save a new access record; return its notification id."""
    recordings = store.save(record)
    return max(recording.notification.id for recording in recordings)


def event_store_env(
    *, database_url: str | None, sqlite_path: str, create_table: bool = True
) -> dict[str, str]:
    """Translate this project's settings into the library's environment keys."""
    if database_url is None:
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": sqlite_path,
            "SQLITE_LOCK_TIMEOUT": "30",
            "CREATE_TABLE": "y" if create_table else "n",
        }
    parts = urlsplit(database_url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/") or "postgres",
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_POOL_SIZE": "10",
        "POSTGRES_MAX_OVERFLOW": "10",
        "POSTGRES_LOCK_TIMEOUT": "10",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "30",
        # Off on purpose: in eventsourcing 9.5.6 the database function mixes the tables
        # of several applications and ignores tracking records.
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        # Concurrent saves of this process share one transaction, table lock and NOTIFY.
        "APPLICATION_RECORDER_TOPIC": "cms_graph.adapters.group_commit:GroupCommitRecorder",
        "CREATE_TABLE": "y" if create_table else "n",
    }
    return env


def open_event_store(env: dict[str, Any]) -> ComplaintEventStore:
    return ComplaintEventStore(env=env)


__all__ = ["EVENTS_TABLE", "ComplaintEventStore", "event_store_env", "open_event_store"]
