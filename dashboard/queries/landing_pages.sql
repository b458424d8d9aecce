-- Landing pages: sessions and visitors per session path, for sessions started in the period.
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01
SELECT landing_path, count() AS sessions, uniqExact(anonymous_id) AS visitors
FROM
(
    SELECT session_id, any(landing_path) AS landing_path, any(anonymous_id) AS anonymous_id,
           min(started_at) AS started
    FROM sessions
    WHERE site_id = {site:String}
    GROUP BY session_id
)
WHERE started BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
GROUP BY landing_path
ORDER BY sessions DESC, landing_path
LIMIT 20
