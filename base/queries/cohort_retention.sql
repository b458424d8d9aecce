-- Weekly cohort retention: customers by the week of their first event, and the share active
-- in each following week.
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01
WITH identities AS
(
    SELECT anonymous_id, any(customer_id) AS customer
    FROM events
    WHERE site_id = {site:String} AND customer_id != ''
    GROUP BY anonymous_id
),
people AS
(
    SELECT e.*, if(e.customer_id != '', e.customer_id, if(i.customer != '', i.customer, e.anonymous_id)) AS who
    FROM events AS e FINAL
    LEFT JOIN identities AS i USING (anonymous_id)
    WHERE e.site_id = {site:String}
),
activity AS
(
    SELECT who, toMonday(occurred_at) AS week
    FROM people
    WHERE occurred_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
    GROUP BY who, week
),
cohorts AS (SELECT who, min(week) AS cohort FROM activity GROUP BY who)
SELECT
    cohort,
    dateDiff('week', cohort, week) AS week_number,
    uniqExact(activity.who) AS active,
    round(100 * active / any(size), 1) AS retained_pct
FROM activity
INNER JOIN cohorts USING (who)
INNER JOIN (SELECT cohort, uniqExact(who) AS size FROM cohorts GROUP BY cohort) AS sizes USING (cohort)
GROUP BY cohort, week_number
ORDER BY cohort, week_number
