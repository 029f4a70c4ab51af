-- The hash chain over the event log and its signed checkpoints (see
-- adapters/hash_chain.py).

CREATE TABLE IF NOT EXISTS audit_chain (
    notification_id    INTEGER PRIMARY KEY,
    originator_id      TEXT NOT NULL,
    originator_version INTEGER NOT NULL,
    event_hash         BLOB NOT NULL,
    chain_hash         BLOB NOT NULL
);

CREATE TABLE IF NOT EXISTS audit_checkpoints (
    notification_id INTEGER PRIMARY KEY,
    chain_hash      BLOB NOT NULL,
    signature       TEXT NOT NULL,
    signed_at       TIMESTAMPTZ NOT NULL
);
