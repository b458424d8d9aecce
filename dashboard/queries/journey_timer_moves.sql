-- Timer-made moves per day: stages a profile entered because nothing happened.
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01, segment String = *
SELECT toDate(at) AS day, to_stage, count() AS moves
FROM journey_transitions FINAL
WHERE site_id = {site:String} AND at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)} AND startsWith(cause, 'timer:')
  AND ({segment:String} = '*' OR profile_id IN (
          SELECT profile_id FROM segment_members_now
          WHERE site_id = {site:String} AND segment = {segment:String}))
GROUP BY day, to_stage
ORDER BY day, to_stage
