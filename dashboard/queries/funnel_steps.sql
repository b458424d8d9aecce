-- Funnel: people reaching product view, cart, checkout and order in that order within 7 days,
-- and ordering again: for everyone (grouping = everyone), per first-touch channel (UTM source;
-- direct when none; grouping = channel) and per current segment (grouping = segment: a person
-- counts in each of theirs), from one pass over the period. Anonymous browsing counts for the
-- customer its browser later identified as.
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01, segment String = *
WITH people AS
(
    SELECT type, occurred_at, utm_source, who
    FROM people
    WHERE site_id = {site:String}
      AND type IN ('product_view', 'cart_add', 'checkout_started', 'order_placed')
      AND occurred_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
),
levels AS
(
    SELECT who,
           windowFunnel(7 * 86400)(toDateTime(occurred_at), type = 'product_view',
               type = 'cart_add', type = 'checkout_started', type = 'order_placed') AS level,
           countIf(type = 'order_placed') AS orders,
           argMinIf(utm_source, occurred_at, utm_source != '') AS first_source
    FROM people
    WHERE ({segment:String} = '*' OR who IN (
          SELECT profile_id FROM segment_members_now
          WHERE site_id = {site:String} AND segment = {segment:String}))
    GROUP BY who
),
members AS
(
    SELECT profile_id AS who, groupArray(segment) AS segments
    FROM segment_members_now
    WHERE site_id = {site:String}
    GROUP BY profile_id
)
SELECT g.1 AS grouping, g.2 AS group_name, countIf(level >= 1) AS viewed,
       countIf(level >= 2) AS carted, countIf(level >= 3) AS checked_out,
       countIf(level >= 4) AS ordered, countIf(level >= 4 AND orders >= 2) AS repeated
FROM levels LEFT JOIN members USING (who)
ARRAY JOIN arrayConcat([('everyone', 'everyone'),
                        ('channel', if(first_source = '', '(direct)', first_source))],
                       arrayMap(s -> ('segment', s), segments)) AS g
GROUP BY grouping, group_name
ORDER BY grouping, viewed DESC, group_name
