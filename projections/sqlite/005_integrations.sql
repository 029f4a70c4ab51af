-- Integrations with outside systems: one row each, and one row per approval.
-- api_key_hash is the SHA-256 of the current API key; the key itself is never stored.

CREATE TABLE IF NOT EXISTS integrations_view (
    integration_id        TEXT PRIMARY KEY,
    name                  TEXT NOT NULL,
    kind                  TEXT NOT NULL,
    endpoint              TEXT,
    event_types           TEXT NOT NULL,
    allowed_fields        TEXT NOT NULL,
    principal             TEXT NOT NULL UNIQUE,
    status                TEXT NOT NULL,
    requested_by          TEXT,
    requested_by_role     TEXT,
    requested_at          TIMESTAMPTZ NOT NULL,
    activated_at          TIMESTAMPTZ,
    ended_at              TIMESTAMPTZ,
    ended_by              TEXT,
    ended_reason          TEXT,
    credential_generation INTEGER NOT NULL,
    credentials_issued_at TIMESTAMPTZ,
    api_key_hash          TEXT,
    version               INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS integrations_status ON integrations_view (status, kind);

CREATE TABLE IF NOT EXISTS integration_approvals_view (
    integration_id TEXT NOT NULL,
    version        INTEGER NOT NULL,
    user_id        TEXT,
    role           TEXT,
    unit_id        TEXT,
    second_factor  BOOLEAN NOT NULL,
    approved_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (integration_id, version)
);
