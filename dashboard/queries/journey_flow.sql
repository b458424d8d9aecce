-- Journey moves in the period: from stage, to stage, how many, and how many a timer made (no
-- event: abandonment, at risk, churn).
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01, segment String = *
SELECT from_stage, to_stage, count() AS moves, countIf(startsWith(cause, 'timer:')) AS timer_moves
FROM journey_transitions FINAL
WHERE site_id = {site:String} AND at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)} AND from_stage != to_stage
  AND ({segment:String} = '*' OR profile_id IN (
          SELECT profile_id FROM segment_members_now
          WHERE site_id = {site:String} AND segment = {segment:String}))
GROUP BY from_stage, to_stage
ORDER BY moves DESC, from_stage, to_stage
