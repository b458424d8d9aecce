-- Members of the segment (of every segment for *) with their key figures from the profile.
-- params: site String = demo, segment String = *, limit UInt32 = 200
SELECT m.segment AS segment, m.profile_id AS profile_id, m.member_since AS member_since,
       p.stage AS stage, p.orders AS orders, p.revenue AS revenue,
       p.session_count AS sessions, p.last_seen AS last_seen
FROM
(
    SELECT segment, profile_id, since AS member_since
    FROM segment_members_now
    WHERE site_id = {site:String} AND ({segment:String} = '*' OR segment = {segment:String})
) AS m
LEFT JOIN
(
    SELECT profile_id, stage, orders, revenue, session_count, last_seen
    FROM profiles FINAL
    WHERE site_id = {site:String}
) AS p USING (profile_id)
ORDER BY segment, revenue DESC, profile_id
LIMIT {limit:UInt32}
