-- The webhook projection: each complaint's catalogue fields as of the last event the
-- projection applied, and the outbox of deliveries to approved webhook integrations.

CREATE TABLE IF NOT EXISTS webhook_complaint_state (
    complaint_id       uuid PRIMARY KEY,
    version            INTEGER NOT NULL,
    -- JSON: the complaint's fields as of ``version`` (no personal data).
    state              TEXT NOT NULL,
    -- The sealed complainant data from ComplaintLodged; opened with the vault at send time.
    complainant_sealed bytea NOT NULL
);

CREATE TABLE IF NOT EXISTS webhook_deliveries (
    delivery_id      uuid PRIMARY KEY,
    integration_id   uuid NOT NULL,
    complaint_id     uuid NOT NULL,
    position         bigint NOT NULL,
    event_type       TEXT NOT NULL,
    -- JSON: the envelope and the allowed non-personal fields.
    payload          TEXT NOT NULL,
    -- Comma-separated personal fields the integration was allowed when the row was made.
    -- The sender reads them from the vault, so a shredded key leaves them out.
    personal_fields  TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    last_http_status INTEGER,
    created_at       timestamptz NOT NULL,
    next_attempt_at  timestamptz,
    last_attempt_at  timestamptz,
    delivered_at     timestamptz,
    -- Set while one worker sends the delivery, so a duplicate message does not send it too.
    claimed_until    timestamptz,
    UNIQUE (integration_id, position)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_line
    ON webhook_deliveries (integration_id, complaint_id, position);
CREATE INDEX IF NOT EXISTS webhook_deliveries_pending
    ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX IF NOT EXISTS webhook_deliveries_status
    ON webhook_deliveries (status, position);
