-- One profile's stored figures (the latest snapshot the worker published).
-- params: site String = demo, profile String
SELECT profile_id, customer_id, stage, stage_since, first_seen, last_seen, session_count,
       event_count, page_views, product_views, cart_adds, orders, revenue, currency
FROM profiles FINAL
WHERE site_id = {site:String} AND profile_id = {profile:String}
