-- RFM grid: customers with orders, scored 1–5 on recency, frequency and monetary value
-- (quintiles among the site's buyers), counted per recency × frequency cell.
-- params: site String = demo
SELECT r, f, count() AS customers, round(avg(m), 2) AS avg_monetary_score,
       sum(revenue) AS revenue
FROM
(
    SELECT
        ntile(5) OVER (ORDER BY last_order ASC) AS r,
        ntile(5) OVER (ORDER BY orders ASC, who) AS f,
        ntile(5) OVER (ORDER BY revenue ASC, who) AS m,
        revenue
    FROM
    (
        SELECT if(customer_id != '', customer_id, anonymous_id) AS who,
               count() AS orders, sum(order_total) AS revenue, max(occurred_at) AS last_order
        FROM events_by_type FINAL
        WHERE site_id = {site:String} AND type = 'order_placed'
        GROUP BY who
    )
)
GROUP BY r, f
ORDER BY r DESC, f DESC
