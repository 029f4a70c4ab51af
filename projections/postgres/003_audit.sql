-- The hash chain over the event log and its signed checkpoints (see
-- adapters/hash_chain.py).

CREATE TABLE IF NOT EXISTS audit_chain (
    notification_id    bigint PRIMARY KEY,
    originator_id      uuid NOT NULL,
    originator_version integer NOT NULL,
    event_hash         bytea NOT NULL,
    chain_hash         bytea NOT NULL
);

CREATE TABLE IF NOT EXISTS audit_checkpoints (
    notification_id bigint PRIMARY KEY,
    chain_hash      bytea NOT NULL,
    signature       text NOT NULL,
    signed_at       timestamptz NOT NULL
);
