-- Cart abandonment: carts (a person's session with a cart add), the share not followed by an
-- order from the same person within `hours` hours, and the value left in them (adds minus
-- removes at list price).
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01, hours UInt32 = 24
WITH carts AS
(
    SELECT who, session_id, max(occurred_at) AS last_cart_event,
           sumIf(price * quantity, type = 'cart_add') - sumIf(price * quantity, type = 'cart_remove')
               AS cart_value
    FROM people
    WHERE site_id = {site:String} AND type IN ('cart_add', 'cart_remove') AND session_id != ''
      AND occurred_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
    GROUP BY who, session_id
    HAVING countIf(type = 'cart_add') > 0
),
orders AS
(
    SELECT who, occurred_at FROM people
    WHERE site_id = {site:String} AND type = 'order_placed'
)
SELECT
    count() AS carts,
    countIf(ordered = 0) AS abandoned,
    round(100 * abandoned / greatest(carts, 1), 1) AS abandonment_pct,
    sumIf(cart_value, ordered = 0) AS abandoned_value
FROM
(
    SELECT carts.who, carts.session_id, any(carts.cart_value) AS cart_value,
           countIf(orders.occurred_at >= carts.last_cart_event - INTERVAL 1 HOUR
                   AND orders.occurred_at <= carts.last_cart_event + toIntervalHour({hours:UInt32}))
               AS ordered
    FROM carts LEFT JOIN orders ON carts.who = orders.who
    GROUP BY carts.who, carts.session_id
)
