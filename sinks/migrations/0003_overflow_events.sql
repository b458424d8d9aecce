-- Events the collector diverted to the overflow topic (flagged bots, placeholder anonymous ids
-- such as 'null' or 'undefined', one id flooding beyond the threshold): kept apart from
-- `events`, so they never reach profiles or the funnel, yet nothing accepted is lost.
-- up
CREATE TABLE IF NOT EXISTS overflow_events AS events;
-- down
DROP TABLE IF EXISTS overflow_events;
