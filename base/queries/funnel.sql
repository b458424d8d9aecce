-- Conversion funnel: people reaching each step (product view → cart → checkout → order) in
-- order within `window_days` days, among those active between `from` and `to`. Anonymous
-- browsing is attributed to the customer its browser later identified as.
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01, window_days UInt32 = 7
SELECT
    countIf(level >= 1) AS viewed,
    countIf(level >= 2) AS carted,
    countIf(level >= 3) AS checked_out,
    countIf(level >= 4) AS ordered,
    round(100 * countIf(level >= 4) / greatest(countIf(level >= 1), 1), 1) AS conversion_pct
FROM
(
    SELECT
        who,
        windowFunnel({window_days:UInt32} * 86400)(
            toDateTime(occurred_at),
            type = 'product_view', type = 'cart_add', type = 'checkout_started', type = 'order_placed'
        ) AS level
    FROM people
    WHERE site_id = {site:String}
      AND type IN ('product_view', 'cart_add', 'checkout_started', 'order_placed')
      AND occurred_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
    GROUP BY who
)
