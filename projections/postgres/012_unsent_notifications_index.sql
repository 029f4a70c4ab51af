-- /metrics counts the outbox rows that will never be sent at every scrape. The partial
-- index lets that count read only those rows instead of scanning the whole outbox.
CREATE INDEX IF NOT EXISTS citizen_notification_outbox_unsent
    ON citizen_notification_outbox (channel, status) WHERE status IN ('FAILED', 'SKIPPED');
