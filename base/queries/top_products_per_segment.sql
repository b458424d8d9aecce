-- Top products per segment: units and revenue of ordered products by current segment members.
-- params: site String = demo, limit UInt32 = 5
WITH members AS
(
    SELECT segment, profile_id
    FROM segment_changes FINAL
    WHERE site_id = {site:String}
    GROUP BY segment, profile_id
    HAVING argMax(change, at) = 'entered'
),
lines AS
(
    SELECT customer_id AS profile_id,
           JSONExtractString(item, 'product_id') AS product_id,
           toUInt32OrZero(JSONExtractRaw(item, 'quantity')) AS units,
           toDecimal64OrZero(JSONExtractString(item, 'price'), 2) * units AS revenue
    FROM events FINAL
    ARRAY JOIN JSONExtractArrayRaw(properties, 'items') AS item
    WHERE site_id = {site:String} AND type = 'order_placed' AND customer_id != ''
)
SELECT segment, product_id, sum(units) AS units, sum(revenue) AS revenue
FROM lines INNER JOIN members USING (profile_id)
GROUP BY segment, product_id
ORDER BY segment, units DESC, product_id
LIMIT {limit:UInt32} BY segment
