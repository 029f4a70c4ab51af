-- The correlation id of the request whose event each piece of worker work is about, so
-- that the Dramatiq message for it carries the id into the worker's log lines. NULL when
-- that event has none and on rows written before this column. Imports and system events
-- have none, except an escalation for a missed deadline, which carries the id of the
-- event that started the deadline's clock.

-- The id of the event that started the clock of the pending deadline.
ALTER TABLE escalation_view ADD COLUMN deadline_correlation_id TEXT;
-- The id of the event that the message or delivery is about.
ALTER TABLE citizen_notification_outbox ADD COLUMN correlation_id TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN correlation_id TEXT;
