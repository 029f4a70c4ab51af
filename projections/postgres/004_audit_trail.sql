-- The audit trail: every complaint event and access record, by actor, complaint and time.

CREATE TABLE IF NOT EXISTS audit_trail (
    notification_id bigint PRIMARY KEY,
    recorded_at     timestamptz NOT NULL,
    occurred_at     timestamptz NOT NULL,
    complaint_id    uuid,
    record_type     TEXT NOT NULL,
    actor_kind      TEXT NOT NULL,
    actor_user_id   TEXT,
    actor_role      TEXT,
    actor_unit_id   TEXT,
    channel         TEXT,
    client_address  TEXT,
    correlation_id  TEXT,
    operation       TEXT,
    detail          TEXT
);
CREATE INDEX IF NOT EXISTS audit_trail_actor ON audit_trail (actor_user_id, notification_id);
CREATE INDEX IF NOT EXISTS audit_trail_complaint ON audit_trail (complaint_id, notification_id);
CREATE INDEX IF NOT EXISTS audit_trail_time ON audit_trail (recorded_at, notification_id);
CREATE INDEX IF NOT EXISTS complaint_timeline_recorded
    ON complaint_timeline_view (complaint_id, recorded_at, version);
