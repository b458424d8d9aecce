-- One profile's latest events: its customer id's, and those of the browsers it identified on (an
-- anonymous profile is anon-<anonymous id>).
-- params: site String = demo, profile String, limit UInt32 = 200
SELECT occurred_at, type, anonymous_id, session_id, path, product_id, order_total, utm_source
FROM events_by_type FINAL
WHERE site_id = {site:String}
  AND (customer_id = {profile:String} OR concat('anon-', anonymous_id) = {profile:String}
       OR anonymous_id IN (SELECT anonymous_id FROM events
                           WHERE site_id = {site:String} AND customer_id = {profile:String}))
ORDER BY occurred_at DESC
LIMIT {limit:UInt32}
