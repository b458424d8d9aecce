-- Ratings per week: reviews, mean rating and low ratings (2 or less).
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01, segment String = *
SELECT toMonday(occurred_at) AS week, count() AS reviews,
       round(avg(rating), 2) AS mean_rating,
       countIf(rating <= 2) AS low_ratings
FROM events_by_type FINAL
WHERE site_id = {site:String} AND type = 'review' AND occurred_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
  AND ({segment:String} = '*' OR if(customer_id != '', customer_id, concat('anon-', anonymous_id)) IN (
          SELECT profile_id FROM segment_members_now
          WHERE site_id = {site:String} AND segment = {segment:String}))
GROUP BY week
ORDER BY week
