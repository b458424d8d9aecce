-- Revenue and conversion by first-touch and last-touch channel (UTM source / medium): each
-- customer's first and last attributed touch before their orders.
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01
SELECT touch.1 AS model, if(touch.2 = '', '(direct)', touch.2) AS channel,
       count() AS people, countIf(orders > 0) AS buyers,
       round(100 * buyers / people, 1) AS conversion_pct, sum(revenue) AS revenue
FROM
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
ARRAY JOIN [('first touch', first_touch), ('last touch', last_touch)] AS touch
GROUP BY model, channel
ORDER BY model, revenue DESC, channel
