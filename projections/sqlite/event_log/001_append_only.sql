-- Stored events may only be inserted. Applied only to the database that contains the
-- event store, after the eventsourcing library created its table.

CREATE TRIGGER IF NOT EXISTS stored_events_no_update BEFORE UPDATE ON stored_events
BEGIN
    SELECT RAISE(ABORT, 'stored events are append-only: UPDATE rejected');
END;

CREATE TRIGGER IF NOT EXISTS stored_events_no_delete BEFORE DELETE ON stored_events
BEGIN
    SELECT RAISE(ABORT, 'stored events are append-only: DELETE rejected');
END;
