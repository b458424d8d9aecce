-- Events, visitors, customers, orders and revenue in the period (grouping = total) and per day
-- (UTC; grouping = day), from one pass over the period.
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01, segment String = *
SELECT if(grouping(day) = 1, 'total', 'day') AS grouping, toDate(occurred_at) AS day,
       count() AS events, uniqExact(anonymous_id) AS visitors,
       uniqExactIf(customer_id, customer_id != '') AS customers,
       countIf(type = 'order_placed') AS orders,
       sumIf(order_total, type = 'order_placed') AS revenue
FROM events_by_type FINAL
WHERE site_id = {site:String} AND occurred_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
  AND ({segment:String} = '*' OR if(customer_id != '', customer_id, concat('anon-', anonymous_id)) IN (
          SELECT profile_id FROM segment_members_now
          WHERE site_id = {site:String} AND segment = {segment:String}))
GROUP BY GROUPING SETS ((), (day))
ORDER BY grouping DESC, day
