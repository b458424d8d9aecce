-- Revenue and conversion by first-touch and last-touch channel (UTM source / medium): each
-- customer's first and last attributed touch before their orders.
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01
WITH touches AS
(
    SELECT
        who,
        argMinIf(concat(utm_source, ' / ', utm_medium), occurred_at, utm_source != '') AS first_touch,
        argMaxIf(concat(utm_source, ' / ', utm_medium), occurred_at, utm_source != '') AS last_touch,
        countIf(type = 'order_placed') AS orders,
        sumIf(order_total, type = 'order_placed') AS revenue
    FROM people
    WHERE site_id = {site:String} AND occurred_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
    GROUP BY who
)
SELECT * FROM
(
SELECT 'first touch' AS model, if(first_touch = '', '(direct)', first_touch) AS channel,
       count() AS people, countIf(orders > 0) AS buyers,
       round(100 * buyers / people, 1) AS conversion_pct, sum(revenue) AS revenue
FROM touches GROUP BY channel
UNION ALL
SELECT 'last touch' AS model, if(last_touch = '', '(direct)', last_touch) AS channel,
       count() AS people, countIf(orders > 0) AS buyers,
       round(100 * buyers / people, 1) AS conversion_pct, sum(revenue) AS revenue
FROM touches GROUP BY channel
)
ORDER BY model, revenue DESC, channel
