-- Top products per segment: units and revenue of ordered products by current segment members.
-- params: site String = demo, limit UInt32 = 5
WITH members AS
(
    SELECT segment, profile_id FROM segment_members_now WHERE site_id = {site:String}
),
lines AS
(
    SELECT customer_id AS profile_id,
           item_id AS product_id, item_unit AS units, item_price * units AS revenue
    FROM events_by_type FINAL
    ARRAY JOIN item_ids AS item_id, item_units AS item_unit, item_prices AS item_price
    WHERE site_id = {site:String} AND type = 'order_placed' AND customer_id != ''
)
SELECT segment, product_id, sum(units) AS units, sum(revenue) AS revenue
FROM lines INNER JOIN members USING (profile_id)
GROUP BY segment, product_id
ORDER BY segment, units DESC, product_id
LIMIT {limit:UInt32} BY segment
