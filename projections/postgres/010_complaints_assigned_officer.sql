-- A staff member's scope is "in my units' subtree OR assigned to me". With an index on
-- each side of the OR, PostgreSQL can combine the two (BitmapOr) to count a scope,
-- where it would otherwise scan every complaint. Pages keep walking complaints_view_lodged.
-- Most complaints have no assigned officer, so the partial index leaves those out.
-- SQLite gets no such index: without statistics its planner would then sort every
-- complaint in scope for each page instead of walking lodged_at.
CREATE INDEX IF NOT EXISTS complaints_view_assigned_officer
    ON complaints_view (assigned_officer_id) WHERE assigned_officer_id IS NOT NULL;
