-- Segment changes, webhook delivery attempts, and the views analysts ask for first.
-- up
CREATE TABLE IF NOT EXISTS segment_changes
(
    site_id LowCardinality(String),
    profile_id String,
    segment LowCardinality(String),
    change Enum8('entered' = 1, 'exited' = 2),
    cause LowCardinality(String),
    event_id String,
    at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (site_id, segment, profile_id, at, change);

CREATE TABLE IF NOT EXISTS webhook_deliveries
(
    delivery_id String,
    subscription_id LowCardinality(String),
    site_id LowCardinality(String),
    event_kind LowCardinality(String),
    url String,
    attempt UInt16,
    status UInt16,
    outcome Enum8('delivered' = 1, 'failed' = 2, 'dead' = 3),
    latency_ms Float64,
    error String,
    at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (site_id, subscription_id, delivery_id, attempt);

CREATE TABLE IF NOT EXISTS daily_funnel
(
    site_id LowCardinality(String),
    day Date,
    type LowCardinality(String),
    events AggregateFunction(uniqExact, UUID),
    browsers AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (site_id, day, type);

CREATE MATERIALIZED VIEW IF NOT EXISTS daily_funnel_mv TO daily_funnel AS
SELECT site_id, toDate(occurred_at) AS day, type,
       uniqExactState(event_id) AS events, uniqExactState(anonymous_id) AS browsers
FROM events
WHERE type IN ('page_view', 'product_view', 'cart_add', 'checkout_started', 'order_placed')
GROUP BY site_id, day, type;

CREATE TABLE IF NOT EXISTS sessions
(
    site_id LowCardinality(String),
    session_id String,
    anonymous_id SimpleAggregateFunction(any, String),
    started_at SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    ended_at SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    events AggregateFunction(uniqExact, UUID),
    utm_source SimpleAggregateFunction(any, String),
    landing_path SimpleAggregateFunction(any, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (site_id, session_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS sessions_mv TO sessions AS
SELECT site_id, session_id, any(anonymous_id) AS anonymous_id,
       min(occurred_at) AS started_at, max(occurred_at) AS ended_at,
       uniqExactState(event_id) AS events, any(utm_source) AS utm_source,
       any(path) AS landing_path
FROM events
WHERE session_id != ''
GROUP BY site_id, session_id;
-- down
DROP VIEW IF EXISTS sessions_mv;
DROP TABLE IF EXISTS sessions;
DROP VIEW IF EXISTS daily_funnel_mv;
DROP TABLE IF EXISTS daily_funnel;
DROP TABLE IF EXISTS webhook_deliveries;
DROP TABLE IF EXISTS segment_changes;
