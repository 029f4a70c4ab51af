-- The FIR linked to a complaint (FirRegistered events), and the blind index that finds
-- complaints by a complainant's CNIC or phone (see adapters/lookup_index.py).

ALTER TABLE complaints_view ADD COLUMN fir_number TEXT;
ALTER TABLE complaints_view ADD COLUMN fir_registered_at TIMESTAMPTZ;

-- digest is HMAC-SHA256 of "KIND:normalised value" under CMS_LOOKUP_KEY, in hex. Written
-- at lodging, deleted with the complaint's key; never the value itself.
CREATE TABLE IF NOT EXISTS complainant_lookup (
    complaint_id TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('CNIC', 'PHONE')),
    digest       TEXT NOT NULL,
    PRIMARY KEY (kind, digest, complaint_id)
);

CREATE INDEX IF NOT EXISTS complainant_lookup_complaint ON complainant_lookup (complaint_id);
