-- Weekly cohort retention: customers by the week of their first event, and the share active
-- in each following week.
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01
SELECT cohort, week_number, active,
       round(100 * active / first_value(active) OVER (PARTITION BY cohort ORDER BY week_number),
             1) AS retained_pct
FROM
(
    SELECT arrayMin(weeks) AS cohort, dateDiff('week', cohort, week) AS week_number,
           count() AS active
    FROM
    (
        SELECT who, groupUniqArray(toMonday(occurred_at)) AS weeks
        FROM people
        WHERE site_id = {site:String}
          AND occurred_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
        GROUP BY who
    )
    ARRAY JOIN weeks AS week
    GROUP BY cohort, week_number
)
ORDER BY cohort, week_number
