-- Training aggregates: insight.kmeans_agg and insight.fit_agg train one model per group in one
-- query, on a bounded sample of the group's rows; insight.save_model stores one as a version.
\pset null '(null)'
-- the three planted blobs of tests/reference/kmeans_reference.py, twice: group 'b' shifted by 10
CREATE TABLE agg_blobs AS
SELECT g, i, i % 3 AS blob,
       (ARRAY[0, 4, 0])[i % 3 + 1] + 1.3 * sin(((i + 1) * 2) * 0.37) * cos((i + 3) * 0.11 * 1) + s AS x1,
       (ARRAY[0, 4, 4])[i % 3 + 1] + 1.3 * sin(((i + 1) * 3) * 0.37) * cos((i + 3) * 0.11 * 2) + s AS x2,
       (ARRAY[0, 0, 4])[i % 3 + 1] + 1.3 * sin(((i + 1) * 4) * 0.37) * cos((i + 3) * 0.11 * 3) + s AS x3
  FROM generate_series(0, 599) i, (VALUES ('a', 0), ('b', 10)) v(g, s);

-- one k-means model per group; each is scikit-learn's KMeans(n_clusters=3, n_init=10) optimum on
-- its rows (inertia 761.0979641141: the shift does not change it) and recovers the blobs
CREATE TABLE agg_models AS
SELECT g, insight.kmeans_agg(ARRAY[x1, x2, x3], 3, '{"scale": false}') AS model FROM agg_blobs GROUP BY g;
SELECT g, s.name, s.version, s.algorithm, s.deployed,
       abs((s.metrics->>'inertia')::float8 - 761.0979641141) < 1e-6 AS inertia_as_scikit_learn,
       s.metrics->'sizes' AS sizes, s.metrics->>'sampled' AS sampled, s.metrics->>'rows_seen' AS rows_seen
  FROM agg_models, LATERAL insight.save_model('agg_km_' || g, model, ARRAY['x1', 'x2', 'x3']) s ORDER BY g;
SELECT g, count(DISTINCT insight.segment('agg_km_' || g, b)) AS segments,
       bool_and(per_blob = 1) AS one_segment_per_blob
  FROM (SELECT g, blob, count(DISTINCT insight.segment('agg_km_' || g, b)) AS per_blob
          FROM agg_blobs b GROUP BY g, blob) t
  JOIN agg_blobs b USING (g, blob) GROUP BY g ORDER BY g;
SELECT name, task, algorithm, relation, target, n_rows, options->>'sample_size' AS sample_size
  FROM insight.models WHERE name LIKE 'agg_km_%' ORDER BY name;

-- a parallel plan: each worker samples its rows, the leader combines (Partial and Finalize
-- Aggregate); the sample, and so the model, is the serial one
CREATE TABLE agg_big AS SELECT * FROM agg_blobs, generate_series(1, 40) r;
ANALYZE agg_big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
-- the workers scan every row: their states are serialised, and read back by the leader
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT insight.kmeans_agg(ARRAY[x1, x2, x3], 3, '{"sample_size": 500}') FROM agg_big;
SELECT (insight.save_model('agg_par', insight.kmeans_agg(ARRAY[x1, x2, x3], 3, '{"sample_size": 500}'),
                           ARRAY['x1', 'x2', 'x3'])).metrics->>'sampled' AS sampled FROM agg_big;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;
SET max_parallel_workers_per_gather = 0;
SELECT (insight.save_model('agg_serial', insight.kmeans_agg(ARRAY[x1, x2, x3], 3, '{"sample_size": 500}'),
                           ARRAY['x1', 'x2', 'x3'])).metrics->>'sample_rows' AS sample_rows FROM agg_big;
RESET max_parallel_workers_per_gather;
SELECT count(*) AS centre_values, bool_and(a.center = b.center) AS same_centres_serial_and_parallel
  FROM insight.centroids('agg_par') a JOIN insight.centroids('agg_serial') b USING (segment, feature);
SELECT (m.metrics->>'rows_seen')::int AS rows_seen, (m.metrics->>'sample_rows')::int AS sample_rows
  FROM insight.models m WHERE name = 'agg_par';

-- fit_agg: a linear model recovers a planted y = 2 a - 3 b + 1 exactly; NULL targets are left out
CREATE TABLE agg_lin AS
SELECT i % 2 AS g, (i % 17)::float8 AS a, (i % 11)::float8 AS b,
       CASE WHEN i % 50 = 0 THEN NULL ELSE 2 * (i % 17) - 3 * (i % 11) + 1 END::float8 AS y
  FROM generate_series(1, 2000) i;
SELECT g, s.algorithm, s.metrics->>'rows_skipped' AS skipped, round((s.metrics->>'r2')::numeric, 9) AS r2
  FROM (SELECT g, insight.fit_agg('linear', ARRAY[a, b], y, '{"scale": false}') AS m FROM agg_lin GROUP BY g) t,
       LATERAL insight.save_model('agg_lin_' || g, m, ARRAY['a', 'b'], target => 'y') s ORDER BY g;
SELECT g, max(abs(insight.predict('agg_lin_' || g, l) - y)) < 1e-6 AS exact FROM agg_lin l WHERE y IS NOT NULL GROUP BY g ORDER BY g;
SELECT target, relation FROM insight.models WHERE name = 'agg_lin_0';
-- classifiers: a boolean target per region, scored by column name; its metrics name the columns
SELECT s.algorithm, (s.metrics->>'roc_auc')::float8 > 0.6 AS learned, s.metrics->'feature_importance' ? 'visits_30d' AS named
  FROM (SELECT insight.fit_agg('logistic', ARRAY[visits_30d, email_opens_30d, days_since_last_purchase], purchased) AS m
          FROM customers) t,
       LATERAL insight.save_model('agg_logit', m, ARRAY['visits_30d', 'email_opens_30d', 'days_since_last_purchase'], target => 'purchased') s;
SELECT count(*) AS scored, bool_and(p BETWEEN 0 AND 1) AS probabilities
  FROM (SELECT insight.predict_proba('agg_logit', c) AS p FROM customers c) t;
SELECT region, length(insight.fit_agg('logistic', ARRAY[visits_30d, age], purchased)) > 0 AS model
  FROM customers GROUP BY region ORDER BY region;
-- mlp classifies integer targets and regresses float ones
CREATE TABLE agg_mlp AS
SELECT insight.fit_agg('mlp', ARRAY[a, b], (a > 8)::int, '{"epochs": 3}') AS c,
       insight.fit_agg('mlp', ARRAY[a, b], y, '{"epochs": 3}') AS r
  FROM (SELECT * FROM agg_lin LIMIT 500) l;
CREATE TABLE agg_mlp_models AS SELECT c AS m FROM agg_mlp;
SELECT (insight.save_model('agg_mlp_c', c, ARRAY['a', 'b'])).version, (insight.save_model('agg_mlp_r', r, ARRAY['a', 'b'])).version FROM agg_mlp;
SELECT name, task FROM insight.models WHERE name LIKE 'agg_mlp_%' ORDER BY 1;
-- a group whose every row has NULL inputs gives NULL, and no rows give NULL
SELECT insight.kmeans_agg(NULL::float8[], 3) IS NULL AS all_null, (SELECT insight.kmeans_agg(ARRAY[x1], 3) FROM agg_blobs WHERE false) IS NULL AS no_rows
  FROM agg_blobs LIMIT 1;

-- bad requests: errors at the first row, before the scan goes on
SELECT try_sql($$SELECT insight.kmeans_agg(ARRAY[x1, x2], NULL) FROM agg_blobs$$);
SELECT try_sql($$SELECT insight.kmeans_agg(ARRAY[x1, x2], 1) FROM agg_blobs$$);
SELECT try_sql($$SELECT insight.kmeans_agg(ARRAY[x1, x2], i % 2 + 2) FROM agg_blobs$$);
SELECT try_sql($$SELECT insight.kmeans_agg(ARRAY[x1, x2], 3, jsonb_build_object('seed', i)) FROM agg_blobs$$);
SELECT try_sql($$SELECT insight.kmeans_agg(CASE WHEN i = 5 THEN ARRAY[x1] ELSE ARRAY[x1, x2] END, 3) FROM agg_blobs$$);
SELECT try_sql($$SELECT insight.kmeans_agg(ARRAY[x1, 'NaN'], 3) FROM agg_blobs$$);
SELECT try_sql($$SELECT insight.kmeans_agg(ARRAY[[x1, x2], [x2, x3]], 3) FROM agg_blobs$$);
SELECT try_sql($$SELECT insight.kmeans_agg('{}'::float8[], 3) FROM agg_blobs$$);
SELECT try_sql($$SELECT insight.kmeans_agg(ARRAY[x1], 3, '{"k": 4}') FROM agg_blobs$$);
SELECT try_sql($$SELECT insight.kmeans_agg(ARRAY[x1], 3, '{"sample_size": 5}') FROM agg_blobs$$);
SELECT try_sql($$SELECT insight.kmeans_agg(ARRAY[x1], 3, '{"test_size": 0.3}') FROM agg_blobs$$);
SELECT try_sql($$SELECT insight.kmeans_agg(ARRAY[x1], 3, '{"linkage": "ward"}') FROM agg_blobs$$);
SELECT try_sql($$SELECT insight.kmeans_agg(ARRAY[x1], 3, '[1, 2]') FROM agg_blobs$$);
SELECT try_sql($$SELECT insight.kmeans_agg(ARRAY[x1], 2000) FROM agg_blobs$$);
SELECT try_sql($$SELECT insight.fit_agg('text_logistic', ARRAY[a], y) FROM agg_lin$$);
SELECT try_sql($$SELECT insight.fit_agg('kmeans', ARRAY[a], y) FROM agg_lin$$);
SELECT try_sql($$SELECT insight.fit_agg(NULL, ARRAY[a], y) FROM agg_lin$$);
SELECT try_sql($$SELECT insight.fit_agg('linear', ARRAY[a], y::text) FROM agg_lin$$);
SELECT try_sql($$SELECT insight.fit_agg('logistic', ARRAY[a], now()) FROM agg_lin$$);
SELECT try_sql($$SELECT insight.fit_agg('logistic', ARRAY[a], 1) FROM agg_lin$$);
SELECT try_sql($$SELECT insight.fit_agg('logistic', ARRAY[a], 'NaN'::float8) FROM agg_lin$$);
SELECT try_sql($$SELECT insight.fit_agg(CASE WHEN a > 3 THEN 'linear' ELSE 'mlp' END, ARRAY[a], y) FROM agg_lin$$);
SELECT try_sql($$SELECT insight.fit_agg('linear', ARRAY[a], y, '{"test_size": 1.5}') FROM agg_lin$$);
SELECT try_sql($$SELECT insight.fit_agg('linear', array_fill(a, ARRAY[5000]), y, '{"sample_size": 100000}') FROM agg_lin$$);
-- found by attacking the aggregates: values whose sums overflow float8 (an endless loop in the
-- solver before), options beyond what JSON numbers hold, rows left out counted once
SELECT try_sql($$SELECT insight.fit_agg('linear', ARRAY[1e300 * a], y) FROM agg_lin$$);
SELECT try_sql($$SELECT insight.fit_agg('linear', ARRAY[a], y, '{"seed": 1e400}') FROM agg_lin$$);
SELECT metrics->>'rows_seen' AS rows_seen, metrics->>'rows_skipped' AS skipped, metrics->>'sample_rows' AS sample_rows,
       metrics->>'sampled' AS sampled
  FROM insight.save_model('agg_skip', (SELECT insight.kmeans_agg(CASE WHEN i % 4 = 0 THEN NULL ELSE ARRAY[x1] END, 2) FROM agg_blobs),
                          ARRAY['x1']);
SELECT n_rows FROM insight.models WHERE name = 'agg_skip';
-- save_model checks what it is given
SELECT try_sql($$SELECT * FROM insight.save_model('x', '\x00010203', ARRAY['a'])$$);
SELECT try_sql($$SELECT * FROM insight.save_model('x', (SELECT model FROM agg_models WHERE g = 'a'), ARRAY['a', 'b'])$$);
SELECT try_sql($$SELECT * FROM insight.save_model('x', (SELECT model FROM agg_models WHERE g = 'a'), ARRAY['a', 'a', 'b'])$$);
SELECT try_sql($$SELECT * FROM insight.save_model('x', (SELECT model FROM agg_models WHERE g = 'a'), ARRAY['a', NULL, 'b'])$$);
SELECT try_sql($$SELECT * FROM insight.save_model('x', NULL, ARRAY['a'])$$);
SELECT try_sql($$SELECT * FROM insight.save_model('x', (SELECT model FROM agg_models WHERE g = 'a'), ARRAY['a', E'b\nc', 'd'])$$);
SELECT try_sql($$SELECT * FROM insight.save_model('x', (SELECT m FROM agg_mlp_models LIMIT 1), ARRAY['a', 'b'], target => 'a')$$);
SELECT try_sql($$SELECT * FROM insight.save_model('x@2', (SELECT model FROM agg_models WHERE g = 'a'), ARRAY['a', 'b', 'c'])$$);
SELECT try_sql($$SELECT * FROM insight.save_model('x', (SELECT model FROM agg_models WHERE g = 'a'), ARRAY['a', 'b', 'c'], deploy => 'maybe')$$);
-- a tampered model: every single-byte change is refused or stores a whole model, never a crash
-- (the bundle's length varies with the timings in its metrics: about 160 tries)
SELECT count(*) FILTER (WHERE r = 'ok') + count(*) FILTER (WHERE r LIKE '22023: model %') = count(*) AS refused_or_whole, count(*) > 100 AS tries
  FROM (SELECT try_sql(format($$SELECT * FROM insight.save_model('x_tampered', %L::bytea, ARRAY['a', 'b', 'c'], deploy => 'never')$$,
                              overlay(model placing decode(lpad(to_hex((get_byte(model, p) + 1) % 256), 2, '0'), 'hex') from p + 1 for 1))) AS r
          FROM agg_models, generate_series(0, length(model) - 1, 7) p WHERE g = 'a') t;
SELECT count(*) AS models_named_x FROM insight.models WHERE name = 'x';
-- The support functions take insight.agg_state (a real type, so that Citus can distribute the
-- aggregates). Anyone may call them, as Citus checks EXECUTE as the caller; they refuse to run
-- outside an aggregate, and read any state they did not make as if a stranger wrote it.
SELECT try_sql($$SELECT insight._agg_final(NULL)$$);
SELECT try_sql($$SELECT insight._agg_combine(NULL, NULL)$$);
CREATE ROLE agg_stranger;
GRANT SELECT ON agg_blobs TO agg_stranger;
SET ROLE agg_stranger;
SELECT try_sql($$SELECT insight._agg_final(NULL)$$);
-- a stranger's aggregates on our functions: a state of another kind is refused
CREATE AGGREGATE pg_temp.evil(float8[], int) (SFUNC = insight._kmeans_agg_step, STYPE = insight.agg_state, FINALFUNC = insight._rfm_final);
SELECT try_sql($$SELECT pg_temp.evil(ARRAY[x1, x2], 2) FROM agg_blobs$$);
-- a state as text and back: the same state, and a model trained from it
CREATE AGGREGATE pg_temp.kmeans_state(float8[], int, jsonb) (SFUNC = insight._kmeans_agg_step, STYPE = insight.agg_state);
CREATE AGGREGATE pg_temp.train_from(insight.agg_state) (SFUNC = insight._agg_combine, STYPE = insight.agg_state, FINALFUNC = insight._agg_final);
CREATE TEMP TABLE agg_state_text AS
  SELECT pg_temp.kmeans_state(ARRAY[x1, x2, x3], 3, '{"sample_size": 50, "seed": 5}')::text AS t FROM agg_blobs WHERE g = 'a';
SELECT left(t, 9) AS kind, t::insight.agg_state::text = t AS round_trip,
       (SELECT pg_temp.train_from(s) FROM (VALUES (t::insight.agg_state)) v(s)) IS NOT NULL AS trains
  FROM agg_state_text;
-- malformed text: 22P02 naming the problem
SELECT try_sql($$SELECT 'junk'::insight.agg_state$$);
SELECT try_sql($$SELECT 'nope:AAAA'::insight.agg_state$$);
SELECT try_sql($$SELECT 'rfm:AAAA'::insight.agg_state$$);
SELECT try_sql($$SELECT 'rfm:@@@@'::insight.agg_state$$);
SELECT try_sql(format($$SELECT %L::insight.agg_state$$, 'rfm' || substr(t, 9))) FROM agg_state_text;
-- every changed byte of a state (one in five) is refused at input or by training, or trains: never a crash
SELECT count(*) AS tries, count(*) FILTER (WHERE r = 'ok' OR r ~ '^(22P02|22023|22000|22003|XX001): ') = count(*) AS refused_or_trained
  FROM (SELECT try_sql(format($$SELECT pg_temp.train_from(%L::insight.agg_state)$$,
                              'training:' || translate(encode(overlay(b placing decode(lpad(to_hex((get_byte(b, p) + 1) % 256), 2, '0'), 'hex') from p + 1 for 1), 'base64'), E'\n', ''))) AS r
          FROM (SELECT decode(substr(t, 10), 'base64') AS b FROM agg_state_text) s,
               generate_series(0, length(b) - 1, 5) p) t;
-- the customer-grain states (rfm, clv_summary) are flat bytes changed in place: every changed
-- byte of one is refused at input, or read as a state that gives a row
CREATE AGGREGATE pg_temp.rfm_state(date, numeric, date) (SFUNC = insight._rfm_step, STYPE = insight.agg_state);
CREATE AGGREGATE pg_temp.clv_state(date, numeric, date) (SFUNC = insight._clv_summary_step, STYPE = insight.agg_state);
CREATE AGGREGATE pg_temp.rfm_from(insight.agg_state) (SFUNC = insight._rfm_combine, STYPE = insight.agg_state, FINALFUNC = insight._rfm_final);
CREATE AGGREGATE pg_temp.clv_from(insight.agg_state) (SFUNC = insight._clv_summary_combine, STYPE = insight.agg_state, FINALFUNC = insight._clv_summary_final);
CREATE TEMP TABLE cv_orders AS SELECT date '2020-01-01' + (i * 37 % 200) AS d, (i % 7 + 0.25)::numeric AS a FROM generate_series(1, 40) i;
CREATE TEMP TABLE cv_states AS
  SELECT pg_temp.rfm_state(d, a, '2020-06-01')::text AS rfm, pg_temp.clv_state(d, a, '2020-06-01')::text AS clv FROM cv_orders;
SELECT pg_temp.rfm_from(s) = (SELECT insight.rfm(d, a, '2020-06-01') FROM cv_orders) AS rfm_same,
       pg_temp.clv_from(c) = (SELECT insight.clv_summary(d, a, '2020-06-01') FROM cv_orders) AS clv_same
  FROM (SELECT rfm::insight.agg_state AS s, clv::insight.agg_state AS c FROM cv_states) x;
SELECT kind, count(*) AS tries, count(*) FILTER (WHERE r = 'ok' OR r ~ '^(22P02|22023|22000|22003): ') = count(*) AS refused_or_read
  FROM (SELECT kind, try_sql(format($$SELECT pg_temp.%s_from(%L::insight.agg_state)$$, kind,
                                    CASE kind WHEN 'rfm' THEN 'rfm:' ELSE 'clv_summary:' END
                                    || translate(encode(overlay(b placing decode(lpad(to_hex((get_byte(b, p) + 1) % 256), 2, '0'), 'hex') from p + 1 for 1), 'base64'), E'\n', ''))) AS r
          FROM (SELECT 'rfm' AS kind, decode(substr(rfm, 5), 'base64') AS b FROM cv_states
                UNION ALL SELECT 'clv', decode(substr(clv, 13), 'base64') FROM cv_states) s,
               generate_series(0, length(b) - 1) p) t GROUP BY kind ORDER BY kind;
-- a state of another kind as an aggregate's initial state
SELECT try_sql(format($$CREATE AGGREGATE pg_temp.mixed_init(date, numeric, date) (SFUNC = insight._rfm_step, STYPE = insight.agg_state, INITCOND = %L)$$, clv)) FROM cv_states;
SELECT try_sql($$SELECT pg_temp.mixed_init(d, a, '2020-06-01') FROM cv_orders$$);
-- a moving-window aggregate whose inverse is PL/pgSQL: PL/pgSQL takes ownership of a read-write
-- state handed to it, so the state may leave our functions only flat (this crashed the server)
CREATE FUNCTION pg_temp.keep_rfm(s insight.agg_state, d date, a numeric, a2 date) RETURNS insight.agg_state
  LANGUAGE plpgsql AS $$ BEGIN RETURN s; END $$;
CREATE AGGREGATE pg_temp.moving_rfm(date, numeric, date) (SFUNC = insight._rfm_step, STYPE = insight.agg_state,
  FINALFUNC = insight._rfm_final, MSFUNC = insight._rfm_step, MINVFUNC = pg_temp.keep_rfm, MSTYPE = insight.agg_state,
  MFINALFUNC = insight._rfm_final);
SELECT count(r) AS windows FROM (SELECT pg_temp.moving_rfm(d::date, 1.0, '2025-06-01') OVER (ORDER BY d ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) r
  FROM generate_series(date '2024-01-01', date '2024-03-01', '1 day') g(d)) t;
CREATE FUNCTION pg_temp.keep_sample(s insight.agg_state, f float8[], k int) RETURNS insight.agg_state
  LANGUAGE plpgsql AS $$ BEGIN RETURN s; END $$;
CREATE AGGREGATE pg_temp.moving_kmeans(float8[], int) (SFUNC = insight._kmeans_agg_step, STYPE = insight.agg_state,
  FINALFUNC = insight._agg_final, MSFUNC = insight._kmeans_agg_step, MINVFUNC = pg_temp.keep_sample, MSTYPE = insight.agg_state,
  MFINALFUNC = insight._agg_final);
SELECT count(m) AS windows FROM (SELECT pg_temp.moving_kmeans(ARRAY[x1, x2], 2) OVER (ORDER BY x1 ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) m
  FROM (SELECT * FROM agg_blobs ORDER BY x1 LIMIT 20) b) t;
-- and the other way round: a PL/pgSQL transition function, our inverse
CREATE AGGREGATE pg_temp.moving_kmeans2(float8[], int) (SFUNC = insight._kmeans_agg_step, STYPE = insight.agg_state,
  FINALFUNC = insight._agg_final, MSFUNC = pg_temp.keep_sample, MINVFUNC = insight._kmeans_agg_step, MSTYPE = insight.agg_state,
  MFINALFUNC = insight._agg_final);
SELECT try_sql($$SELECT count(m) FROM (SELECT pg_temp.moving_kmeans2(ARRAY[x1, x2], 2) OVER (ORDER BY x1 ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) m
  FROM (SELECT * FROM agg_blobs ORDER BY x1 LIMIT 20) b) t$$);
-- kmeans_agg as a window aggregate (its state goes back flat there)
SELECT count(*) AS frames, bool_and(w IS NOT NULL) AS all_trained
  FROM (SELECT insight.kmeans_agg(ARRAY[x1, x2], 2) OVER (ORDER BY x1 ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING) w
          FROM (SELECT * FROM agg_blobs ORDER BY x1 LIMIT 20) b) t;
RESET ROLE;
-- the check of which aggregate calls the support functions reads the catalog with qualified
-- operators: another role's operators on the search_path do not run (they did, as the caller)
CREATE FUNCTION public.agg_hijack(regproc, integer) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked'; END $$;
CREATE OPERATOR public.<> (LEFTARG = regproc, RIGHTARG = integer, FUNCTION = public.agg_hijack);
CREATE FUNCTION public.agg_hijack(oid, regnamespace) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked'; END $$;
CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = regnamespace, FUNCTION = public.agg_hijack);
SELECT try_sql($$SELECT insight.kmeans_agg(ARRAY[x1, x2], 2) FROM agg_blobs$$) AS kmeans_agg,
       try_sql($$SELECT insight.rfm(d, a, '2020-06-01') FROM cv_orders$$) AS rfm;
DROP OPERATOR public.<> (regproc, integer);
DROP OPERATOR public.= (oid, regnamespace);
DROP FUNCTION public.agg_hijack(regproc, integer), public.agg_hijack(oid, regnamespace);
DROP OWNED BY agg_stranger;
DROP ROLE agg_stranger;
