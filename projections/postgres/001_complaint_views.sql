-- Complaint read model and per-complaint timeline, built from the event notification log.

CREATE TABLE IF NOT EXISTS projection_positions (
    name        text PRIMARY KEY,
    position    bigint NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS complaints_view (
    complaint_id        uuid PRIMARY KEY,
    tracking_number     text NOT NULL UNIQUE,
    status              text NOT NULL,
    category            text NOT NULL,
    channel             text NOT NULL,
    description         text NOT NULL,
    language            text NOT NULL,
    district_id         text NOT NULL,
    station_id          text,
    unit_id             text NOT NULL,
    unit_path           text COLLATE "C" NOT NULL,
    assigned_officer_id text,
    escalation_level    integer NOT NULL,
    incident_at         timestamptz,
    lodged_at           timestamptz NOT NULL,
    acknowledged_at     timestamptz,
    resolved_at         timestamptz,
    closed_at           timestamptz,
    withdrawn_at        timestamptz,
    due_at              timestamptz,
    outcome             text,
    feedback_satisfied  boolean,
    complainant_sealed  bytea NOT NULL,
    phone_digest        text NOT NULL,
    version             integer NOT NULL,
    updated_at          timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS complaints_view_lodged ON complaints_view (lodged_at, complaint_id);
CREATE INDEX IF NOT EXISTS complaints_view_status ON complaints_view (status, lodged_at);
-- Byte order ("C") so that a unit's subtree is one contiguous range of paths.
CREATE INDEX IF NOT EXISTS complaints_view_unit_path ON complaints_view (unit_path);
CREATE INDEX IF NOT EXISTS complaints_view_district ON complaints_view (district_id, lodged_at);

CREATE TABLE IF NOT EXISTS complaint_timeline_view (
    complaint_id    uuid NOT NULL,
    version         integer NOT NULL,
    notification_id bigint NOT NULL,
    event_type      text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL,
    actor_kind      text NOT NULL,
    actor_user_id   text,
    actor_role      text,
    actor_unit_id   text,
    channel         text NOT NULL,
    reason          text,
    internal        boolean NOT NULL,
    details         text NOT NULL,
    PRIMARY KEY (complaint_id, version)
);
