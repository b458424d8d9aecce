-- The most frequent words (4+ letters) in reviews rated 2 or lower.
-- params: site String = demo, limit UInt32 = 20
SELECT word, count() AS mentions
FROM events_by_type FINAL
ARRAY JOIN arrayDistinct(extractAll(lower(review_text), '[a-z]{4,}')) AS word
WHERE site_id = {site:String} AND type = 'review' AND rating <= 2
GROUP BY word
ORDER BY mentions DESC, word
LIMIT {limit:UInt32}
