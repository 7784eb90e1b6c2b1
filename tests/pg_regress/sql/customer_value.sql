-- Customer value from raw orders: insight.clv_summary against the lifetimes package on the CDNOW
-- sample that ships with it (tests/reference/clv_reference.py wrote the reference summaries with
-- lifetimes 0.11.3, summary_data_from_transaction_data(freq='D', freq_multiplier=7)).
\pset null '(null)'
CREATE TABLE cdnow (customer_id int, order_date date, amount numeric);
\copy cdnow FROM 'tests/reference/data/cdnow_sample_transactions.csv' WITH (FORMAT csv, HEADER)
CREATE TABLE lt_summary (customer_id int, frequency float8, recency float8, t float8, monetary_value float8);
\copy lt_summary FROM 'tests/reference/data/cdnow_summary_weeks.csv' WITH (FORMAT csv, HEADER)
CREATE TABLE lt_summary_0630 (LIKE lt_summary);
\copy lt_summary_0630 FROM 'tests/reference/data/cdnow_summary_weeks_0630.csv' WITH (FORMAT csv, HEADER)
SELECT count(*) AS orders, count(DISTINCT customer_id) AS customers FROM cdnow;

-- every customer's summary equals lifetimes' (up to the last bits of a float8 mean)
CREATE TABLE ours AS
SELECT customer_id, (insight.clv_summary(order_date, amount, '1997-09-30')).* FROM cdnow GROUP BY customer_id;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE o.frequency = l.frequency AND abs(o.recency - l.recency) < 1e-12
                          AND abs(o.t - l.t) < 1e-12 AND abs(o.monetary_value - l.monetary_value) < 1e-9) AS equal_to_lifetimes
  FROM ours o JOIN lt_summary l USING (customer_id);
-- a calibration end in the middle: later orders are left out
CREATE TABLE ours_0630 AS
SELECT customer_id, (insight.clv_summary(order_date, amount, '1997-06-30', 'week')).* FROM cdnow GROUP BY customer_id;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE o.frequency = l.frequency AND abs(o.recency - l.recency) < 1e-12
                          AND abs(o.t - l.t) < 1e-12 AND abs(o.monetary_value - l.monetary_value) < 1e-9) AS equal_to_lifetimes
  FROM ours_0630 o JOIN lt_summary_0630 l USING (customer_id);
-- the same with 2 parallel workers doing all the scanning (states serialised and combined)
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT insight.clv_summary(order_date, amount, '1997-09-30') FROM cdnow;
SELECT count(*) FILTER (WHERE s = o) AS same_as_serial, count(*) AS customers
  FROM (SELECT customer_id, insight.clv_summary(order_date, amount, '1997-09-30') AS s FROM cdnow GROUP BY customer_id) p
  JOIN (SELECT customer_id, ROW(frequency, recency, t, monetary_value)::insight.clv_stats AS o FROM ours) q USING (customer_id);
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;

-- units, same-day orders, orders after the end, NULL dates; a customer without orders up to
-- the end gives NULL
SELECT u, insight.clv_summary(d, a, '2020-04-10', u)
  FROM (VALUES ('2020-01-01'::date, 10.0), ('2020-01-01', 5.0), ('2020-01-15', 20.0), ('2020-02-12', 10.0),
               ('2020-05-01', 99.0), (NULL, 1.0)) o(d, a),
       (VALUES ('day'), ('week'), ('month')) v(u)
 GROUP BY u ORDER BY u;
SELECT insight.clv_summary(d, 1.0, '2020-01-01') IS NULL AS none_before_end FROM (VALUES ('2020-06-01'::date)) o(d);
-- bad input
SELECT try_sql($$SELECT insight.clv_summary(order_date, -amount, '1997-09-30') FROM cdnow GROUP BY customer_id$$);
SELECT try_sql($$SELECT insight.clv_summary(order_date, NULL, '1997-09-30') FROM cdnow GROUP BY customer_id$$);
SELECT try_sql($$SELECT insight.clv_summary(order_date, amount, NULL) FROM cdnow GROUP BY customer_id$$);
SELECT try_sql($$SELECT insight.clv_summary(order_date, amount, '1997-09-30', 'year') FROM cdnow GROUP BY customer_id$$);
SELECT try_sql($$SELECT insight.clv_summary(order_date, amount, '1997-09-30', NULL) FROM cdnow GROUP BY customer_id$$);
SELECT try_sql($$SELECT insight.clv_summary(order_date, amount, order_date) FROM cdnow GROUP BY customer_id$$);
SELECT try_sql($$SELECT insight.clv_summary('infinity', amount, '1997-09-30') FROM cdnow GROUP BY customer_id$$);
SELECT try_sql($$SELECT insight.clv_summary(order_date, 'NaN', '1997-09-30') FROM cdnow GROUP BY customer_id$$);
SELECT try_sql($$SELECT insight.clv_summary(order_date, amount, 'infinity') FROM cdnow GROUP BY customer_id$$);
