-- How live the data is: seconds since the newest stored event arrived at the collector, the median
-- collector-to-store delay of the last ten minutes, events stored in the last minute.
-- params: site String = demo
SELECT round(dateDiff('millisecond', max(received_at), now64(3)) / 1000, 1) AS seconds_since_last_event,
       round(quantileIf(0.5)(dateDiff('millisecond', received_at, inserted_at),
                             inserted_at > now64(3) - INTERVAL 10 MINUTE) / 1000, 2) AS store_delay_s,
       countIf(inserted_at > now64(3) - INTERVAL 1 MINUTE) AS stored_last_minute
FROM events
WHERE site_id = {site:String}
