-- Current members of every segment (the latest change per profile and segment is 'entered').
-- params: site String = demo
SELECT segment, profile_id, since
FROM segment_members_now
WHERE site_id = {site:String}
ORDER BY segment, profile_id
