-- One profile's stage history.
-- params: site String = demo, profile String
SELECT at, from_stage, to_stage, cause
FROM journey_transitions FINAL
WHERE site_id = {site:String} AND profile_id = {profile:String}
ORDER BY at
