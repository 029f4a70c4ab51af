-- The eventsourcing library (9.5.6) takes LOCK TABLE … IN EXCLUSIVE MODE on the events
-- table for every write, and PostgreSQL allows that lock only with UPDATE, DELETE or
-- TRUNCATE privilege. TRUNCATE is the one granted: the trigger complaints_events_no_truncate
-- still rejects every TRUNCATE, and the role cannot disable a trigger of a table it
-- does not own.
GRANT TRUNCATE ON complaints_events TO cms_graph_app;
