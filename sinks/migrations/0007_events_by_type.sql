-- Events by type, slim: the columns the dashboard's charts read, with the fields they need
-- taken out of the properties JSON once, at insert (rating, discount, search query,
-- experiment and variant, order lines). Sorted by site, type and time, so a chart of one type
-- in a period reads only those rows, and FINAL (the dedup of a redelivered event) merges only
-- them: on `events`, FINAL reads every column of every row before any filter. The sort key
-- holds the event id and the same event always has the same type and time, so a redelivery
-- still replaces its first copy.
-- up
CREATE TABLE IF NOT EXISTS events_by_type
(
    site_id LowCardinality(String),
    type LowCardinality(String),
    occurred_at DateTime64(3, 'UTC'),
    event_id UUID,
    anonymous_id String,
    customer_id String,
    session_id String,
    path String,
    utm_source LowCardinality(String),
    utm_medium LowCardinality(String),
    coupon String,
    product_id String,
    order_total Decimal(18, 4),
    discount Decimal(18, 4),
    rating UInt8,
    review_text String,
    search_query String,
    experiment String,
    variant String,
    item_ids Array(String),
    item_units Array(UInt32),
    item_prices Array(Decimal(18, 4))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (site_id, type, occurred_at, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS events_by_type_mv TO events_by_type AS
SELECT site_id, type, occurred_at, event_id, anonymous_id, customer_id, session_id, path,
       utm_source, utm_medium, coupon, product_id, order_total,
       toDecimal64OrZero(JSONExtractString(properties, 'discount'), 4) AS discount,
       toUInt8(least(JSONExtractUInt(properties, 'rating'), 255)) AS rating,
       concat(JSONExtractString(properties, 'title'), ' ', JSONExtractString(properties, 'text'))
           AS review_text,
       lower(JSONExtractString(properties, 'query')) AS search_query,
       JSONExtractString(properties, 'experiment') AS experiment,
       JSONExtractString(properties, 'variant') AS variant,
       arrayMap(i -> JSONExtractString(i, 'product_id'), JSONExtractArrayRaw(properties, 'items'))
           AS item_ids,
       arrayMap(i -> toUInt32OrZero(JSONExtractRaw(i, 'quantity')),
                JSONExtractArrayRaw(properties, 'items')) AS item_units,
       arrayMap(i -> toDecimal64OrZero(JSONExtractString(i, 'price'), 4),
                JSONExtractArrayRaw(properties, 'items')) AS item_prices
FROM events;

INSERT INTO events_by_type
SELECT site_id, type, occurred_at, event_id, anonymous_id, customer_id, session_id, path,
       utm_source, utm_medium, coupon, product_id, order_total,
       toDecimal64OrZero(JSONExtractString(properties, 'discount'), 4),
       toUInt8(least(JSONExtractUInt(properties, 'rating'), 255)),
       concat(JSONExtractString(properties, 'title'), ' ', JSONExtractString(properties, 'text')),
       lower(JSONExtractString(properties, 'query')),
       JSONExtractString(properties, 'experiment'),
       JSONExtractString(properties, 'variant'),
       arrayMap(i -> JSONExtractString(i, 'product_id'), JSONExtractArrayRaw(properties, 'items')),
       arrayMap(i -> toUInt32OrZero(JSONExtractRaw(i, 'quantity')),
                JSONExtractArrayRaw(properties, 'items')),
       arrayMap(i -> toDecimal64OrZero(JSONExtractString(i, 'price'), 4),
                JSONExtractArrayRaw(properties, 'items'))
FROM events;
-- down
DROP VIEW IF EXISTS events_by_type_mv;
DROP TABLE IF EXISTS events_by_type;
