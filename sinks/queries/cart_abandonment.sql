-- Cart abandonment: sessions with a cart add, the share that ended without an order, and the
-- value left in those carts (cart adds minus removes at list price).
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01
SELECT
    count() AS carts,
    countIf(orders = 0) AS abandoned,
    round(100 * abandoned / greatest(carts, 1), 1) AS abandonment_pct,
    sumIf(cart_value, orders = 0) AS abandoned_value
FROM
(
    SELECT session_id,
           sumIf(price * quantity, type = 'cart_add') - sumIf(price * quantity, type = 'cart_remove')
               AS cart_value,
           countIf(type = 'order_placed') AS orders
    FROM events FINAL
    WHERE site_id = {site:String} AND occurred_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
      AND session_id != ''
    GROUP BY if(customer_id != '', customer_id, anonymous_id), session_id
    HAVING countIf(type = 'cart_add') > 0
)
