-- Orders for the customer-value benchmarks, from the project's seeded generator (insight.demo_orders:
-- a true BG/NBD purchase process with Gamma-Gamma amounts, about 4.9 orders a customer, up to
-- 2026-06-30). :customers customers' orders in bench_orders; the first 100,000 customers'
-- summaries (in weeks) in bench_histories for the model fits.
DROP TABLE IF EXISTS bench_orders;
CREATE TABLE bench_orders AS SELECT customer_id, order_date, amount FROM insight.demo_orders(:customers, 42);
VACUUM ANALYZE bench_orders;
DROP TABLE IF EXISTS bench_histories;
CREATE TABLE bench_histories AS
SELECT customer_id, (s).*
  FROM (SELECT customer_id, insight.clv_summary(order_date, amount, '2026-06-30', 'week') AS s
          FROM insight.demo_orders(100000, 7) GROUP BY customer_id) q;
VACUUM ANALYZE bench_histories;
