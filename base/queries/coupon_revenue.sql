-- Orders, revenue and average discount by coupon code.
-- params: site String = demo, from DateTime64(3) = 2000-01-01, to DateTime64(3) = 2100-01-01
SELECT if(coupon = '', '(none)', coupon) AS coupon_code,
       count() AS orders,
       sum(order_total) AS revenue,
       round(avg(discount), 2) AS avg_discount
FROM events_by_type FINAL
WHERE site_id = {site:String} AND type = 'order_placed'
  AND occurred_at BETWEEN {from:DateTime64(3)} AND {to:DateTime64(3)}
GROUP BY coupon_code
ORDER BY revenue DESC
