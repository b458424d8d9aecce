-- Time in stage: hours from entering a stage to the next move, for stays that ended in the period.
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01, segment String = *
SELECT stage, count() AS stays, round(quantile(0.5)(hours), 1) AS median_hours,
       round(avg(hours), 1) AS mean_hours
FROM
(
    SELECT to_stage AS stage, at,
           leadInFrame(at) OVER (PARTITION BY profile_id ORDER BY at ASC
               ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS left_at,
           dateDiff('second', at, left_at) / 3600 AS hours
    FROM journey_transitions FINAL
    WHERE site_id = {site:String} AND from_stage != to_stage
      AND ({segment:String} = '*' OR profile_id IN (
          SELECT profile_id FROM segment_members_now
          WHERE site_id = {site:String} AND segment = {segment:String}))
)
WHERE left_at > at AND left_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
GROUP BY stage
ORDER BY median_hours DESC, stage
