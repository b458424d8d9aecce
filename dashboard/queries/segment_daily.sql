-- Segments per day: entering, leaving, and members at the end of the day.
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01, segment String = *
SELECT day, segment, entered, exited, members
FROM
(
    SELECT day, segment, entered, exited,
           sum(entered - exited) OVER (PARTITION BY segment ORDER BY day ASC) AS members
    FROM
    (
        SELECT toDate(at) AS day, segment, countIf(change = 'entered') AS entered,
               countIf(change = 'exited') AS exited
        FROM segment_changes FINAL
        WHERE site_id = {site:String} AND ({segment:String} = '*' OR segment = {segment:String})
        GROUP BY day, segment
    )
)
WHERE day BETWEEN toDate({from:DateTime64(3)}) AND toDate({to:DateTime64(3)})
ORDER BY day, segment
