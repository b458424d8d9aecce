-- Weekly cohort retention: customers by the week of their first event, and the share active
-- in each following week.
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01
WITH activity AS
(
    SELECT who, toMonday(occurred_at) AS week
    FROM people
    WHERE site_id = {site:String} AND occurred_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
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
