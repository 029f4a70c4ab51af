-- SMS and WhatsApp messages to complainants, built by the workers from the event log.
-- Outbox rows carry no personal data: the sender opens the complainant's sealed details
-- at send time. Timestamps are TIMESTAMPTZ columns holding fixed-width UTC text.

-- Per complaint, what each message needs: tracking number, language, and whether the
-- complaint may be messaged at all (legacy imports and complaints without personal
-- data may not).
CREATE TABLE IF NOT EXISTS citizen_notification_subjects (
    complaint_id    TEXT PRIMARY KEY,
    tracking_number TEXT NOT NULL,
    language        TEXT NOT NULL,
    silenced        INTEGER NOT NULL
);

-- One row per (complaint, step event, channel). The unique key makes a replayed batch
-- add nothing, and the sender's claim (status PENDING to SENDING) sends each row once.
CREATE TABLE IF NOT EXISTS citizen_notification_outbox (
    outbox_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    complaint_id TEXT NOT NULL,
    version      INTEGER NOT NULL,
    channel      TEXT NOT NULL,
    step         TEXT NOT NULL,
    template     TEXT NOT NULL,
    language     TEXT NOT NULL,
    parameters   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    -- PENDING, SENDING (claimed by a worker), SENT, FAILED or SKIPPED.
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    claimed_at   TIMESTAMPTZ,
    sent_at      TIMESTAMPTZ,
    last_error   TEXT,
    UNIQUE (complaint_id, version, channel)
);
CREATE INDEX IF NOT EXISTS citizen_notification_outbox_open
    ON citizen_notification_outbox (claimed_at) WHERE status IN ('PENDING', 'SENDING');
