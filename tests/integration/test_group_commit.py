"""Group commit on PostgreSQL: concurrent saves share a transaction, each keeps its outcome."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, Notification, PersistenceError, StoredEvent

from cms_graph.adapters import group_commit
from cms_graph.adapters.group_commit import GroupCommitRecorder, SaveRequest
from cms_graph.adapters.policy_files import load_policy
from cms_graph.application.identity import Principal
from cms_graph.bootstrap import Container
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.ladder import Rank
from cms_graph.domain.tracking_number import new_tracking_number
from cms_graph.domain.values import Actor, Channel, ComplaintCategory, Language
from tests.factories import COMPLAINT_CELL, SDPO, lodge_command

WRITERS = 16
LODGINGS_PER_WRITER = 6


def recorder_of(container: Container) -> GroupCommitRecorder:
    recorder = container.event_store.recorder
    assert isinstance(recorder, GroupCommitRecorder)
    return recorder


def pending_events(container: Container, complaint: Complaint) -> list[StoredEvent]:
    """Take the aggregate's new events and encode them as the store would."""
    mapper = container.event_store.mapper
    return [mapper.to_stored_event(event) for event in complaint.collect_events()]


def lodged_complaint(container: Container) -> Complaint:
    """Return a new, unsaved complaint with its ComplaintLodged event pending."""
    return Complaint.lodge(
        complaint_id=uuid4(),
        tracking_number=new_tracking_number("LHR"),
        category=ComplaintCategory.BRIBERY,
        description="The clerk asked for money to register the report.",
        district_id="pb_lahore",
        station_id="pb_lahore-c1-ps1",
        unit_id="pb_lahore-c1",
        incident_at=None,
        language=Language.UR,
        complainant_sealed=b"sealed",
        phone_digest="0" * 64,
        deadline_plan=load_policy(None).plan_for(ComplaintCategory.BRIBERY),
        holder_rank=Rank.CIRCLE,
        actor=Actor.complainant(),
        channel=Channel.WEB_PORTAL,
        occurred_at=container.clock.now(),
    )


def acknowledged(container: Container, complaint_id: UUID) -> Complaint:
    """Load the complaint and acknowledge it, leaving the new event unsaved."""
    complaint = container.event_store.get_complaint(complaint_id)
    complaint.acknowledge(note=None, **container.complaints._context(SDPO))
    return complaint


def stored_rows(url: str) -> list[tuple[int, UUID, int, str]]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT notification_id, originator_id, originator_version, xmin::text"
            " FROM complaints_events ORDER BY notification_id"
        ).fetchall()
    return [(row[0], row[1], row[2], row[3]) for row in rows]


def tail_log(container: Container, stop: threading.Event) -> list[Notification]:
    """Read the log as a projection does, from the last id seen, until ``stop`` is set."""
    seen: list[Notification] = []
    last = 0
    recorder = container.event_store.recorder
    while True:
        stopping = stop.is_set()
        batch = recorder.select_notifications(start=last, limit=50, inclusive_of_start=False)
        seen.extend(batch)
        if batch:
            last = batch[-1].id
        elif stopping:
            return seen


def test_concurrent_lodgings_keep_log_order(
    postgres_container: Container, postgres_url: str
) -> None:
    check_concurrent_lodgings(postgres_container, postgres_url)


def test_small_groups_keep_log_order(
    postgres_container: Container, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One event per group, so callers queue behind several groups and hand the lead on.
    monkeypatch.setattr(group_commit, "MAX_GROUP_EVENTS", 1)
    check_concurrent_lodgings(postgres_container, postgres_url)
    rows = stored_rows(postgres_url)
    assert len({row[3] for row in rows}) == len(rows)


def check_concurrent_lodgings(container: Container, postgres_url: str) -> None:
    """Lodge from many threads while a reader tails the log, and check both."""
    results: list[tuple[UUID, int]] = []
    unseen: list[UUID] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(WRITERS)

    def lodge_several() -> None:
        barrier.wait()
        try:
            for _ in range(LODGINGS_PER_WRITER):
                result = container.complaints.lodge(Principal.anonymous(), lodge_command())
                results.append((result.complaint_id, result.notification_id))
                if container.queries.get(COMPLAINT_CELL, result.complaint_id) is None:
                    unseen.append(result.complaint_id)
        except BaseException as error:
            errors.append(error)

    stop = threading.Event()
    tailed: list[Notification] = []
    reader = threading.Thread(target=lambda: tailed.extend(tail_log(container, stop)))
    reader.start()
    writers = [threading.Thread(target=lodge_several) for _ in range(WRITERS)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    stop.set()
    reader.join()

    assert errors == []
    assert len(results) == WRITERS * LODGINGS_PER_WRITER
    # Read-your-writes: each lodging found its complaint in the view when it returned.
    assert unseen == []
    rows = stored_rows(postgres_url)
    ids = [row[0] for row in rows]
    assert ids == list(range(1, len(results) + 1))
    assert {(row[1], row[0]) for row in rows} == set(results)
    # A reader that tailed the log while the writers ran saw every id once, in order.
    assert [notification.id for notification in tailed] == ids


def test_group_commits_in_one_transaction(postgres_container: Container, postgres_url: str) -> None:
    container = postgres_container
    before = len(stored_rows(postgres_url))
    complaints = [lodged_complaint(container) for _ in range(3)]
    group = [SaveRequest(pending_events(container, complaint)) for complaint in complaints]

    recorder_of(container).commit_group(group)

    assert [request.error for request in group] == [None, None, None]
    assert [request.notification_ids for request in group] == [
        [before + 1],
        [before + 2],
        [before + 3],
    ]
    written = stored_rows(postgres_url)[-3:]
    assert [row[1] for row in written] == [complaint.id for complaint in complaints]
    assert len({row[3] for row in written}) == 1  # one transaction id


def test_conflict_fails_only_its_caller(postgres_container: Container, postgres_url: str) -> None:
    container = postgres_container
    stale_target = container.complaints.lodge(Principal.anonymous(), lodge_command())
    shared_target = container.complaints.lodge(Principal.anonymous(), lodge_command())
    stale = acknowledged(container, stale_target.complaint_id)
    container.complaints.acknowledge(SDPO, stale_target.complaint_id, None)
    first_new = lodged_complaint(container)
    second_new = lodged_complaint(container)
    head = stored_rows(postgres_url)[-1][0]

    group = [
        SaveRequest(pending_events(container, first_new)),
        # Version 2 of this complaint is already stored.
        SaveRequest(pending_events(container, stale)),
        SaveRequest(pending_events(container, acknowledged(container, shared_target.complaint_id))),
        # Version 2 again, from a caller later in the same group.
        SaveRequest(pending_events(container, acknowledged(container, shared_target.complaint_id))),
        SaveRequest(pending_events(container, second_new)),
    ]
    recorder_of(container).commit_group(group)

    assert isinstance(group[1].error, IntegrityError)
    assert isinstance(group[3].error, IntegrityError)
    assert [group[index].error for index in (0, 2, 4)] == [None, None, None]
    # The rejected events drew no ids: the accepted ones follow the head without a hole.
    assert [group[index].notification_ids for index in (0, 2, 4)] == [
        [head + 1],
        [head + 2],
        [head + 3],
    ]
    assert stored_rows(postgres_url)[-1][0] == head + 3


def test_database_error_fails_whole_group(postgres_container: Container, postgres_url: str) -> None:
    container = postgres_container
    complaints = [lodged_complaint(container) for _ in range(3)]
    poisoned = complaints[1].id
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(
            "CREATE FUNCTION reject_poisoned() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN IF NEW.originator_id = '{poisoned}' THEN"
            " RAISE EXCEPTION 'poisoned event rejected'; END IF; RETURN NEW; END $$"
        )
        connection.execute(
            "CREATE TRIGGER reject_poisoned BEFORE INSERT ON complaints_events"
            " FOR EACH ROW EXECUTE FUNCTION reject_poisoned()"
        )
    before = stored_rows(postgres_url)
    group = [SaveRequest(pending_events(container, complaint)) for complaint in complaints]

    recorder_of(container).commit_group(group)

    for request in group:
        assert isinstance(request.error, PersistenceError)
        assert "poisoned event rejected" in str(request.error)
        assert request.notification_ids == []
    assert stored_rows(postgres_url) == before


def test_insert_events_raises_own_error(postgres_container: Container) -> None:
    container = postgres_container
    result = container.complaints.lodge(Principal.anonymous(), lodge_command())
    stale = acknowledged(container, result.complaint_id)
    container.complaints.acknowledge(SDPO, result.complaint_id, None)
    recorder = recorder_of(container)

    with pytest.raises(IntegrityError, match="version conflict"):
        recorder.insert_events(pending_events(container, stale))
    fresh = lodged_complaint(container)
    assert recorder.insert_events(pending_events(container, fresh)) is not None


def test_empty_save_writes_nothing(postgres_container: Container, postgres_url: str) -> None:
    before = stored_rows(postgres_url)
    empty: Sequence[StoredEvent] = []
    assert recorder_of(postgres_container).insert_events(empty) is None
    assert stored_rows(postgres_url) == before
