-- Training, scoring in every form, versions and deployment, evaluation.
\pset null '(null)'
SELECT name, version, algorithm, deployed,
       (metrics->>'roc_auc')::float8 > 0.78 AS auc_above_078,
       metrics->>'n_test' AS n_test, metrics->>'n_train' AS n_train, (metrics->>'converged')::bool AS converged
  FROM insight.train('purchase', 'customers', target => 'purchased');
-- every metric the contract promises is present
SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(insight.model_info('purchase')->'metrics') k
 WHERE k IN ('accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'log_loss');
-- probabilities are probabilities; the three binary scorers agree
SELECT count(*) FILTER (WHERE p NOT BETWEEN 0 AND 1) AS out_of_range,
       bool_and(p = insight.predict_proba('purchase', c)) AS proba_agrees,
       bool_and(p = insight.predict('purchase', c)) AS predict_agrees
  FROM customers c, LATERAL (SELECT insight.predict_purchase('purchase', c) AS p) s;
-- predict_class applies the threshold
SELECT bool_and((insight.predict_class('purchase', c) = 'true') = (insight.predict('purchase', c) >= 0.5)) AS threshold_ok
  FROM customers c;
-- the top customers by propensity buy far more often than average
SELECT round(avg(purchased::int), 2) > 0.8 AS top_decile_buys
  FROM (SELECT purchased FROM customers c ORDER BY insight.predict_purchase('purchase', c) DESC LIMIT 500) t;

-- a numeric-only model scores arrays by position, rows by name, anonymous ROWs by position
SELECT name, version, deployed FROM insight.train('engagement', 'customers', target => 'purchased',
  features => ARRAY['visits_30d', 'email_opens_30d', 'days_since_last_purchase', 'support_tickets']);
SELECT max(abs(insight.predict('engagement', c)
             - insight.predict('engagement', ARRAY[c.visits_30d, c.email_opens_30d, c.days_since_last_purchase, c.support_tickets])))
       < 1e-12 AS int_array_matches_row
  FROM customers c;
SELECT insight.predict('engagement', ARRAY[8, 5, 30, 1]) = insight.predict('engagement', ARRAY[8.0, 5.0, 30.0, 1.0]::float8[]) AS float8_array,
       insight.predict('engagement', ARRAY[8, 5, 30, 1]) = insight.predict('engagement', ARRAY[8, 5, 30, 1]::numeric[]) AS numeric_array,
       insight.predict('engagement', ARRAY[8, 5, 30, 1]) = insight.predict('engagement', ARRAY[8, 5, 30, 1]::bigint[]) AS bigint_array,
       insight.predict('engagement', ARRAY[8, 5, 30, 1]) = insight.predict('engagement', ROW(8, 5, 30, 1)) AS anonymous_row;
-- rows of all-fixed-width columns are read in place (rows with a NULL are deformed): same scores
CREATE TABLE engagement_fixed AS
SELECT customer_id, visits_30d::smallint AS visits_30d, email_opens_30d::bigint AS email_opens_30d,
       days_since_last_purchase::real AS days_since_last_purchase, support_tickets::float8 AS support_tickets,
       is_member
  FROM customers;
SELECT count(*) FILTER (WHERE email_opens_30d IS NULL) > 0 AS has_null_rows,
       max(abs(insight.predict('engagement', f)
             - insight.predict('engagement', ARRAY[f.visits_30d, f.email_opens_30d, f.days_since_last_purchase, f.support_tickets]::float8[])))
       < 1e-12 AS fixed_width_rows_match
  FROM engagement_fixed f;
-- NULL is imputed with the training mean (encoded as 0): NULL in an array equals NULL in a row
SELECT insight.predict('engagement', ARRAY[8, NULL, 30, 1]) =
       insight.predict('engagement', ROW(8, NULL::int, 30, 1)) AS null_imputed_alike;
-- a NULL row gives NULL (the scorers are strict)
SELECT insight.predict('engagement', NULL::customers) AS null_row;

-- versions: a worse model (one noise feature) is stored but not deployed
SELECT name, version, deployed FROM insight.train('purchase', 'customers', target => 'purchased', features => ARRAY['age']);
SELECT name, deployed_version, latest_version, versions, algorithm, task FROM insight.model_registry ORDER BY name;
-- 'name@version' scores a given version; deploying one is seen by the next statement
SELECT count(*) FILTER (WHERE insight.predict('purchase@2', c) <> insight.predict('purchase', c)) > 0 AS versions_differ
  FROM customers c;
SELECT insight.deploy('purchase', 2) = (SELECT id FROM insight.models WHERE name = 'purchase' AND version = 2) AS deployed_v2;
SELECT bool_and(insight.predict('purchase', c) = insight.predict('purchase@2', c)) AS now_serves_v2 FROM customers c;
SELECT insight.deploy('purchase', strategy => 'best') = (SELECT id FROM insight.models WHERE name = 'purchase' AND version = 1) AS best_is_v1;
SELECT insight.model_info('purchase')->>'version' AS serving_version, (insight.model_info('purchase')->>'deployed')::bool AS deployed;
SELECT name, (SELECT version FROM insight.models m WHERE m.id = d.model_id) AS version, strategy
  FROM insight.deployments d ORDER BY d.id;

-- evaluation on a labelled relation
SELECT (insight.evaluate('purchase', 'customers')->>'roc_auc')::float8 > 0.78 AS auc_ok,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(insight.evaluate('purchase', 'customers')) k) AS keys;
SELECT count(*) > 1000 AS many_points, min(tpr) AS min_tpr, max(tpr) AS max_tpr, max(fpr) AS max_fpr,
       bool_and(threshold IS NOT NULL) AS thresholds
  FROM insight.roc_curve('purchase', 'customers');
-- lift: first bin well above 1, gains reach 1, bins hold equal counts
SELECT bin, customers, positives > 0 AS has_positives, lift > 1 AS above_average, round(cumulative_gain::numeric, 4) = 1 AS all_found
  FROM insight.lift('purchase', 'customers', bins => 5);

-- explanation: contributions add up to the log-odds
SELECT abs(sum(contribution) - ln(p / (1 - p))) < 1e-9 AS sums_to_logit, count(*) AS terms
  FROM customers c,
       LATERAL (SELECT insight.predict('purchase', c) AS p) s,
       LATERAL insight.explain('purchase', c) e
 WHERE c.customer_id = 1
 GROUP BY p;

-- multiclass (channel) and regression (avg_order_value)
SELECT name, algorithm, (metrics->>'accuracy')::float8 > 0.3 AS better_than_chance
  FROM insight.train('channel', 'customers', target => 'channel', exclude => ARRAY['purchased']);
SELECT insight.predict_class('channel', c) IN ('web', 'store', 'app', 'email') AS known_label,
       insight.predict('channel', c) BETWEEN 0 AND 3 AS class_number
  FROM customers c WHERE customer_id = 1;
SELECT name, algorithm, (metrics->>'rmse')::float8 > 0 AS has_rmse, metrics ? 'r2' AS has_r2
  FROM insight.train('aov', 'customers', target => 'avg_order_value');
SELECT insight.predict('aov', c) > 0 AS positive_value FROM customers c WHERE customer_id = 1;

-- scoring functions are STABLE and PARALLEL SAFE
SELECT proname, provolatile, proparallel FROM pg_proc
 WHERE pronamespace = 'insight'::regnamespace AND proname IN ('predict', 'predict_proba', 'predict_class', 'predict_purchase', 'explain')
 ORDER BY 1;

-- identifiers are quoted, never injected
CREATE TABLE "we;ird ""tbl""" ("cust; DROP TABLE customers;--" int, "label""x" bool, "Région" text);
INSERT INTO "we;ird ""tbl"""
SELECT i % 17, (i % 17) > 8 OR i % 5 = 0, CASE WHEN i % 3 = 0 THEN 'nord' ELSE 'süd' END FROM generate_series(1, 300) i;
SELECT name, version, algorithm FROM insight.train('hostile', '"we;ird ""tbl"""', target => 'label"x');
SELECT insight.predict_class('hostile', t) AS cls, count(*) FROM "we;ird ""tbl""" t GROUP BY 1 ORDER BY 1;
SELECT count(*) AS customers_still_there FROM customers;

-- table rows are passed to the scorers column by column (planner rewrite), other rows whole;
-- both give the same scores, labels and errors
CREATE FUNCTION pg_temp.plan(q text) RETURNS SETOF text LANGUAGE plpgsql AS $f$
BEGIN
  RETURN QUERY EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || q;
END $f$;
SELECT regexp_replace(p, '''\d+''::oid', '<row type>') AS plan
  FROM pg_temp.plan($$SELECT insight.predict_purchase('engagement', c) FROM customers c$$) p;
SELECT p AS subquery_rows_stay_whole
  FROM pg_temp.plan($$SELECT insight.predict_purchase('engagement', c) FROM (SELECT * FROM customers LIMIT 1) c$$) p;
SELECT max(abs(a.p - b.p)) < 1e-12 AS same_scores, bool_and(a.cls = b.cls) AS same_labels
  FROM (SELECT customer_id, insight.predict('purchase', c) AS p, insight.predict_class('channel', c) AS cls FROM customers c) a
  JOIN (SELECT customer_id, insight.predict('purchase', c) AS p, insight.predict_class('channel', c) AS cls
          FROM (SELECT * FROM customers OFFSET 0) c) b USING (customer_id);
SELECT max(abs(insight.predict('engagement', c) - insight.predict('engagement', (SELECT x FROM customers x WHERE x.customer_id = c.customer_id))))
       < 1e-12 AS folded_same
  FROM customers c WHERE customer_id <= 200;
-- a NULL-extended outer-join row scores NULL, as a NULL row does
SELECT v.id, insight.predict_purchase('engagement', c) IS NULL AS is_null, insight.predict_class('purchase', c) AS cls_or_null
  FROM (VALUES (1), (-1)) v(id) LEFT JOIN customers c ON c.customer_id = v.id ORDER BY v.id;
-- dropped and added columns are bound by name
CREATE TABLE reshaped AS SELECT 0 AS junk, * FROM customers WHERE customer_id <= 100;
ALTER TABLE reshaped DROP COLUMN junk;
ALTER TABLE reshaped ADD COLUMN extra int DEFAULT 7;
SELECT bool_and(insight.predict('purchase', r) = insight.predict('purchase', c)) AS reshaped_same
  FROM reshaped r JOIN customers c USING (customer_id);
-- a prepared statement follows deployments
PREPARE top_score AS SELECT insight.predict('purchase', c) FROM customers c WHERE customer_id = 1;
EXECUTE top_score \gset first_
SELECT insight.deploy('purchase', 2) > 0 AS redeployed;
EXECUTE top_score \gset second_
SELECT :first_predict <> :second_predict AS changed,
       :second_predict = (SELECT insight.predict('purchase@2', c) FROM customers c WHERE customer_id = 1) AS serves_v2;
SELECT insight.deploy('purchase', 1) > 0 AS back_to_v1;
DEALLOCATE top_score;

-- parallel query: workers score with the same results as the leader alone
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT sum(insight.predict_purchase('purchase', c)) FROM customers c;
SELECT round(sum(insight.predict_purchase('purchase', c))::numeric, 6) AS parallel_sum FROM customers c \gset
RESET max_parallel_workers_per_gather;
SET max_parallel_workers_per_gather = 0;
SELECT round(sum(insight.predict_purchase('purchase', c))::numeric, 6) = :parallel_sum AS same_as_serial FROM customers c;
RESET ALL;

-- the same table and seed train the same model whatever other scans did: on a table larger than
-- shared_buffers / 4 a synchronised scan would start where the last scan stopped, and the seeded
-- split would see the rows in another order (fillfactor 10 makes 20,000 rows fill ~45 MB)
CREATE TABLE big_sparse (id int, x1 float8, x2 float8, y bool, pad text) WITH (fillfactor = 10);
INSERT INTO big_sparse
SELECT i, sin(i), cos(i * 1.7), sin(i) + 0.5 * cos(i * 1.7) + 0.3 * sin(i * 13.1) > 0, repeat('p', 200)
  FROM generate_series(1, 20000) i;
SELECT pg_relation_size('big_sparse') / current_setting('block_size')::int
       > (SELECT setting::int FROM pg_settings WHERE name = 'shared_buffers') / 4 AS large_enough;
BEGIN;
DECLARE stop_midway CURSOR FOR SELECT * FROM big_sparse;
MOVE FORWARD 9000 IN stop_midway;
CLOSE stop_midway;
COMMIT;
SELECT model_id AS first_id FROM insight.train('sync_a', 'big_sparse', target => 'y', features => ARRAY['x1', 'x2'], deploy => 'never') \gset
BEGIN;
DECLARE stop_midway CURSOR FOR SELECT * FROM big_sparse;
MOVE FORWARD 3000 IN stop_midway;
CLOSE stop_midway;
COMMIT;
SELECT model_id AS second_id FROM insight.train('sync_b', 'big_sparse', target => 'y', features => ARRAY['x1', 'x2'], deploy => 'never') \gset
SELECT a.metrics - '{train_seconds,read_seconds,fit_seconds}'::text[] = b.metrics - '{train_seconds,read_seconds,fit_seconds}'::text[] AS same_metrics, a.weights = b.weights AS same_model
  FROM insight.models a, insight.models b WHERE a.id = :first_id AND b.id = :second_id;
-- and the user's own setting is left as it was
SHOW synchronize_seqscans;
DROP TABLE big_sparse;
