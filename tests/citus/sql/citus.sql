-- pg_insight on Citus (scripts/citus test): a coordinator and two workers, database insight_citus
-- with citus and pg_insight on every node. Scores of distributed tables equal the single-node
-- scores of the same rows (to 1e-12); EXPLAIN shows the scorers and aggregates inside the
-- workers' task queries.
\set VERBOSITY default
\set SHOW_CONTEXT never
SET client_min_messages = warning;
-- EXPLAIN without what differs between runs: shard numbers, OIDs, ports, costs
CREATE FUNCTION plan_shape(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || q LOOP
    l := regexp_replace(l, '_1\d{5}\M', '_N', 'g');
    l := regexp_replace(l, '''\d+''::oid', '''<rowtype>''::oid', 'g');
    l := regexp_replace(l, 'port=\d+', 'port=<worker>', 'g');
    RETURN NEXT l;
  END LOOP;
END $$;

-- the same rows twice: distributed by customer_id, and as a plain table on the coordinator
CREATE TABLE cust AS SELECT * FROM insight.demo_customers(20000, 7);
CREATE TABLE cust_local AS SELECT * FROM cust;
SELECT create_distributed_table('cust', 'customer_id');
CREATE TABLE orders AS SELECT * FROM insight.demo_orders(3000, 7);
CREATE TABLE orders_local AS SELECT * FROM orders;
SELECT create_distributed_table('orders', 'customer_id');

-- a model trained on the coordinator, before the catalog is distributed: the workers do not know
-- it, and say how to fix that
SELECT version FROM insight.train('buy', 'cust_local', 'purchased', 'logistic');
SELECT sum(insight.predict_purchase('buy', c)) FROM cust c;
-- the fix, on the coordinator only; a second call changes nothing
SELECT insight.distribute_catalog();
SELECT insight.distribute_catalog();
SELECT logicalrelid, partmethod FROM pg_dist_partition WHERE logicalrelid::text LIKE 'insight.%' ORDER BY 1;
SELECT nodeport > 0 AS worker, success, result FROM run_command_on_workers(
  'SELECT name || ''@'' || version FROM insight.models') ORDER BY nodeport;
-- on a worker the function says where to call it
SELECT success, result FROM run_command_on_workers('SELECT insight.distribute_catalog()') ORDER BY nodeport;

-- scoring: the table-row form and ROW(...) run inside every shard's query; each customer's score
-- equals the single-node score
CREATE TABLE d AS SELECT customer_id, insight.predict_purchase('buy', c) AS p,
                         insight.predict_purchase('buy', ROW(c.*)::cust) AS p_row FROM cust c;
CREATE TABLE l AS SELECT customer_id, insight.predict_purchase('buy', c) AS p FROM cust_local c;
SELECT count(*) AS customers, max(abs(d.p - l.p)) < 1e-12 AS same, max(abs(d.p_row - l.p)) < 1e-12 AS same_row
  FROM d JOIN l USING (customer_id);
SELECT plan_shape($$SELECT customer_id, insight.predict_purchase('buy', c) FROM cust c$$);

-- a new version trained on the coordinator is what the workers' next statement scores
SELECT version, deployed FROM insight.train('buy', 'cust_local', 'purchased', 'logistic',
                                             features => ARRAY['age', 'visits_30d'], deploy => 'always');
SELECT max(abs(insight.predict_purchase('buy', c) - insight.predict_purchase('buy@2', c))) = 0 AS v2_scored,
       max(abs(insight.predict_purchase('buy', c) - insight.predict_purchase('buy@1', c))) > 0 AS not_v1
  FROM cust c;
SELECT insight.deploy('buy', 1);
SELECT count(*) FILTER (WHERE insight.predict_purchase('buy', c) = insight.predict_purchase('buy@1', c)) = count(*) AS v1_again
  FROM cust c;

-- score_table into a distributed target
CREATE TABLE scores (customer_id bigint, score float8);
SELECT create_distributed_table('scores', 'customer_id');
CALL insight.score_table('buy', 'cust', 'scores', 'customer_id');
SELECT count(*), max(abs(s.score - l.p)) < 1e-12 AS same
  FROM (SELECT * FROM scores) s JOIN l USING (customer_id);

-- segments
SELECT version FROM insight.train('seg', 'cust_local', algorithm => 'kmeans',
                                  features => ARRAY['age', 'visits_30d', 'tenure_days'], options => '{"k": 4}');
CREATE TABLE ds AS SELECT customer_id, insight.segment('seg', c) AS s FROM cust c;
CREATE TABLE ls AS SELECT customer_id, insight.segment('seg', c) AS s FROM cust_local c;
SELECT count(*), count(*) FILTER (WHERE ds.s = ls.s) AS same FROM ds JOIN ls USING (customer_id);
SELECT plan_shape($$SELECT insight.segment('seg', c), count(*) FROM cust c GROUP BY 1$$);

-- training over a distributed table reads through the coordinator, in a fixed order: the same
-- table and seed give the same model
SELECT a.metrics->'roc_auc' = b.metrics->'roc_auc' AND a.metrics->'log_loss' = b.metrics->'log_loss' AS reproducible
  FROM insight.train('dist', 'cust', 'purchased', 'logistic', deploy => 'never') a,
       insight.train('dist', 'cust', 'purchased', 'logistic', deploy => 'never') b;

-- customer value: rfm and clv_summary grouped by the distribution column run on the workers;
-- the rows equal the single-node ones
SELECT plan_shape($$SELECT customer_id, insight.rfm(order_date, amount, '2026-07-01') FROM orders GROUP BY customer_id$$);
SELECT count(*) AS differing FROM (
  (SELECT customer_id, (insight.rfm(order_date, amount, '2026-07-01')).* FROM orders GROUP BY customer_id
   EXCEPT SELECT customer_id, (insight.rfm(order_date, amount, '2026-07-01')).* FROM orders_local GROUP BY customer_id)
  UNION ALL
  (SELECT customer_id, (insight.rfm(order_date, amount, '2026-07-01')).* FROM orders_local GROUP BY customer_id
   EXCEPT SELECT customer_id, (insight.rfm(order_date, amount, '2026-07-01')).* FROM orders GROUP BY customer_id)) x;
CREATE TABLE histories (customer_id bigint, frequency int, recency float8, t float8, monetary_value float8);
SELECT create_distributed_table('histories', 'customer_id');
INSERT INTO histories SELECT customer_id, (insight.clv_summary(order_date, amount, '2026-03-31')).* FROM orders GROUP BY customer_id;
CREATE TABLE histories_local AS
  SELECT customer_id, (insight.clv_summary(order_date, amount, '2026-03-31')).* FROM orders_local GROUP BY customer_id;
SELECT count(*) AS differing FROM (
  (SELECT * FROM histories EXCEPT SELECT * FROM histories_local)
  UNION ALL (SELECT * FROM histories_local EXCEPT SELECT * FROM histories)) x;
-- customers whose first order falls after the calibration end have no history yet
DELETE FROM histories WHERE frequency IS NULL;
DELETE FROM histories_local WHERE frequency IS NULL;
SELECT version FROM insight.train('bgnbd', 'histories_local', algorithm => 'bgnbd');
CREATE TABLE dh AS SELECT customer_id, insight.expected_purchases('bgnbd', h, 52) AS e, insight.p_alive('bgnbd', h) AS a
  FROM histories h;
CREATE TABLE lh AS SELECT customer_id, insight.expected_purchases('bgnbd', h, 52) AS e, insight.p_alive('bgnbd', h) AS a
  FROM histories_local h;
SELECT count(*), max(abs(dh.e - lh.e)) < 1e-12 AS same_purchases, max(abs(dh.a - lh.a)) < 1e-12 AS same_alive
  FROM dh JOIN lh USING (customer_id);

-- training aggregates grouped by the distribution column run whole on the workers
SELECT plan_shape($$SELECT customer_id, insight.kmeans_agg(ARRAY[amount]::float8[], 1) FROM orders GROUP BY customer_id$$);

-- grouped by anything else, or not grouped: each worker aggregates its shards' rows to partial
-- states (worker_partial_agg, shipped as insight.agg_state text) and the coordinator combines
-- them (coord_combine_agg); the results equal the single-node ones
SELECT plan_shape($$SELECT region, insight.fit_agg('logistic', ARRAY[age, visits_30d]::float8[], purchased) FROM cust GROUP BY region$$);
SELECT plan_shape($$SELECT insight.rfm(order_date, amount, '2026-07-01') FROM orders$$);
SELECT plan_shape($$SELECT insight.clv_summary(order_date, amount, '2026-03-31') FROM orders$$);
SELECT plan_shape($$SELECT insight.kmeans_agg(ARRAY[amount]::float8[], 2) FROM orders$$);
SELECT count(*) AS differing FROM (
  (SELECT order_date < '2025-01-01' AS early, (insight.rfm(order_date, amount, '2026-07-01')).* FROM orders GROUP BY 1
   EXCEPT SELECT order_date < '2025-01-01', (insight.rfm(order_date, amount, '2026-07-01')).* FROM orders_local GROUP BY 1)
  UNION ALL
  (SELECT order_date < '2025-01-01', (insight.rfm(order_date, amount, '2026-07-01')).* FROM orders_local GROUP BY 1
   EXCEPT SELECT order_date < '2025-01-01', (insight.rfm(order_date, amount, '2026-07-01')).* FROM orders GROUP BY 1)) x;
-- day totals add up in another order across shards: float8 sums equal to 1e-12 relative
SELECT (d).frequency = (l).frequency AND (d).recency = (l).recency AND (d).t = (l).t AS same_days,
       abs((d).monetary_value - (l).monetary_value) <= 1e-12 * (l).monetary_value AS same_value
  FROM (SELECT insight.clv_summary(order_date, amount, '2026-03-31') AS d FROM orders) a,
       (SELECT insight.clv_summary(order_date, amount, '2026-03-31') AS l FROM orders_local) b;
-- a model per region from partial samples: the same sample, so the same model (scores to 1e-12)
CREATE TEMP TABLE region_models AS
  SELECT region, insight.fit_agg('logistic', ARRAY[age, visits_30d]::float8[], purchased) AS m FROM cust GROUP BY region;
CREATE TEMP TABLE region_models_local AS
  SELECT region, insight.fit_agg('logistic', ARRAY[age, visits_30d]::float8[], purchased) AS m FROM cust_local GROUP BY region;
SELECT count(*) AS regions FROM (SELECT insight.save_model('region_' || region, m, ARRAY['age', 'visits_30d'], deploy => 'always')
                                   FROM region_models) s;
SELECT count(*) AS regions FROM (SELECT insight.save_model('region_local_' || region, m, ARRAY['age', 'visits_30d'], deploy => 'always')
                                   FROM region_models_local) s;
SELECT count(*) AS customers,
       max(abs(insight.predict_purchase('region_' || region, c) - insight.predict_purchase('region_local_' || region, c))) < 1e-12 AS same_scores
  FROM cust_local c;
CREATE TEMP TABLE segments AS SELECT insight.kmeans_agg(ARRAY[amount, extract(dow FROM order_date)]::float8[], 3) AS m FROM orders;
CREATE TEMP TABLE segments_local AS
  SELECT insight.kmeans_agg(ARRAY[amount, extract(dow FROM order_date)]::float8[], 3) AS m FROM orders_local;
SELECT count(*) FROM (SELECT insight.save_model('order_segments', m, ARRAY['amount', 'dow']) FROM segments) s;
SELECT count(*) FROM (SELECT insight.save_model('order_segments_local', m, ARRAY['amount', 'dow']) FROM segments_local) s;
SELECT count(*) AS centre_values, bool_and(a.center = b.center) AS same_centres
  FROM insight.centroids('order_segments') a JOIN insight.centroids('order_segments_local') b USING (segment, feature);

-- a table distributed after a scorer was planned on it as a plain table: the next plan knows
-- (the planner's answers are forgotten at Citus's relcache invalidation), and scores the same
CREATE TABLE late AS SELECT * FROM cust_local WHERE customer_id <= 1000;
SELECT round(sum(insight.predict_purchase('buy', l))::numeric, 9) AS plain FROM late l;
SELECT create_distributed_table('late', 'customer_id');
SELECT round(sum(insight.predict_purchase('buy', l))::numeric, 9) AS distributed FROM late l;

-- recommendations: customers of a distributed table, each scored on the worker holding it
CREATE TABLE lines AS SELECT customer_id, product_id, quantity FROM insight.demo_interactions(1000, 7);
SELECT version FROM insight.train('recs', 'lines', algorithm => 'item_knn',
                                  options => '{"customer": "customer_id", "item": "product_id"}');
CREATE TABLE dr AS SELECT c.customer_id, r.item, r.score FROM cust c
  CROSS JOIN LATERAL insight.recommend('recs', c.customer_id, 3) r WHERE c.customer_id <= 200;
CREATE TABLE lr AS SELECT c.customer_id, r.item, r.score FROM cust_local c
  CROSS JOIN LATERAL insight.recommend('recs', c.customer_id, 3) r WHERE c.customer_id <= 200;
SELECT (SELECT count(*) FROM dr) AS rows, count(*) AS matching FROM dr JOIN lr USING (customer_id, item)
 WHERE abs(dr.score - lr.score) < 1e-12;

-- the catalog's writers on a Citus cluster: evaluate and drift with record over a distributed
-- table, retrain over one, prune (whose deletes cascade between the reference tables); every
-- node sees the result
SELECT (insight.evaluate('buy', 'cust', record => true))->>'n_rows' AS evaluated;
SELECT count(*) AS drift_rows FROM insight.drift('buy', 'cust', record => true);
SELECT version, algorithm FROM insight.retrain('dist');
SELECT insight.prune('dist', keep => 1) AS pruned;
SELECT success, result FROM run_command_on_workers(
  $$SELECT string_agg(name || '@' || version, ' ' ORDER BY name, version) FROM insight.models$$) ORDER BY nodeport;
SELECT success, result FROM run_command_on_workers(
  $$SELECT (SELECT count(*) FROM insight.evaluations) || ' evaluations, ' || (SELECT count(*) FROM insight.drift_history) || ' drift rows, ' || (SELECT count(*) FROM insight.deployments) || ' deployments'$$)
 ORDER BY nodeport;
SELECT plan_shape($$SELECT c.customer_id, r.item FROM cust c CROSS JOIN LATERAL insight.recommend('recs', c.customer_id, 3) r$$);

-- parallel plans, on the coordinator's own table and in the workers' shard queries: a scorer in a
-- parallel worker reads its node's placement of the catalog (Citus cannot run a distributed query
-- in a parallel worker)
SET citus.propagate_set_commands TO 'local';
BEGIN;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SELECT count(*) FILTER (WHERE line ~ 'Gather') > 0 AS parallel
  FROM plan_shape($$SELECT sum(insight.predict_purchase('buy', c)) FROM cust c$$) line;
SELECT count(*) FILTER (WHERE line ~ 'Gather') > 0 AS parallel
  FROM plan_shape($$SELECT sum(insight.predict_purchase('buy', c)) FROM cust_local c$$) line;
SELECT abs((SELECT sum(insight.predict_purchase('buy', c)) FROM cust c) - (SELECT sum(p) FROM l)) < 1e-9 AS distributed_same,
       abs((SELECT sum(insight.predict_purchase('buy', c)) FROM cust_local c) - (SELECT sum(p) FROM l)) < 1e-9 AS local_same;
COMMIT;

-- a role that is no superuser scores a distributed table (Citus creates the role on the workers);
-- it reads the model rows as anyone may, never the weights
CREATE ROLE citus_analyst LOGIN;
GRANT SELECT ON cust TO citus_analyst;
SET ROLE citus_analyst;
SELECT count(*) AS scored FROM cust c WHERE insight.predict_purchase('buy', c) IS NOT NULL;
SELECT count(*) FROM insight.models WHERE weights IS NOT NULL;
RESET ROLE;

-- a plain table of the coordinator joined to a distributed one: the call is not rewritten with
-- the coordinator's row type where Citus may ship it; Citus ships the plain table's rows to the
-- workers, where its row type does not exist (a limit of Citus: score such rows in a subquery
-- on the coordinator, or pass ROW(...) or an array)
SELECT sum(insight.predict_purchase('buy', cl)) FROM cust_local cl JOIN cust USING (customer_id);
-- the catalog is written on the coordinator only (its ids come from the coordinator's sequences)
SELECT success, result FROM run_command_on_workers($$SELECT insight.deploy('buy', 2)$$) ORDER BY nodeport;
