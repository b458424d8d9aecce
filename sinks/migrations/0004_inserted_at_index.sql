-- A min-max index on inserted_at: the sink, on start, remembers the events stored in the last
-- hours (to catch the same event at a new offset without a query per batch); parts are written
-- in arrival order, so the index skips every granule older than that.
-- up
ALTER TABLE events ADD INDEX IF NOT EXISTS inserted_at_minmax inserted_at TYPE minmax GRANULARITY 1;
ALTER TABLE overflow_events ADD INDEX IF NOT EXISTS inserted_at_minmax inserted_at TYPE minmax GRANULARITY 1;
-- down
ALTER TABLE overflow_events DROP INDEX IF EXISTS inserted_at_minmax;
ALTER TABLE events DROP INDEX IF EXISTS inserted_at_minmax;
