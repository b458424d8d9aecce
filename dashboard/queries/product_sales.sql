-- Products by units sold (slow = 1: the least sold among viewed products first): views, cart adds,
-- units and revenue from order lines.
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01, segment String = *, slow UInt8 = 0
SELECT product_id, sum(views) AS views, sum(cart_adds) AS cart_adds, sum(units) AS units,
       sum(revenue) AS revenue
FROM
(
    SELECT product_id, countIf(type = 'product_view') AS views,
           countIf(type = 'cart_add') AS cart_adds, toUInt64(0) AS units,
           toDecimal128(0, 4) AS revenue
    FROM events_by_type FINAL
    WHERE site_id = {site:String} AND type IN ('product_view', 'cart_add') AND product_id != ''
      AND occurred_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)} AND ({segment:String} = '*' OR if(customer_id != '', customer_id, concat('anon-', anonymous_id)) IN (
          SELECT profile_id FROM segment_members_now
          WHERE site_id = {site:String} AND segment = {segment:String}))
    GROUP BY product_id
    UNION ALL
    SELECT item_id AS product_id, 0, 0, sum(toUInt64(item_unit)) AS units,
           sum(item_price * item_unit) AS revenue
    FROM events_by_type FINAL
    ARRAY JOIN item_ids AS item_id, item_units AS item_unit, item_prices AS item_price
    WHERE site_id = {site:String} AND type = 'order_placed' AND occurred_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
      AND ({segment:String} = '*' OR if(customer_id != '', customer_id, concat('anon-', anonymous_id)) IN (
          SELECT profile_id FROM segment_members_now
          WHERE site_id = {site:String} AND segment = {segment:String}))
    GROUP BY product_id
)
GROUP BY product_id
HAVING {slow:UInt8} = 0 OR views > 0
ORDER BY if({slow:UInt8} = 1, -toInt64(units), toInt64(units)) DESC, views DESC, product_id
LIMIT 15
