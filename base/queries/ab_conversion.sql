-- A/B test conversion: people exposed to each variant of `experiment` and how many ordered
-- after their first exposure.
-- params: site String = demo, experiment String
WITH exposed AS
(
    SELECT if(customer_id != '', customer_id, anonymous_id) AS who,
           argMin(variant, occurred_at) AS variant,
           min(occurred_at) AS first_seen
    FROM events_by_type FINAL
    WHERE site_id = {site:String} AND type = 'experiment_exposure'
      AND experiment = {experiment:String}
    GROUP BY who
),
orders AS
(
    SELECT customer_id AS who, occurred_at, order_total
    FROM events_by_type FINAL
    WHERE site_id = {site:String} AND type = 'order_placed' AND customer_id != ''
)
SELECT variant, uniqExact(exposed.who) AS exposed_people,
       uniqExactIf(exposed.who, orders.occurred_at >= first_seen) AS converted,
       round(100 * converted / exposed_people, 1) AS conversion_pct,
       sumIf(order_total, orders.occurred_at >= first_seen) AS revenue
FROM exposed LEFT JOIN orders ON exposed.who = orders.who
GROUP BY variant
ORDER BY variant
