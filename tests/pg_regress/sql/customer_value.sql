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

-- BG/NBD over the summary: lifetimes 0.11.3's BetaGeoFitter(penalizer_coef=0) on the same
-- customers gives r 0.24259454342106715, alpha 4.413602716077379, a 0.7929218333480146,
-- b 2.4259057287223023, LL -9582.429206673934 (tests/reference/clv_reference.out); Fader, Hardie
-- and Lee (2005) published r 0.243, alpha 4.414, a 0.793, b 2.426, LL -9582.4
SELECT name, algorithm, deployed,
       abs((metrics->'params'->>'r')::float8 / 0.24259454342106715 - 1) < 1e-5 AS r,
       abs((metrics->'params'->>'alpha')::float8 / 4.413602716077379 - 1) < 1e-5 AS alpha,
       abs((metrics->'params'->>'a')::float8 / 0.7929218333480146 - 1) < 1e-5 AS a,
       abs((metrics->'params'->>'b')::float8 / 2.4259057287223023 - 1) < 1e-5 AS b,
       abs((metrics->>'log_likelihood')::float8 + 9582.429206673934) < 1e-6 AS log_likelihood,
       metrics->>'customers' AS customers, metrics->>'repeat_customers' AS repeat_customers
  FROM insight.train('cdnow_bgnbd', 'ours', algorithm => 'bgnbd');
SELECT task, target, jsonb_object_keys(insight.model_info('cdnow_bgnbd')->'parameters'->'params') AS param
  FROM insight.models WHERE name = 'cdnow_bgnbd' ORDER BY param;
-- P(alive) and expected purchases in 39 and 10 weeks as lifetimes computes them with its own
-- parameters (within 1e-4; ours are the same fit to 1e-5)
SELECT h.x, h.t_x, h.t,
       abs(insight.p_alive('cdnow_bgnbd', ARRAY[h.x, h.t_x, h.t]) - h.alive) < 1e-4 AS p_alive,
       abs(insight.expected_purchases('cdnow_bgnbd', ARRAY[h.x, h.t_x, h.t], 39) - h.e39) < 1e-4 * greatest(h.e39, 1) AS e39,
       abs(insight.expected_purchases('cdnow_bgnbd', ARRAY[h.x, h.t_x, h.t], 10) - h.e10) < 1e-4 * greatest(h.e10, 1) AS e10
  FROM (VALUES (0, 0, 38.86, 1.0, 0.19478204751907122, 0.05421039255173159),
               (1, 30.43, 38.86, 0.700357028753308, 0.670732839336513, 0.19207060107373708),
               (2, 1.57, 38.86, 0.04863189070557629, 0.08204984219018947, 0.023889330285970393),
               (7, 29.43, 35.29, 0.7697247474863027, 4.291891781679001, 1.3032568468350336),
               (25, 37.0, 38.0, 0.948048438978529, 16.966871344749677, 5.207796610333364),
               (200, 35.0, 38.0, 0.00010599959323263622, 0.014849711069630199, 0.004596877623246087))
       h(x, t_x, t, alive, e39, e10) ORDER BY h.x;
-- a table row binds by column name; insight.predict gives P(alive)
SELECT count(*) AS customers, bool_and(insight.predict('cdnow_bgnbd', o) = insight.p_alive('cdnow_bgnbd', o)) AS predict_is_p_alive,
       round(sum(insight.expected_purchases('cdnow_bgnbd', o, 39))::numeric, 1) AS expected_next_39_weeks
  FROM ours o;
-- other column names through options; a penalizer shrinks the parameters as lifetimes' does
-- (BetaGeoFitter(penalizer_coef=0.1): a 0.12865625166459002)
CREATE TABLE ours_renamed AS SELECT customer_id, frequency AS repeats, recency AS last_week, t AS age_weeks FROM ours;
SELECT name, abs((metrics->'params'->>'r')::float8 / 0.24259454342106715 - 1) < 1e-5 AS same_r
  FROM insight.train('cdnow_renamed', 'ours_renamed', algorithm => 'bgnbd',
                     options => '{"frequency": "repeats", "recency": "last_week", "t": "age_weeks"}');
SELECT round((metrics->'params'->>'a')::numeric, 3) AS a_penalized
  FROM insight.train('cdnow_pen', 'ours', algorithm => 'bgnbd', options => '{"penalizer": 0.1}');
-- bad histories and requests
CREATE TABLE bad_hist AS SELECT * FROM ours;
UPDATE bad_hist SET recency = t + 1 WHERE customer_id = 5;
SELECT try_sql($$SELECT * FROM insight.train('m', 'bad_hist', algorithm => 'bgnbd')$$);
UPDATE bad_hist SET recency = NULL WHERE customer_id = 5;
SELECT try_sql($$SELECT * FROM insight.train('m', 'bad_hist', algorithm => 'bgnbd')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'cdnow', algorithm => 'bgnbd')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'ours', algorithm => 'bgnbd', target => 'frequency')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'ours', algorithm => 'bgnbd', features => ARRAY['frequency'])$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'ours', algorithm => 'bgnbd', options => '{"scale": true}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'ours', algorithm => 'bgnbd', options => '{"penalizer": -1}')$$);
CREATE TABLE no_repeats AS SELECT customer_id, 0 AS frequency, 0.0::float8 AS recency, t FROM ours;
SELECT try_sql($$SELECT * FROM insight.train('m', 'no_repeats', algorithm => 'bgnbd')$$);
SELECT try_sql($$SELECT insight.p_alive('cdnow_bgnbd', ARRAY[3, 40, 38])$$);
SELECT try_sql($$SELECT insight.p_alive('cdnow_bgnbd', ARRAY[1.5, 4, 38])$$);
SELECT try_sql($$SELECT insight.expected_purchases('cdnow_bgnbd', ARRAY[3, 4, 38], -1)$$);
SELECT try_sql($$SELECT insight.expected_purchases('cdnow_bgnbd', ARRAY[3, 4, 38], 'infinity')$$);
SELECT try_sql($$SELECT insight.p_alive('cdnow_bgnbd', ARRAY[1, 2])$$);
SELECT try_sql($$SELECT * FROM insight.explain('cdnow_bgnbd', ARRAY[1, 2, 3]::float8[])$$);
SELECT try_sql($$SELECT insight.predict_class('cdnow_bgnbd', ARRAY[1, 2, 3])$$);
SELECT try_sql($$SELECT insight.segment('cdnow_bgnbd', ARRAY[1, 2, 3])$$);
SELECT try_sql($$SELECT insight.evaluate('cdnow_bgnbd', 'ours')$$);
SELECT count(*) AS models_named_m FROM insight.models WHERE name = 'm';

-- Gamma-Gamma on the repeat customers, paired with the BG/NBD model (option transactions, or
-- its older name bgnbd, names it; its parameters are copied in): lifetimes 0.11.3's
-- GammaGammaFitter(penalizer_coef=0) gives p 6.249572277637132, q 3.744224674758082,
-- v 15.44352101835793, LL -4055.917694801871 (Fader and Hardie's note 025: 6.25, 3.74, 15.44)
SELECT name, algorithm,
       abs((metrics->'params'->>'p')::float8 / 6.249572277637132 - 1) < 1e-5 AS p,
       abs((metrics->'params'->>'q')::float8 / 3.744224674758082 - 1) < 1e-5 AS q,
       abs((metrics->'params'->>'v')::float8 / 15.44352101835793 - 1) < 1e-5 AS v,
       abs((metrics->>'log_likelihood')::float8 + 4055.917694801871) < 1e-6 AS log_likelihood,
       metrics->>'repeat_customers' AS repeat_customers,
       metrics->'transactions'->>'algorithm' AS paired_with,
       metrics->'transactions'->'params' = insight.model_info('cdnow_bgnbd')->'parameters'->'params' AS same_params
  FROM insight.train('cdnow_gg', 'ours', algorithm => 'gamma_gamma', options => '{"transactions": "cdnow_bgnbd"}');
SELECT insight.model_info('cdnow_gg')->'parameters'->'transactions'->>'algorithm' AS stored_pairing,
       insight.model_info('cdnow_gg')->'options'->>'transactions' AS named;
-- expected spend (insight.predict) and CLV over 12 months at 1% a month (lifetimes'
-- conditional_expected_average_profit and customer_lifetime_value(time=12, discount_rate=0.01,
-- freq='W'), within 1e-4 relative)
SELECT h.x, h.m, abs(insight.predict('cdnow_gg', ARRAY[h.x, 0, 38, h.m]) / h.spend - 1) < 1e-4 AS expected_spend
  FROM (VALUES (1, 30.0, 31.57760517140816), (5, 50.0, 48.802785070704076), (20, 25.5, 25.707754588611316)) h(x, m, spend)
 ORDER BY h.x;
SELECT h.x, abs(insight.predict_clv('cdnow_gg', ARRAY[h.x, h.t_x, h.t, h.m], 12, 0.01) / h.clv - 1) < 1e-4 AS clv
  FROM (VALUES (2, 30.43, 38.86, 22.35, 36.277485611146574), (7, 29.43, 35.29, 40.0, 202.0650110203626),
               (25, 37.0, 38.0, 15.0, 307.7818194562581)) h(x, t_x, t, m, clv)
 ORDER BY h.x;
-- the customers worth most in the next year, from a table row bound by column name
SELECT customer_id, frequency, round(insight.predict_clv('cdnow_gg', o, 12, 0.01)::numeric, 2) AS clv_12_months
  FROM ours o ORDER BY insight.predict_clv('cdnow_gg', o, 12, 0.01) DESC, customer_id LIMIT 5;
-- without a paired BG/NBD model the spend model still predicts spend, not value
SELECT metrics->'transactions' IS NULL AS unpaired FROM insight.train('cdnow_gg_alone', 'ours', algorithm => 'gamma_gamma');
SELECT try_sql($$SELECT insight.predict_clv('cdnow_gg_alone', ARRAY[2, 30, 38, 22], 12)$$);
SELECT try_sql($$SELECT insight.predict_clv('cdnow_bgnbd', ARRAY[2, 30, 38], 12)$$);
SELECT try_sql($$SELECT insight.predict_clv('cdnow_gg', ARRAY[2, 30, 38, 22], 1.5)$$);
SELECT try_sql($$SELECT insight.predict_clv('cdnow_gg', ARRAY[2, 30, 38, 22], 12, -1)$$);
SELECT try_sql($$SELECT insight.predict_clv('cdnow_gg', ARRAY[2, 30, 38, -22], 12)$$);
SELECT try_sql($$SELECT insight.p_alive('cdnow_gg', ARRAY[2, 30, 38, 22])$$);
SELECT try_sql($$SELECT * FROM insight.train('m2', 'ours', algorithm => 'gamma_gamma', options => '{"transactions": "cdnow_gg"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m2', 'ours', algorithm => 'gamma_gamma', options => '{"bgnbd": "no_such_model"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m2', 'ours', algorithm => 'gamma_gamma', options => '{"transactions": "cdnow_bgnbd", "bgnbd": "cdnow_bgnbd"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m2', 'ours', algorithm => 'gamma_gamma', options => '{"transactions_params": {"algorithm": "bgnbd", "params": {"r": 1}}}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m2', 'ours', algorithm => 'gamma_gamma', options => '{"transactions_params": {"algorithm": "kmeans", "params": {}}}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m2', 'ours', algorithm => 'gamma_gamma', options => '{"unit": "year"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m2', 'no_repeats', algorithm => 'gamma_gamma', options => '{"monetary_value": "t"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m2', 'ours', algorithm => 'bgnbd', options => '{"recency": "t"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m2', 'no_repeats', algorithm => 'gamma_gamma')$$);
SELECT count(*) AS models_named_m2 FROM insight.models WHERE name = 'm2';

-- RFM: recency, frequency and monetary value per customer, equal to the same in plain SQL
-- (monetary exactly: numeric sums); orders after as_of are left out, refunds (amounts below
-- 0) reduce monetary only; an order of 0 counts
CREATE TABLE rfm_ours AS
SELECT customer_id, (insight.rfm(order_date, amount, '1997-06-30')).* FROM cdnow GROUP BY customer_id;
CREATE TABLE rfm_sql AS
SELECT customer_id, DATE '1997-06-30' - max(order_date) FILTER (WHERE amount >= 0) AS recency_days,
       count(*) FILTER (WHERE amount >= 0) AS frequency, sum(amount) AS monetary,
       DATE '1997-06-30' - min(order_date) FILTER (WHERE amount >= 0) AS tenure_days
  FROM cdnow WHERE order_date <= '1997-06-30' GROUP BY customer_id;
SELECT count(*) AS customers,
       count(*) FILTER (WHERE o.recency_days = s.recency_days AND o.frequency = s.frequency
                          AND o.monetary = s.monetary AND o.tenure_days = s.tenure_days
                          AND o.monetary::text = s.monetary::text) AS equal_to_sql
  FROM rfm_ours o JOIN rfm_sql s USING (customer_id);
SELECT count(*) FILTER (WHERE o.frequency IS NULL) AS without_orders_before FROM rfm_ours o;
-- 2 workers doing all the scanning give the same rows
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SELECT count(*) FILTER (WHERE p.s = ROW(o.recency_days, o.frequency, o.monetary, o.tenure_days)::insight.rfm_stats) AS same_as_serial
  FROM (SELECT customer_id, insight.rfm(order_date, amount, '1997-06-30') AS s FROM cdnow GROUP BY customer_id) p
  JOIN rfm_ours o USING (customer_id);
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
SELECT insight.rfm(d, 1.0, '2020-01-01') IS NULL AS none_before_as_of FROM (VALUES ('2020-06-01'::date)) o(d);
SELECT insight.rfm(d, a, '2020-03-01') FROM (VALUES ('2020-01-01'::date, 10.10), ('2020-02-01', 5.005), ('2020-02-10', -3),
                                                  ('2020-04-01', 99), (NULL, 1)) o(d, a);
-- the named segments of quintile scores (the README's recipe) and the map itself
SELECT insight.rfm_segment(r, f, m) AS segment, count(*) AS customers
  FROM (SELECT ntile(5) OVER (ORDER BY recency_days DESC, customer_id) AS r, ntile(5) OVER (ORDER BY frequency, customer_id) AS f,
               ntile(5) OVER (ORDER BY monetary, customer_id) AS m
          FROM rfm_ours WHERE frequency IS NOT NULL) s
 GROUP BY 1 ORDER BY 2 DESC, 1;
SELECT r, string_agg(insight.rfm_segment(r, fm, fm), ' | ' ORDER BY fm) AS "FM 1 to 5"
  FROM generate_series(1, 5) r, generate_series(1, 5) fm GROUP BY r ORDER BY r DESC;
SELECT try_sql($$SELECT insight.rfm_segment(0, 3, 3)$$);
SELECT try_sql($$SELECT insight.rfm(order_date, amount, NULL) FROM cdnow GROUP BY customer_id$$);
SELECT try_sql($$SELECT insight.rfm(order_date, 'NaN', '1997-06-30') FROM cdnow GROUP BY customer_id$$);
SELECT try_sql($$SELECT insight.rfm(order_date, amount, order_date) FROM cdnow GROUP BY customer_id$$);
SELECT try_sql($$SELECT insight.rfm(order_date, 0.0000000000001, '1997-06-30') FROM cdnow GROUP BY customer_id$$);
SELECT try_sql($$SELECT insight.rfm(order_date, NULL, '1997-06-30') FROM cdnow GROUP BY customer_id$$);

-- Pareto/NBD on the same histories: lifetimes 0.11.3's ParetoNBDFitter (restarted to tolerance
-- 1e-12) gives r 0.5532770426525457, alpha 10.577683329623952, s 0.6062400207989389,
-- beta 11.668736982279665, LL -9594.976178939543 (published: 0.55, 10.58, 0.61, 11.67, -9595.0);
-- its likelihood is flat along s and beta, so parameters to 1e-3
SELECT name, algorithm,
       abs((metrics->'params'->>'r')::float8 / 0.5532770426525457 - 1) < 1e-3 AS r,
       abs((metrics->'params'->>'alpha')::float8 / 10.577683329623952 - 1) < 1e-3 AS alpha,
       abs((metrics->'params'->>'s')::float8 / 0.6062400207989389 - 1) < 1e-3 AS s,
       abs((metrics->'params'->>'beta')::float8 / 11.668736982279665 - 1) < 1e-3 AS beta,
       abs((metrics->>'log_likelihood')::float8 + 9594.976178939543) < 1e-4 AS log_likelihood
  FROM insight.train('cdnow_pareto', 'ours', algorithm => 'pareto_nbd');
-- P(alive) and expected purchases in 39 weeks, as lifetimes computes them (within 1e-3)
SELECT h.x, abs(insight.p_alive('cdnow_pareto', ARRAY[h.x, h.t_x, h.t]) / h.alive - 1) < 1e-3 AS p_alive,
       abs(insight.expected_purchases('cdnow_pareto', ARRAY[h.x, h.t_x, h.t], 39) / h.e39 - 1) < 1e-3 AS e39
  FROM (VALUES (0, 0, 38.86, 0.29509581319194084, 0.1070588687138199),
               (1, 30.43, 38.86, 0.8801912553833839, 0.8964847885433238),
               (7, 29.43, 35.29, 0.8708206743421758, 4.596858256643976),
               (200, 35.0, 38.0, 0.0009163497166330858, 0.12232313726089013)) h(x, t_x, t, alive, e39)
 ORDER BY h.x;
-- the Gamma-Gamma model paired with the Pareto/NBD model instead: CLV over 12 months at 1% a
-- month as lifetimes' customer_lifetime_value(ParetoNBDFitter refined as above, ...) computes it
-- (tests/reference/clv_reference.out, section (e)), within 1e-3 (the Pareto/NBD parameters' own
-- tolerance)
SELECT metrics->'transactions'->>'algorithm' AS paired_with
  FROM insight.train('cdnow_gg_pareto', 'ours', algorithm => 'gamma_gamma', options => '{"transactions": "cdnow_pareto"}');
SELECT h.x, abs(insight.predict_clv('cdnow_gg_pareto', ARRAY[h.x, h.t_x, h.t, h.m], 12, 0.01) / h.clv - 1) < 1e-3 AS clv
  FROM (VALUES (2, 30.43, 38.86, 22.35, 43.07854234869536), (7, 29.43, 35.29, 40.0, 218.76123209421536),
               (25, 37.0, 38.0, 15.0, 308.2298031073649)) h(x, t_x, t, m, clv)
 ORDER BY h.x;
-- the two models on these customers: log-likelihoods (4 parameters each)
SELECT m.name, round((m.metrics->>'log_likelihood')::numeric, 1) AS log_likelihood
  FROM insight.models m WHERE m.name IN ('cdnow_bgnbd', 'cdnow_pareto') ORDER BY 1;

-- found by attacking these functions: sums beyond float8 are 22003 (a parallel plan failed to
-- read its state back), scores are finite or 22003 (NaN and Infinity came back), absurd
-- frequencies are refused (the series ran seconds, deaf to cancel), exact amounts with trailing
-- zeros are taken, a gamma_gamma option bgnbd that is not a name is refused
SELECT try_sql($$SELECT insight.clv_summary(d, a, '2021-01-01') FROM (VALUES ('2020-01-01'::date, 1e308::numeric), ('2020-01-01', 1e308)) v(d, a)$$);
SELECT try_sql($$SELECT insight.clv_summary(d, a, '2021-01-01') FROM (VALUES ('2020-01-01'::date, 1e308::numeric), ('2020-01-02', 1e308), ('2020-01-03', 1e308)) v(d, a)$$);
SELECT try_sql($$SELECT insight.predict_clv('cdnow_gg', ARRAY[3, 10, 20, 10]::float8[], 1200, -0.999999)$$);
SELECT try_sql($$SELECT insight.expected_purchases('cdnow_bgnbd', ARRAY[3, 10, 20]::float8[], 1e17)$$);
SELECT try_sql($$SELECT insight.expected_purchases('cdnow_bgnbd', ARRAY[1e6, 19, 20]::float8[], 52)$$);
SELECT insight.expected_purchases('cdnow_bgnbd', ARRAY[0, 0, 1e300]::float8[], 1e-320)::text AS no_negative_zero;
SELECT (insight.rfm('2020-01-01', 1.0000000000000::numeric(20, 13), '2021-01-01')).monetary AS thirteen_decimals_of_zeros;
SELECT try_sql($$SELECT * FROM insight.train('m2', 'ours', algorithm => 'gamma_gamma', options => '{"bgnbd": 5}')$$);
