-- Cohort retention by first-order month: customers of each cohort who ordered again in each
-- following month.
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01, segment String = *
WITH orders AS
(
    SELECT customer_id AS who, toStartOfMonth(occurred_at) AS month
    FROM events_by_type FINAL
    WHERE site_id = {site:String} AND type = 'order_placed' AND customer_id != ''
      AND ({segment:String} = '*' OR customer_id IN (
          SELECT profile_id FROM segment_members_now
          WHERE site_id = {site:String} AND segment = {segment:String}))
),
firsts AS (SELECT who, min(month) AS cohort FROM orders GROUP BY who)
SELECT cohort, dateDiff('month', cohort, month) AS month_number, uniqExact(who) AS customers,
       round(100 * customers / any(size), 1) AS retained_pct
FROM orders
INNER JOIN firsts USING (who)
INNER JOIN (SELECT cohort, count() AS size FROM firsts GROUP BY cohort) AS sizes USING (cohort)
WHERE cohort BETWEEN toStartOfMonth({from:DateTime64(3)}) AND {to:DateTime64(3)}
GROUP BY cohort, month_number
ORDER BY cohort, month_number
