-- Purchase-hour × weekday heatmap (UTC): orders per hour of day and day of week (1 = Monday).
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01
SELECT toDayOfWeek(occurred_at) AS weekday, toHour(occurred_at) AS hour, count() AS orders,
       sum(order_total) AS revenue
FROM events_by_type FINAL
WHERE site_id = {site:String} AND type = 'order_placed'
  AND occurred_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
GROUP BY weekday, hour
ORDER BY weekday, hour
