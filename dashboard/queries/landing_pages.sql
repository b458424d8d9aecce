-- Landing pages: sessions and visitors per the first page a session viewed, for sessions started
-- in the period. (The sessions table's landing_path is any one path of the session.)
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01
SELECT landing_path, count() AS sessions, uniqExact(visitor) AS visitors
FROM
(
    SELECT session_id, argMin(path, (occurred_at, event_id)) AS landing_path,
           min(anonymous_id) AS visitor, min(occurred_at) AS started
    FROM events_by_type FINAL
    WHERE site_id = {site:String} AND type = 'page_view' AND session_id != ''
    GROUP BY session_id
)
WHERE started BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
GROUP BY landing_path
ORDER BY sessions DESC, landing_path
LIMIT 20
