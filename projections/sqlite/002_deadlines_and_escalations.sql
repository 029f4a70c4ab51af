-- Deadline state on the complaint read model, and the escalation projection built by
-- the workers: open complaints with their next deadline, the escalations log, and the
-- outbox of notifications to new holders.

ALTER TABLE complaints_view ADD COLUMN holder_rank TEXT;
ALTER TABLE complaints_view ADD COLUMN opened_at TIMESTAMPTZ;
ALTER TABLE complaints_view ADD COLUMN escalation_anchor TIMESTAMPTZ;
ALTER TABLE complaints_view ADD COLUMN deadline_plan TEXT;
ALTER TABLE complaints_view ADD COLUMN deadline_step TEXT;
CREATE INDEX IF NOT EXISTS complaints_view_due ON complaints_view (due_at) WHERE due_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS escalation_view (
    complaint_id      TEXT PRIMARY KEY,
    tracking_number   TEXT NOT NULL,
    status            TEXT NOT NULL,
    unit_id           TEXT NOT NULL,
    unit_path         TEXT NOT NULL,
    holder_rank       TEXT NOT NULL,
    escalation_level  INTEGER NOT NULL,
    opened_at         TIMESTAMPTZ NOT NULL,
    acknowledged_at   TIMESTAMPTZ,
    escalation_anchor TIMESTAMPTZ,
    deadline_plan     TEXT NOT NULL,
    deadline_step     TEXT,
    due_at            TIMESTAMPTZ,
    -- When the next automatic escalation fires: due_at, or NULL when the complaint is not
    -- open or already at the top of the ladder.
    fire_at           TIMESTAMPTZ,
    version           INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS escalation_view_fire ON escalation_view (fire_at) WHERE fire_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS escalations_log (
    complaint_id     TEXT NOT NULL,
    version          INTEGER NOT NULL,
    notification_id  INTEGER NOT NULL,
    tracking_number  TEXT NOT NULL,
    occurred_at      TIMESTAMPTZ NOT NULL,
    deadline_step    TEXT,
    missed_due_at    TIMESTAMPTZ,
    from_level       INTEGER NOT NULL,
    to_level         INTEGER NOT NULL,
    from_unit_id     TEXT NOT NULL,
    to_unit_id       TEXT NOT NULL,
    to_unit_path     TEXT NOT NULL,
    from_rank        TEXT NOT NULL,
    to_rank          TEXT NOT NULL,
    actor_kind       TEXT NOT NULL,
    actor_user_id    TEXT,
    reason           TEXT,
    PRIMARY KEY (complaint_id, version)
);
CREATE INDEX IF NOT EXISTS escalations_log_time ON escalations_log (occurred_at, complaint_id, version);

CREATE TABLE IF NOT EXISTS notification_outbox (
    outbox_id         INTEGER PRIMARY KEY AUTOINCREMENT,
    complaint_id      TEXT NOT NULL,
    version           INTEGER NOT NULL,
    kind              TEXT NOT NULL,
    recipient_unit_id TEXT NOT NULL,
    recipient_role    TEXT NOT NULL,
    payload           TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    sent_at           TIMESTAMPTZ,
    UNIQUE (complaint_id, version, kind)
);
