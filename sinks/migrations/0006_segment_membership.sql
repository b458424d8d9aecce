-- Segment membership as it stands, kept up to date by a materialized view: the latest change
-- per site, segment and profile (argMax over `at`, the same rule as the cookbook's
-- segment_members), so the dashboard's segment filter reads one small table instead of every
-- change. A redelivered change carries the same (change, at) and leaves the result as it was.
-- up
CREATE TABLE IF NOT EXISTS segment_membership
(
    site_id LowCardinality(String),
    segment LowCardinality(String),
    profile_id String,
    last_change AggregateFunction(argMax, Enum8('entered' = 1, 'exited' = 2), DateTime64(3, 'UTC')),
    since SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (site_id, segment, profile_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS segment_membership_mv TO segment_membership AS
SELECT site_id, segment, profile_id, argMaxState(change, at) AS last_change, max(at) AS since
FROM segment_changes
GROUP BY site_id, segment, profile_id;

INSERT INTO segment_membership
SELECT site_id, segment, profile_id, argMaxState(change, at), max(at)
FROM segment_changes
GROUP BY site_id, segment, profile_id;
-- down
DROP VIEW IF EXISTS segment_membership_mv;
DROP TABLE IF EXISTS segment_membership;
