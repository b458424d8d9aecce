-- Who a browser belongs to, and the cart lines of events by type, so the cookbook's
-- per-person queries read slim tables instead of `events FINAL` (which reads every column of
-- every row before any filter).
--
-- `browser_customers`: per site and browser, the customer it was seen with (any customer id
-- the browser carried), one row per browser after merges; `ANY LEFT JOIN` takes one of the
-- rows not merged yet, so no event is counted twice.
-- `people`: events by type with `who`, the person an event counts for: its customer id, else
-- the customer its browser was seen with, else `anon-` and the browser id (the profile id of
-- an anonymous profile). `segment_members_now`: the current members of every segment (their
-- latest change is `entered`), the one membership rule every query uses.
-- `events_by_type` gains the list price and quantity of cart and product events; the view is
-- made again with them, and every event is copied in once more (the sort key is unchanged, so
-- the copy replaces the row without them).
-- up
CREATE TABLE IF NOT EXISTS browser_customers
(
    site_id LowCardinality(String),
    anonymous_id String,
    customer_id String
)
ENGINE = ReplacingMergeTree
ORDER BY (site_id, anonymous_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS browser_customers_mv TO browser_customers AS
SELECT site_id, anonymous_id, any(customer) AS customer_id
FROM (SELECT site_id, anonymous_id, customer_id AS customer FROM events WHERE customer_id != '')
GROUP BY site_id, anonymous_id;

INSERT INTO browser_customers
SELECT site_id, anonymous_id, any(customer)
FROM (SELECT site_id, anonymous_id, customer_id AS customer FROM events WHERE customer_id != '')
GROUP BY site_id, anonymous_id;

ALTER TABLE events_by_type
    ADD COLUMN IF NOT EXISTS price Decimal(18, 4) AFTER product_id,
    ADD COLUMN IF NOT EXISTS quantity UInt32 AFTER price;

DROP VIEW IF EXISTS events_by_type_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_by_type_mv TO events_by_type AS
SELECT site_id, type, occurred_at, event_id, anonymous_id, customer_id, session_id, path,
       utm_source, utm_medium, coupon, product_id, price, quantity, order_total,
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
       utm_source, utm_medium, coupon, product_id, price, quantity, order_total,
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
FROM events
WHERE type IN ('product_view', 'cart_add', 'cart_remove');

CREATE VIEW IF NOT EXISTS people AS
SELECT e.*,
       if(e.customer_id != '', e.customer_id,
          if(b.customer_id != '', b.customer_id, concat('anon-', e.anonymous_id))) AS who
FROM events_by_type AS e FINAL
ANY LEFT JOIN browser_customers AS b USING (site_id, anonymous_id);

CREATE VIEW IF NOT EXISTS segment_members_now AS
SELECT site_id, segment, profile_id, max(since) AS since
FROM segment_membership
GROUP BY site_id, segment, profile_id
HAVING argMaxMerge(last_change) = 'entered';
-- down
DROP VIEW IF EXISTS segment_members_now;
DROP VIEW IF EXISTS people;
DROP VIEW IF EXISTS browser_customers_mv;
DROP TABLE IF EXISTS browser_customers;
DROP VIEW IF EXISTS events_by_type_mv;
ALTER TABLE events_by_type DROP COLUMN IF EXISTS price, DROP COLUMN IF EXISTS quantity;
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
