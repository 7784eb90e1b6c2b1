-- Creates the extension and the seeded demo tables the other tests use.
CREATE EXTENSION pg_insight;
CREATE TABLE customers AS SELECT * FROM insight.demo_customers(5000, 7);
ALTER TABLE customers ADD PRIMARY KEY (customer_id);
CREATE TABLE orders AS SELECT * FROM insight.demo_orders(200, 7);
SELECT count(*) AS customers, round(avg(purchased::int), 3) AS purchase_rate,
       count(*) FILTER (WHERE email_opens_30d IS NULL) AS null_email_opens
  FROM customers;
SELECT count(*) > 200 AS has_orders, bool_and(order_date >= DATE '2021-01-01') AS recent FROM orders;
-- the generator is seeded: same seed, same data
SELECT count(*) AS differing_rows
  FROM insight.demo_customers(5000, 7) d JOIN customers c USING (customer_id)
 WHERE (d.*)::text <> (c.*)::text;
\i tests/pg_regress/sql/include/try_sql.sql
