-- Current members per segment.
-- params: site String = demo, segment String = *
SELECT segment, count() AS members
FROM
(
    SELECT segment, profile_id
    FROM segment_membership
    WHERE site_id = {site:String} AND ({segment:String} = '*' OR segment = {segment:String})
    GROUP BY segment, profile_id
    HAVING argMaxMerge(last_change) = 'entered'
)
GROUP BY segment
ORDER BY members DESC, segment
