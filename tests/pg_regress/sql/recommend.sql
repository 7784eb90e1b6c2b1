-- Recommenders over interactions (algorithm => 'als', 'item_knn', 'popularity'): planted tastes
-- found, recommendations with reasons, similar items and customers, held-out metrics, keys of
-- any type, and checked input. ALS's objective and the metrics by hand are pure tests
-- (ml::recommend).

-- 800 customers in four taste groups (customer_id % 4); each buys 8 of its group's 20 items
-- (item number % 4 = group) and one item at random; quantity 1 to 3
CREATE TABLE rec_events AS
SELECT c AS customer_id, 'item' || lpad(i::text, 2, '0') AS item_id, 1 + (c * 7 + i) % 3 AS quantity
  FROM generate_series(1, 800) c,
       LATERAL (SELECT DISTINCT CASE WHEN j < 8 THEN (c % 4) + 4 * ((abs(sin(c * 31.7 + j * 7.3)) * 1000)::int % 20)
                                     ELSE (abs(sin(c * 11.1 + j)) * 1000)::int % 80 END AS i
                  FROM generate_series(0, 8) j) s;
SELECT count(*) AS interactions, count(DISTINCT customer_id) AS customers, count(DISTINCT item_id) AS items FROM rec_events;

-- ALS finds the tastes: precision@10 on each customer's held-out items several times
-- popularity's (measured 0.1015 against 0.0214; item_knn 0.1011)
SELECT name, algorithm, deployed, (metrics->>'precision_at_k')::float8 > 3 * (metrics->'baseline_popularity'->>'precision_at_k')::float8 AS beats_popularity,
       (metrics->>'k')::int AS k, (metrics->>'customers')::int AS customers, (metrics->>'items')::int AS items,
       (metrics->>'interactions')::int AS interactions, (metrics->>'test_customers')::int > 500 AS most_customers_tested
  FROM insight.train('recs', 'rec_events', algorithm => 'als', options => '{"strength": "quantity"}');
SELECT name, (metrics->>'precision_at_k')::float8 > 0.08 AS finds_tastes
  FROM insight.train('recs_knn', 'rec_events', algorithm => 'item_knn');
SELECT name, (metrics->>'precision_at_k')::float8 < 0.03 AS popularity_is_weak
  FROM insight.train('recs_pop', 'rec_events', algorithm => 'popularity');
SELECT options->>'customer' AS customer, options->>'item' AS item, options->>'strength' AS strength, task,
       features->'interactions'->'customer'->>'type' AS customer_type
  FROM insight.models WHERE name = 'recs';

-- top 10 for customer 1 (group 1): none it has, most of its group, each with one of its own items
-- as the reason
SELECT count(*) AS recommended, count(*) FILTER (WHERE substr(r.item, 5)::int % 4 = 1) >= 7 AS mostly_its_taste,
       bool_and(r.item NOT IN (SELECT item_id FROM rec_events WHERE customer_id = 1)) AS none_seen,
       bool_and(r.reason IN (SELECT item_id FROM rec_events WHERE customer_id = 1)) AS reasons_are_its_items,
       bool_and(r.score IS NOT NULL) AS scored
  FROM insight.recommend('recs', 1) r;
-- best first; with exclude_seen => false its own items come back
SELECT bool_and(score >= lead_score) AS best_first FROM (
  SELECT score, lead(score, 1, '-Infinity') OVER () AS lead_score FROM insight.recommend('recs', 2, 20)) s;
SELECT count(*) FILTER (WHERE item IN (SELECT item_id FROM rec_events WHERE customer_id = 1)) > 0 AS seen_items_included
  FROM insight.recommend('recs', 1, 20, exclude_seen => false);
-- a customer the model has not seen gets the popular items; a NULL customer nothing
SELECT count(*) AS recommended, bool_and(reason = 'popular') AS popular
  FROM insight.recommend('recs', 123456, 5);
SELECT count(*) AS for_null FROM insight.recommend('recs', NULL::int);
-- item_knn explains with the customer's own items too; popularity says popular
SELECT bool_and(reason IN (SELECT item_id FROM rec_events WHERE customer_id = 3)) AS knn_reasons
  FROM insight.recommend('recs_knn', 3, 5);
SELECT bool_and(reason = 'popular') AS popularity_reasons FROM insight.recommend('recs_pop', 3, 5);
-- k beyond the items returns every unseen item
SELECT count(*) AS all_unseen FROM insight.recommend('recs', 1, 1000000);
-- one query recommends for every customer
SELECT count(*) AS rows, count(DISTINCT c.customer_id) AS customers
  FROM (SELECT DISTINCT customer_id FROM rec_events) c CROSS JOIN LATERAL insight.recommend('recs', c.customer_id, 3) r;

-- similar items share the taste; similar customers too
SELECT count(*) AS similar, count(*) FILTER (WHERE substr(item, 5)::int % 4 = 1) >= 4 AS same_taste,
       bool_and(similarity BETWEEN -1 AND 1) AS cosines
  FROM insight.similar_items('recs', 'item05'::text, 5);
SELECT count(*) FILTER (WHERE substr(item, 5)::int % 4 = 1) >= 4 AS knn_same_taste
  FROM insight.similar_items('recs_knn', 'item05'::text, 5);
SELECT count(*) AS similar, count(*) FILTER (WHERE customer::int % 4 = 1) >= 4 AS same_taste
  FROM insight.similar_customers('recs', 1, 5);

-- held-out interactions: each customer's newest purchase in a later period
CREATE TABLE rec_later AS
SELECT c AS customer_id, 'item' || lpad(((c % 4) + 4 * ((c * 13) % 20))::text, 2, '0') AS item_id
  FROM generate_series(1, 800) c
 WHERE NOT EXISTS (SELECT 1 FROM rec_events e WHERE e.customer_id = c
                      AND e.item_id = 'item' || lpad(((c % 4) + 4 * ((c * 13) % 20))::text, 2, '0'))
UNION ALL SELECT 900001, 'item01' UNION ALL SELECT 2, 'new_item';
SELECT (e->>'customers')::int AS customers, (e->>'unknown_customers')::int AS unknown_customers,
       (e->>'unknown_items')::int AS unknown_items, (e->>'k')::int AS k,
       (e->>'precision_at_k')::float8 BETWEEN 0 AND 1 AS precision_ok, (e->>'recall_at_k')::float8 > 0.3 AS recalls,
       (e->>'ndcg_at_k')::float8 BETWEEN 0 AND 1 AS ndcg_ok, (e->>'map_at_k')::float8 BETWEEN 0 AND 1 AS map_ok,
       (e->>'coverage')::float8 > 0.5 AS covers
  FROM insight.evaluate_recommender('recs', 'rec_later') e;
SELECT (insight.evaluate_recommender('recs', 'rec_later')->>'recall_at_k')::float8
     > 2 * (insight.evaluate_recommender('recs_pop', 'rec_later')->>'recall_at_k')::float8 AS als_beats_popularity_later;

-- keys of any type: uuid customers, bigint items; duplicates summed, refunds cancel: item
-- 1000000000099, bought and returned, is no item of the model (35 of the 36 keys)
CREATE TABLE rec_uuid AS
SELECT md5('c' || (i % 50))::uuid AS customer, (1000000000000 + (i % 50) % 5 * 10 + i % 7)::bigint AS product, 1 AS n
  FROM generate_series(1, 700) i;
INSERT INTO rec_uuid VALUES (md5('c1')::uuid, 1000000000099, 2), (md5('c1')::uuid, 1000000000099, -2);
SELECT name, (metrics->>'customers')::int AS customers, (metrics->>'items')::int AS items
  FROM insight.train('recs_uuid', 'rec_uuid', algorithm => 'als', options => '{"customer": "customer", "item": "product", "strength": "n", "factors": 4}');
SELECT count(*) AS recommended, bool_and(item ~ '^10000000000[0-9]{2}$') AS bigint_keys_as_text
  FROM insight.recommend('recs_uuid', md5('c1')::uuid, 3);
SELECT count(*) AS recommends_the_returned_item FROM insight.recommend('recs_uuid', md5('c2')::uuid, 100) WHERE item = '1000000000099';

-- a recommender scores no rows, and the row scorers say so
\pset tuples_only on
\pset format unaligned
SELECT try_sql($$SELECT insight.predict('recs', e) FROM rec_events e LIMIT 1$$);
SELECT try_sql($$SELECT * FROM insight.explain('recs', (SELECT e FROM rec_events e LIMIT 1))$$);
SELECT try_sql($$SELECT insight.evaluate('recs', 'rec_events')$$);
SELECT try_sql($$SELECT * FROM insight.recommend('recs', 1, 0)$$);
SELECT try_sql($$SELECT * FROM insight.recommend('recs', 1, NULL)$$);
SELECT try_sql($$SELECT * FROM insight.recommend(NULL, 1)$$);
SELECT try_sql($$SELECT * FROM insight.recommend('nope', 1)$$);
SELECT try_sql($$SELECT * FROM insight.similar_items('recs', 'no_such_item'::text)$$);
SELECT try_sql($$SELECT * FROM insight.similar_items('recs_pop', 'item05'::text)$$);
SELECT try_sql($$SELECT * FROM insight.similar_customers('recs_knn', 1)$$);
SELECT try_sql($$SELECT * FROM insight.similar_customers('recs', 424242)$$);
SELECT try_sql($$SELECT * FROM insight.evaluate_recommender('recs', 'rec_events', -1)$$);
-- bad training input: wrong columns and types, features, nothing to learn
SELECT try_sql($$SELECT * FROM insight.train('m', 'rec_events', algorithm => 'als', options => '{"item": "item_id", "customer": "shopper"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'rec_events', algorithm => 'als', options => '{"item": "item_id", "strength": "item_id"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'rec_events', algorithm => 'als', options => '{"item": "item_id", "strength": "customer_id"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'rec_events', algorithm => 'als', options => '{"item": 3}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'rec_events', algorithm => 'als', features => ARRAY['item_id'])$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'rec_events', target => 'quantity', algorithm => 'als')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'rec_events', algorithm => 'als', options => '{"item": "item_id", "factors": 0}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'rec_events', algorithm => 'als', options => '{"item": "item_id", "impute": "mean"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'rec_events', algorithm => 'item_knn', options => '{"item": "item_id", "neighbours": 0}')$$);
CREATE TABLE rec_one_item AS SELECT i AS customer_id, 'only' AS item_id FROM generate_series(1, 20) i;
SELECT try_sql($$SELECT * FROM insight.train('m', 'rec_one_item', algorithm => 'popularity')$$);
CREATE TABLE rec_empty (customer_id int, item_id text);
SELECT try_sql($$SELECT * FROM insight.train('m', 'rec_empty', algorithm => 'als')$$);
CREATE TABLE rec_inf AS SELECT 1 AS customer_id, 'a' AS item_id, 'Infinity'::float8 AS s;
SELECT try_sql($$SELECT * FROM insight.train('m', 'rec_inf', algorithm => 'als', options => '{"strength": "s"}')$$);
SELECT try_sql($$SELECT insight.fit_agg('als', ARRAY[1.0], 1) FROM rec_events$$);
-- a recommender holds every customer's items: with SELECT on insight.models revoked, a role
-- without it cannot read them through recommend
CREATE ROLE rec_outsider;
REVOKE SELECT ON insight.models FROM PUBLIC;
SET ROLE rec_outsider;
SELECT try_sql($$SELECT * FROM insight.recommend('recs', 1, 100, false)$$);
RESET ROLE;
GRANT SELECT (id, name, version, task, algorithm, relation, target, features, options, metrics, n_rows,
              train_seconds, created_at, created_by, report_data, xmin, cmin) ON insight.models TO PUBLIC;
DROP ROLE rec_outsider;
\pset tuples_only off
\pset format aligned
SELECT count(*) AS models_named_m FROM insight.models WHERE name = 'm';
-- rows with a NULL customer or item are left out with a NOTICE
CREATE TABLE rec_nulls AS SELECT * FROM rec_events UNION ALL SELECT NULL, 'item01', 1 UNION ALL SELECT 5, NULL, 1;
SELECT (metrics->>'skipped_rows')::int AS skipped, (metrics->>'interactions')::int AS interactions
  FROM insight.train('recs_nulls', 'rec_nulls', algorithm => 'popularity');
