-- Integrations with outside systems: one row each, and one row per approval.
-- api_key_hash is the SHA-256 of the current API key; the key itself is never stored.

CREATE TABLE IF NOT EXISTS integrations_view (
    integration_id        uuid PRIMARY KEY,
    name                  TEXT NOT NULL,
    kind                  TEXT NOT NULL,
    endpoint              TEXT,
    event_types           TEXT NOT NULL,
    allowed_fields        TEXT NOT NULL,
    principal             TEXT NOT NULL UNIQUE,
    status                TEXT NOT NULL,
    requested_by          TEXT,
    requested_by_role     TEXT,
    requested_at          timestamptz NOT NULL,
    activated_at          timestamptz,
    ended_at              timestamptz,
    ended_by              TEXT,
    ended_reason          TEXT,
    credential_generation integer NOT NULL,
    credentials_issued_at timestamptz,
    api_key_hash          TEXT,
    version               integer NOT NULL
);
CREATE INDEX IF NOT EXISTS integrations_status ON integrations_view (status, kind);

CREATE TABLE IF NOT EXISTS integration_approvals_view (
    integration_id uuid NOT NULL,
    version        integer NOT NULL,
    user_id        TEXT,
    role           TEXT,
    unit_id        TEXT,
    second_factor  BOOLEAN NOT NULL,
    approved_at    timestamptz NOT NULL,
    PRIMARY KEY (integration_id, version)
);
