-- The application's role may only read and insert stored events, and a trigger
-- rejects UPDATE, DELETE and TRUNCATE of them for everyone. Applied only to the database
-- that contains the event store, after the eventsourcing library created its table. The
-- application connects as cms_graph_app; migrations run as the tables' owner.

-- Roles belong to the whole server, so another database may have created it already.
DO $$
BEGIN
    CREATE ROLE cms_graph_app LOGIN;
EXCEPTION WHEN duplicate_object THEN
    NULL;
END
$$;

CREATE OR REPLACE FUNCTION cms_graph_reject_event_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stored events are append-only: % on % rejected', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

DROP TRIGGER IF EXISTS complaints_events_append_only ON complaints_events;
CREATE TRIGGER complaints_events_append_only BEFORE UPDATE OR DELETE ON complaints_events
    FOR EACH ROW EXECUTE FUNCTION cms_graph_reject_event_change();
DROP TRIGGER IF EXISTS complaints_events_no_truncate ON complaints_events;
CREATE TRIGGER complaints_events_no_truncate BEFORE TRUNCATE ON complaints_events
    FOR EACH STATEMENT EXECUTE FUNCTION cms_graph_reject_event_change();

GRANT USAGE ON SCHEMA public TO cms_graph_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO cms_graph_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO cms_graph_app;
-- Tables that later migrations create get the same privileges.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO cms_graph_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO cms_graph_app;
-- Append-only for the application: the event log, its hash chain, the migration record.
REVOKE UPDATE, DELETE, TRUNCATE ON complaints_events, audit_chain, audit_checkpoints,
    schema_migrations FROM cms_graph_app;
