-- Search terms that led nowhere: searches after which the session viewed or carted no product.
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01, segment String = *
WITH searches AS
(
    SELECT session_id, search_query AS term, occurred_at
    FROM events_by_type FINAL
    WHERE site_id = {site:String} AND type = 'search' AND occurred_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
      AND ({segment:String} = '*' OR if(customer_id != '', customer_id, concat('anon-', anonymous_id)) IN (
          SELECT profile_id FROM segment_members_now
          WHERE site_id = {site:String} AND segment = {segment:String}))
),
browsing AS
(
    SELECT session_id, max(occurred_at) AS last_browse
    FROM events_by_type
    WHERE site_id = {site:String} AND type IN ('product_view', 'cart_add')
      AND session_id IN (SELECT session_id FROM searches)
    GROUP BY session_id
)
SELECT term, count() AS searches, countIf(browsing.last_browse <= searches.occurred_at) AS dead_ends,
       round(100 * dead_ends / searches, 1) AS dead_end_pct
FROM searches LEFT JOIN browsing USING (session_id)
GROUP BY term
HAVING dead_ends > 0
ORDER BY dead_ends DESC, term
LIMIT 20
