-- Current members per segment.
-- params: site String = demo, segment String = *
SELECT segment, count() AS members
FROM segment_members_now
WHERE site_id = {site:String} AND ({segment:String} = '*' OR segment = {segment:String})
GROUP BY segment
ORDER BY members DESC, segment
