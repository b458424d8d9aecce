-- Raw events, profile snapshots and journey transitions.
-- up
CREATE TABLE IF NOT EXISTS events
(
    event_id UUID,
    site_id LowCardinality(String),
    type LowCardinality(String),
    anonymous_id String,
    customer_id String,
    session_id String,
    occurred_at DateTime64(3, 'UTC'),
    received_at DateTime64(3, 'UTC'),
    url String,
    path String,
    referrer String,
    utm_source LowCardinality(String),
    utm_medium LowCardinality(String),
    utm_campaign LowCardinality(String),
    coupon String,
    device_type LowCardinality(String),
    browser LowCardinality(String),
    os LowCardinality(String),
    country LowCardinality(String),
    verified Bool,
    product_id String,
    category LowCardinality(String),
    price Decimal(18, 4),
    quantity UInt32,
    order_id String,
    order_total Decimal(18, 4),
    currency LowCardinality(String),
    properties String,
    context String,
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (site_id, anonymous_id, event_id);

CREATE TABLE IF NOT EXISTS profiles
(
    site_id LowCardinality(String),
    profile_id String,
    customer_id String,
    merged_into String,
    version UInt64,
    first_seen DateTime64(3, 'UTC'),
    last_seen DateTime64(3, 'UTC'),
    event_count UInt64,
    page_views UInt64,
    product_views UInt64,
    cart_adds UInt64,
    session_count UInt64,
    orders UInt64,
    revenue Decimal(18, 4),
    currency LowCardinality(String),
    stage LowCardinality(String),
    stage_since DateTime64(3, 'UTC'),
    data String,
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (site_id, profile_id);

CREATE TABLE IF NOT EXISTS journey_transitions
(
    site_id LowCardinality(String),
    profile_id String,
    from_stage LowCardinality(String),
    to_stage LowCardinality(String),
    cause LowCardinality(String),
    event_id String,
    at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (site_id, profile_id, at, to_stage);

CREATE TABLE IF NOT EXISTS dlq_events
(
    site_id LowCardinality(String),
    event_id String,
    reason String,
    stage LowCardinality(String),
    payload String,
    received_at DateTime64(3, 'UTC'),
    topic LowCardinality(String),
    partition UInt32,
    offset UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY (topic, partition, offset);
-- down
DROP TABLE IF EXISTS dlq_events;
DROP TABLE IF EXISTS journey_transitions;
DROP TABLE IF EXISTS profiles;
DROP TABLE IF EXISTS events;
