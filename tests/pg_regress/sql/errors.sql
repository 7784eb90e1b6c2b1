-- Every bad input is an ERROR with a specific SQLSTATE, a message naming the problem and a hint
-- with the fix; the backend stays up and no model row is written.
\pset tuples_only on
\pset format unaligned
SELECT count(*) AS models_before FROM insight.models \gset
CREATE TABLE one_class AS SELECT customer_id, visits_30d, true AS bought FROM customers LIMIT 100;
CREATE TABLE empty_customers (LIKE customers);
CREATE TABLE with_nan (x float8, y bool);
INSERT INTO with_nan SELECT CASE WHEN i = 7 THEN 'NaN'::float8 ELSE i END, i % 2 = 0 FROM generate_series(1, 50) i;
CREATE TABLE with_inf (x float8, y bool);
INSERT INTO with_inf SELECT CASE WHEN i = 7 THEN 'Infinity'::float8 ELSE i END, i % 2 = 0 FROM generate_series(1, 50) i;
CREATE TABLE odd_types (j jsonb, x int, y bool);
INSERT INTO odd_types SELECT '{}', i, i % 2 = 0 FROM generate_series(1, 50) i;
CREATE TABLE other_shape (a int);
INSERT INTO other_shape VALUES (1);
CREATE TABLE text_visits AS SELECT customer_id, visits_30d::text AS visits_30d, email_opens_30d,
  days_since_last_purchase, support_tickets FROM customers LIMIT 5;
CREATE TABLE few_rows (x int, y bool);
INSERT INTO few_rows VALUES (1, true), (2, false);
CREATE TABLE nulls_t (x float8, y bool);
INSERT INTO nulls_t SELECT CASE WHEN i % 10 = 0 THEN NULL ELSE i END, i % 2 = 0 FROM generate_series(1, 50) i;

-- unknown relation, column, model, version
SELECT try_sql($$SELECT * FROM insight.train('m', 'no_such_table', target => 'purchased')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'no_such_column')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', features => ARRAY['visits_30d', 'nope'])$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', exclude => ARRAY['nope'])$$);
SELECT try_sql($$SELECT insight.predict('no_such_model', c) FROM customers c LIMIT 1$$);
SELECT try_sql($$SELECT insight.predict('purchase@99', c) FROM customers c LIMIT 1$$);
SELECT try_sql($$SELECT insight.predict('purchase@x', c) FROM customers c LIMIT 1$$);
SELECT try_sql($$SELECT insight.model_info('no_such_model')$$);
SELECT try_sql($$SELECT * FROM insight.feature_importance('no_such_model')$$);
SELECT try_sql($$SELECT insight.deploy('no_such_model')$$);
SELECT try_sql($$SELECT insight.deploy('purchase', 42)$$);
-- bad data
SELECT try_sql($$SELECT * FROM insight.train('m', 'one_class', target => 'bought')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'empty_customers', target => 'purchased')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'with_nan', target => 'y')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'with_inf', target => 'y')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'few_rows', target => 'y')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'nulls_t', target => 'y', options => '{"impute": "error"}')$$);
SELECT try_sql($$SELECT insight.predict('engagement', ARRAY[1, 'NaN', 3, 4]::float8[])$$);
-- wrong shapes and types
SELECT try_sql($$SELECT insight.predict('engagement', ARRAY[1, 2, 3])$$);
SELECT try_sql($$SELECT insight.predict('engagement', ARRAY[[1, 2], [3, 4]])$$);
SELECT try_sql($$SELECT insight.predict('engagement', ARRAY['a', 'b', 'c', 'd'])$$);
SELECT try_sql($$SELECT insight.predict('engagement', 42)$$);
SELECT try_sql($$SELECT insight.predict('engagement', ROW(1, 2))$$);
SELECT try_sql($$SELECT insight.predict('purchase', o) FROM other_shape o$$);
SELECT try_sql($$SELECT insight.predict('engagement', t) FROM text_visits t$$);
SELECT try_sql($$SELECT insight.predict('purchase', ARRAY[1, 2, 3])$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'odd_types', target => 'j')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'odd_types', target => 'y', features => ARRAY['j', 'x'])$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'region', algorithm => 'linear')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', features => ARRAY['purchased'])$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', features => ARRAY[]::text[])$$);
-- the wrong scorer for the model's task
SELECT try_sql($$SELECT insight.predict_proba('aov', c) FROM customers c LIMIT 1$$);
SELECT try_sql($$SELECT insight.predict_class('aov', c) FROM customers c LIMIT 1$$);
SELECT try_sql($$SELECT insight.predict_purchase('channel', c) FROM customers c LIMIT 1$$);
SELECT try_sql($$SELECT * FROM insight.lift('aov', 'customers')$$);
SELECT try_sql($$SELECT * FROM insight.lift('purchase', 'customers', bins => 0)$$);
SELECT try_sql($$SELECT insight.evaluate('purchase', 'other_shape')$$);
-- algorithms and options
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', algorithm => 'forest')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', algorithm => 'kmeans')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', options => '{"learning_rate": 0.1}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', options => '{"l2": -1}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', options => '{"max_iter": 0}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', options => '{"impute": "mode"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', options => '{"threshold": 2}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', options => '{"class_weight": "heavy"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', options => '{"positive_class": "maybe"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', options => '[1, 2]')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', test_size => 0)$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', test_size => 1.5)$$);
SELECT try_sql($$SELECT * FROM insight.train('', 'customers', target => 'purchased')$$);
SELECT try_sql($$SELECT * FROM insight.train('a@b', 'customers', target => 'purchased')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', deploy => 'sometimes')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', NULL, target => 'purchased')$$);
SELECT try_sql($$SELECT insight.deploy('purchase', strategy => 'random')$$);
SELECT try_sql($$SELECT * FROM insight.demo_customers(-1)$$);
-- long calls obey statement_timeout (and query cancel)
\set VERBOSITY terse
SET statement_timeout = '1ms';
SELECT * FROM insight.train('m', 'customers', target => 'purchased', exclude => ARRAY['customer_id']);
RESET statement_timeout;
\set VERBOSITY default
-- a damaged or future-format model row is a clear error, not a crash
SELECT count(*) FROM insight.train('damaged', 'customers', target => 'purchased', features => ARRAY['age'], deploy => 'always');
UPDATE insight.models SET weights = '\x00010203' WHERE name = 'damaged';
SELECT try_sql($$SELECT insight.predict('damaged', c) FROM customers c LIMIT 1$$);
UPDATE insight.models SET weights = '\x5047494d6300' WHERE name = 'damaged';
SELECT try_sql($$SELECT insight.predict('damaged', c) FROM customers c LIMIT 1$$);
DELETE FROM insight.models WHERE name = 'damaged';
-- privileges: training reads with the caller's rights
CREATE ROLE insight_regress_analyst;
SET ROLE insight_regress_analyst;
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased')$$);
RESET ROLE;
DROP ROLE insight_regress_analyst;
-- options that would do nothing with the others given are refused, not ignored
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', algorithm => 'mlp', options => '{"momentum": 0.5}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', algorithm => 'mlp', options => '{"optimizer": "sgd", "beta1": 0.5}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', algorithm => 'mlp', options => '{"early_stopping": false, "patience": 3}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'avg_order_value', algorithm => 'mlp', options => '{"threshold": 0.3}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'avg_order_value', options => '{"class_weight": "balanced"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', options => '{"hidden": [8]}')$$);
-- progress NOTICEs: insight.progress (insight.verbose, which needed quotes, is gone)
SET insight.progress = on;
SHOW insight.progress;
RESET insight.progress;
SELECT try_sql($$SET insight.verbose = on$$);

-- the backend is alive and nothing was written
SELECT 'alive' AS backend;
SELECT count(*) - :models_before AS models_written FROM insight.models;
SELECT count(*) AS models_named_m FROM insight.models WHERE name IN ('m', '', 'a@b');

-- inputs so large that their sums overflow float8 are an error, not an endless solve
CREATE TABLE huge_inputs AS SELECT i, (1e200 * i)::float8 AS x, (i % 2 = 0) AS label, i * 2.0 AS y FROM generate_series(1, 200) i;
SELECT try_sql($$SELECT * FROM insight.train('huge', 'huge_inputs', target => 'y', algorithm => 'linear', features => ARRAY['x'])$$);
SELECT try_sql($$SELECT * FROM insight.train('huge', 'huge_inputs', target => 'label', features => ARRAY['x'], options => '{"scale": false}')$$);
-- options jsonb that serde_json cannot hold: 22023, not an internal error
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', options => '{"seed": 1e400}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', options => ('{"a":' || repeat('[', 200) || repeat(']', 200) || '}')::jsonb)$$);
-- a regclass that names no relation (an OID of nothing, a dropped table's), or an index or a
-- sequence: 42P01 / 42809 naming it, never PostgreSQL's internal error XX000
CREATE TABLE soon_dropped (x int);
SELECT 'soon_dropped'::regclass::oid AS dropped_oid \gset
DROP TABLE soon_dropped;
SELECT try_sql($$SELECT * FROM insight.train('x', 0::regclass, 'purchased')$$);
SELECT regexp_replace(try_sql(format($$SELECT * FROM insight.train('x', %s::oid::regclass, 'purchased')$$, :dropped_oid)), 'OID [0-9]+', 'OID (the dropped table''s)') AS dropped;
SELECT try_sql($$SELECT insight.evaluate('purchase', 0::regclass)$$);
SELECT try_sql($$SELECT * FROM insight.roc_curve('purchase', 4294967295::oid::regclass)$$);
SELECT try_sql($$SELECT * FROM insight.lift('purchase', 'insight.models_pkey'::regclass)$$);
SELECT try_sql($$SELECT * FROM insight.drift('purchase', 'insight.models_id_seq'::regclass)$$);
SELECT try_sql($$CALL insight.score_table('purchase', 0::regclass, 'x', 'customer_id')$$);
SELECT try_sql($$SELECT * FROM insight.review_topics('purchase', 0::regclass)$$);
SELECT try_sql($$SELECT insight.evaluate_recommender('purchase', 0::regclass)$$);
SELECT 'alive' AS backend_after_bad_relations;
-- memory: training refuses above insight.max_train_memory (53200, nothing stored) while reading,
-- as soon as the rows read pass it (from a table or a view); the least setting is 128 MB (twice
-- the fixed 64 MB); 100,000 rows of 11 inputs pass it
CREATE TABLE customers_x20 AS SELECT c.* FROM customers c, generate_series(1, 20);
CREATE VIEW customers_view AS SELECT * FROM customers_x20;
SET insight.max_train_memory = '129MB';
SELECT try_sql($$SELECT * FROM insight.train('mem', 'customers_view', target => 'purchased')$$);
ANALYZE customers_x20;
SELECT try_sql($$SELECT * FROM insight.train('mem', 'customers_x20', target => 'purchased')$$);
SELECT try_sql($$SELECT * FROM insight.train('mem', 'customers_x20', target => 'purchased', features => ARRAY['age'])$$) AS one_column_fits;
SELECT try_sql($$SET insight.max_train_memory = '1MB'$$) AS below_the_least;
RESET insight.max_train_memory;
SELECT count(*) AS mem_versions FROM insight.models WHERE name = 'mem';
DROP VIEW customers_view;
DROP TABLE customers_x20;
CREATE ROLE mem_user;
GRANT EXECUTE ON FUNCTION try_sql(text) TO mem_user;
SET ROLE mem_user;
SELECT try_sql($$SET insight.max_train_memory = '100GB'$$) AS only_superusers_raise_it;
RESET ROLE;
DROP OWNED BY mem_user;
DROP ROLE mem_user;
-- a text feature whose column became a number (ALTER TABLE between training and evaluating):
-- evaluate refuses as the scorers do (42804), instead of reading the numbers as unknown categories
CREATE TABLE retyped AS SELECT * FROM customers LIMIT 300;
SELECT count(*) AS trained FROM insight.train('retyped', 'retyped', target => 'purchased', features => ARRAY['age', 'region']);
ALTER TABLE retyped ALTER COLUMN region TYPE int USING length(region);
SELECT try_sql($$SELECT insight.evaluate('retyped', 'retyped')$$);
SELECT try_sql($$SELECT count(insight.predict_proba('retyped', t)) FROM retyped t$$);
-- insight.distribute_catalog without Citus: 0A000, and what to do instead
SELECT try_sql($$SELECT insight.distribute_catalog()$$);
