-- Deadline state on the complaint read model, and the escalation projection built by
-- the workers: open complaints with their next deadline, the escalations log, and the
-- outbox of notifications to new holders.

ALTER TABLE complaints_view ADD COLUMN holder_rank TEXT;
ALTER TABLE complaints_view ADD COLUMN opened_at timestamptz;
ALTER TABLE complaints_view ADD COLUMN escalation_anchor timestamptz;
ALTER TABLE complaints_view ADD COLUMN deadline_plan TEXT;
ALTER TABLE complaints_view ADD COLUMN deadline_step TEXT;
CREATE INDEX IF NOT EXISTS complaints_view_due ON complaints_view (due_at) WHERE due_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS escalation_view (
    complaint_id      uuid PRIMARY KEY,
    tracking_number   TEXT NOT NULL,
    status            TEXT NOT NULL,
    unit_id           TEXT NOT NULL,
    unit_path         text COLLATE "C" NOT NULL,
    holder_rank       TEXT NOT NULL,
    escalation_level  INTEGER NOT NULL,
    opened_at         timestamptz NOT NULL,
    acknowledged_at   timestamptz,
    escalation_anchor timestamptz,
    deadline_plan     TEXT NOT NULL,
    deadline_step     TEXT,
    due_at            timestamptz,
    -- When the next automatic escalation fires: due_at, or NULL when the complaint is not
    -- open or already at the top of the ladder.
    fire_at           timestamptz,
    version           INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS escalation_view_fire ON escalation_view (fire_at) WHERE fire_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS escalations_log (
    complaint_id     uuid NOT NULL,
    version          INTEGER NOT NULL,
    notification_id  bigint NOT NULL,
    tracking_number  TEXT NOT NULL,
    occurred_at      timestamptz NOT NULL,
    deadline_step    TEXT,
    missed_due_at    timestamptz,
    from_level       INTEGER NOT NULL,
    to_level         INTEGER NOT NULL,
    from_unit_id     TEXT NOT NULL,
    to_unit_id       TEXT NOT NULL,
    to_unit_path     text COLLATE "C" NOT NULL,
    from_rank        TEXT NOT NULL,
    to_rank          TEXT NOT NULL,
    actor_kind       TEXT NOT NULL,
    actor_user_id    TEXT,
    reason           TEXT,
    PRIMARY KEY (complaint_id, version)
);
CREATE INDEX IF NOT EXISTS escalations_log_time ON escalations_log (occurred_at, complaint_id, version);

CREATE TABLE IF NOT EXISTS notification_outbox (
    outbox_id         bigserial PRIMARY KEY,
    complaint_id      uuid NOT NULL,
    version           INTEGER NOT NULL,
    kind              TEXT NOT NULL,
    recipient_unit_id TEXT NOT NULL,
    recipient_role    TEXT NOT NULL,
    payload           TEXT NOT NULL,
    created_at        timestamptz NOT NULL,
    sent_at           timestamptz,
    UNIQUE (complaint_id, version, kind)
);
