-- The "<source>:<legacy id>" of an imported complaint, from its LegacyRecordImported
-- event, so staff can find it by the id it had in the other system. NULL for complaints
-- lodged here. Complaints imported before this column get it from their timeline row.
ALTER TABLE complaints_view ADD COLUMN legacy_reference TEXT;

UPDATE complaints_view SET legacy_reference = (
    SELECT json_extract(timeline.details, '$.source') || ':'
        || json_extract(timeline.details, '$.reference')
    FROM complaint_timeline_view AS timeline
    WHERE timeline.complaint_id = complaints_view.complaint_id
        AND timeline.event_type = 'LegacyRecordImported'
)
WHERE complaint_id IN (
    SELECT complaint_id FROM complaint_timeline_view WHERE event_type = 'LegacyRecordImported'
);

-- Unique because an imported complaint's id is derived from this reference.
CREATE UNIQUE INDEX IF NOT EXISTS complaints_view_legacy_reference
    ON complaints_view (legacy_reference) WHERE legacy_reference IS NOT NULL;
