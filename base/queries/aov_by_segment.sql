-- Average order value and orders per customer by current segment.
-- params: site String = demo
WITH members AS
(
    SELECT segment, profile_id FROM segment_members_now WHERE site_id = {site:String}
)
SELECT segment, uniqExact(profile_id) AS customers, count() AS order_count,
       round(sum(order_total) / greatest(order_count, 1), 2) AS aov,
       round(order_count / greatest(customers, 1), 2) AS orders_per_customer
FROM (SELECT customer_id AS profile_id, order_total FROM events_by_type FINAL
      WHERE site_id = {site:String} AND type = 'order_placed' AND customer_id != '') AS orders
INNER JOIN members USING (profile_id)
GROUP BY segment
ORDER BY aov DESC
