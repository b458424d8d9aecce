-- Review ratings per product: count and mean rating.
-- params: site String = demo
SELECT product_id, count() AS reviews,
       round(avg(rating), 2) AS mean_rating,
       countIf(rating <= 2) AS low_ratings
FROM events_by_type FINAL
WHERE site_id = {site:String} AND type = 'review'
GROUP BY product_id
ORDER BY mean_rating ASC, reviews DESC
