-- Current members of every segment (the latest change per profile and segment is 'entered').
-- params: site String = demo
SELECT segment, profile_id, since
FROM
(
    SELECT segment, profile_id, argMax(change, at) AS last_change, max(at) AS since
    FROM segment_changes FINAL
    WHERE site_id = {site:String}
    GROUP BY segment, profile_id
)
WHERE last_change = 'entered'
ORDER BY segment, profile_id
