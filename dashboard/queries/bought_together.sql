-- Products bought together: pairs in the same order.
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01, segment String = *
SELECT pair.1 AS product_a, pair.2 AS product_b, count() AS together
FROM
(
    SELECT arraySort(arrayDistinct(item_ids)) AS products
    FROM events_by_type FINAL
    WHERE site_id = {site:String} AND type = 'order_placed' AND occurred_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
      AND ({segment:String} = '*' OR if(customer_id != '', customer_id, concat('anon-', anonymous_id)) IN (
          SELECT profile_id FROM segment_members_now
          WHERE site_id = {site:String} AND segment = {segment:String}))
      AND length(products) > 1
)
ARRAY JOIN arrayFlatten(arrayMap((x, i) -> arrayMap(y -> (x, y), arraySlice(products, i + 1)),
                              products, arrayEnumerate(products))) AS pair
GROUP BY product_a, product_b
ORDER BY together DESC, product_a, product_b
LIMIT 15
