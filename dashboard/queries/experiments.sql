-- Experiments with exposures in the period, most exposed first.
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01
SELECT experiment, count() AS exposures
FROM events_by_type
WHERE site_id = {site:String} AND type = 'experiment_exposure' AND occurred_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
GROUP BY experiment
ORDER BY exposures DESC, experiment
LIMIT 5
