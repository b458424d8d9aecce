-- The sites this token reads: their first and last event day, events, and current segments.
-- params:
SELECT site_id, toString(toDate(min(occurred_at))) AS first_day,
       toString(toDate(max(occurred_at))) AS last_day, count() AS events,
       any(segments.segments) AS segments
FROM events_by_type
LEFT JOIN
(
    SELECT site_id, arraySort(groupUniqArray(segment)) AS segments
    FROM segment_membership
    GROUP BY site_id
) AS segments USING (site_id)
GROUP BY site_id
ORDER BY events DESC, site_id
