-- Complaint read model and per-complaint timeline, built from the event notification log.
-- Timestamps are TIMESTAMPTZ columns holding fixed-width UTC text (see adapters/database.py).

CREATE TABLE IF NOT EXISTS projection_positions (
    name        TEXT PRIMARY KEY,
    position    INTEGER NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS complaints_view (
    complaint_id        TEXT PRIMARY KEY,
    tracking_number     TEXT NOT NULL UNIQUE,
    status              TEXT NOT NULL,
    category            TEXT NOT NULL,
    channel             TEXT NOT NULL,
    description         TEXT NOT NULL,
    language            TEXT NOT NULL,
    district_id         TEXT NOT NULL,
    station_id          TEXT,
    unit_id             TEXT NOT NULL,
    unit_path           TEXT NOT NULL,
    assigned_officer_id TEXT,
    escalation_level    INTEGER NOT NULL,
    incident_at         TIMESTAMPTZ,
    lodged_at           TIMESTAMPTZ NOT NULL,
    acknowledged_at     TIMESTAMPTZ,
    resolved_at         TIMESTAMPTZ,
    closed_at           TIMESTAMPTZ,
    withdrawn_at        TIMESTAMPTZ,
    due_at              TIMESTAMPTZ,
    outcome             TEXT,
    feedback_satisfied  INTEGER,
    complainant_sealed  BLOB NOT NULL,
    phone_digest        TEXT NOT NULL,
    version             INTEGER NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS complaints_view_lodged ON complaints_view (lodged_at, complaint_id);
CREATE INDEX IF NOT EXISTS complaints_view_status ON complaints_view (status, lodged_at);
CREATE INDEX IF NOT EXISTS complaints_view_unit_path ON complaints_view (unit_path);
CREATE INDEX IF NOT EXISTS complaints_view_district ON complaints_view (district_id, lodged_at);

CREATE TABLE IF NOT EXISTS complaint_timeline_view (
    complaint_id    TEXT NOT NULL,
    version         INTEGER NOT NULL,
    notification_id INTEGER NOT NULL,
    event_type      TEXT NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    actor_kind      TEXT NOT NULL,
    actor_user_id   TEXT,
    actor_role      TEXT,
    actor_unit_id   TEXT,
    channel         TEXT NOT NULL,
    reason          TEXT,
    internal        INTEGER NOT NULL,
    details         TEXT NOT NULL,
    PRIMARY KEY (complaint_id, version)
);
