-- The model lifecycle: rollback to the version deployed before, export to jsonb and import as a
-- new version (scores identically; tampered or foreign documents refused), pruning old versions,
-- retraining with champion/challenger.

CREATE TABLE life AS
SELECT i AS id, sin(i * 1.3) AS a, cos(i * 2.1) AS b, (sin(i * 1.3) + 0.5 * cos(i * 2.1) + 0.3 * sin(i * 7.7)) > 0 AS y
  FROM generate_series(1, 600) i;
SELECT version, deployed FROM insight.train('life_m', 'life', target => 'y', exclude => ARRAY['id']);
SELECT version, deployed FROM insight.train('life_m', 'life', target => 'y', exclude => ARRAY['id'],
                                            options => '{"l2": 100}', deploy => 'always');
SELECT version, deployed FROM insight.train('life_m', 'life', target => 'y', exclude => ARRAY['id'], deploy => 'never');
-- rollback: back to the version deployed before, recorded with its reason; twice toggles back
SELECT insight.deploy('life_m', strategy => 'rollback') AS rolled_back \gset
SELECT version FROM insight.models WHERE id = :rolled_back;
SELECT strategy, reason FROM insight.deployments WHERE name = 'life_m' ORDER BY id DESC LIMIT 1;
SELECT insight.deploy('life_m', strategy => 'rollback') AS rolled_back \gset
SELECT version FROM insight.models WHERE id = :rolled_back;
SELECT deployed_version FROM insight.model_registry WHERE name = 'life_m';

-- export and import: the document, a new version under another name that scores identically
SELECT d->>'format' AS format, (d->>'format_version')::int > 0 AS has_format_version, d->>'name' AS name,
       (d->>'version')::int AS version, d->>'algorithm' AS algorithm, d->>'task' AS task,
       length(d->>'weights_sha256') AS sha_hex_digits, d ? 'weights' AS has_weights, d ? 'created_by' AS has_provenance
  FROM insight.export_model('life_m@2') d;
CREATE TABLE life_doc AS SELECT insight.export_model('life_m@2') AS d;
SELECT insight.import_model(jsonb_set(d, '{name}', '"life_copy"')) > 0 AS imported FROM life_doc;
SELECT name, version, algorithm, task, (metrics->'imported_from'->>'version')::int AS from_version,
       metrics->'imported_from'->>'created_by' AS from_creator
  FROM insight.models WHERE name = 'life_copy';
SELECT bool_and(insight.predict_proba('life_copy', l) = insight.predict_proba('life_m@2', l)) AS scores_identically,
       count(*) AS rows
  FROM life l;
SELECT deployed_version FROM insight.model_registry WHERE name = 'life_copy';
-- importing again makes version 2 of the copy, not deployed when told so
SELECT insight.import_model(jsonb_set(d, '{name}', '"life_copy"'), deploy => 'never') AS again FROM life_doc \gset
SELECT m.version, (SELECT deployed_version FROM insight.model_registry WHERE name = 'life_copy') AS still_deployed
  FROM insight.models m WHERE m.id = :again;

-- pruning: the deployed version and the newest `keep` stay
SELECT insight.prune('life_m', 1) AS deleted;
SELECT version FROM insight.models WHERE name = 'life_m' ORDER BY version;
SELECT count(*) AS deployments_left FROM insight.deployments WHERE name = 'life_m';

-- retrain: the deployed version's recipe on the rows the table holds now, a new version that
-- replaces the deployed one only if it does not fall behind it on the same new test rows
INSERT INTO life SELECT i, sin(i * 1.3), cos(i * 2.1), (sin(i * 1.3) + 0.5 * cos(i * 2.1) + 0.3 * sin(i * 7.7)) > 0
  FROM generate_series(601, 900) i;
SELECT name, version, algorithm,
       (metrics->'champion'->>'roc_auc') IS NOT NULL AS champion_scored_on_the_new_rows,
       (metrics->'retrain'->>'deployed')::bool = deployed AS decision_recorded,
       deployed = ((metrics->>'roc_auc')::float8 >= (metrics->'champion'->>'roc_auc')::float8) AS decided_by_the_metric,
       (metrics->>'n_train')::int AS n_train, (metrics->>'n_test')::int AS n_test
  FROM insight.retrain('life_m');
-- (here the deployed version scores the new test rows better: ROC AUC 0.9794 against 0.9775)
SELECT regexp_replace(metrics->'retrain'->>'reason', '[0-9.]+', 'N', 'g') AS why
  FROM insight.models WHERE name = 'life_m' ORDER BY version DESC LIMIT 1;
-- the recipe is the deployed version's: options and columns kept
SELECT (options->>'l2')::float8 AS l2, features->'columns'->0->>'name' AS first_column
  FROM insight.models WHERE name = 'life_m' ORDER BY version DESC LIMIT 1;
-- with a tolerance the new version may trail the deployed one by that much
SELECT deployed, deployed = ((metrics->>'roc_auc')::float8 >= (metrics->'champion'->>'roc_auc')::float8 - 0.5) AS within_tolerance
  FROM insight.retrain('life_m', tolerance => 0.5);
SELECT strategy, regexp_replace(reason, '[0-9.]+', 'N', 'g') AS reason
  FROM insight.deployments WHERE name = 'life_m' ORDER BY id DESC LIMIT 1;
-- other kinds of model retrain too, compared by their stored metrics
SELECT version FROM insight.train('life_seg', 'life', algorithm => 'kmeans', exclude => ARRAY['id', 'y'], options => '{"k": 3}');
SELECT version, deployed, regexp_replace(metrics->'retrain'->>'reason', '[0-9.]+', 'N', 'g') AS why
  FROM insight.retrain('life_seg');
CREATE TABLE life_gone AS SELECT * FROM life;
SELECT version FROM insight.train('life_gone_m', 'life_gone', target => 'y', exclude => ARRAY['id']);
DROP TABLE life_gone;
-- drift: population stability of each input and of the scores against the training
-- distributions (numbers by training deciles, categories by their shares)
CREATE TABLE life_shift AS SELECT id, a + 1.5 AS a, b, y FROM life;
SELECT feature, round(psi::numeric, 2) < 0.1 AS stable, status FROM insight.drift('life_m', 'life') ORDER BY feature;
SELECT feature, status FROM insight.drift('life_m', 'life_shift') ORDER BY feature;
SELECT feature, status FROM insight.drift('life_seg', 'life_shift') ORDER BY feature;
CREATE VIEW customers_all_web AS SELECT customer_id, age, region, 'web'::text AS channel, tenure_days, visits_30d,
       email_opens_30d, support_tickets, avg_order_value, days_since_last_purchase, is_member, signup_date, purchased
  FROM customers;
SELECT string_agg(feature, ', ' ORDER BY feature) FILTER (WHERE status <> 'ok') AS moved,
       count(*) AS rows
  FROM insight.drift('purchase', 'customers_all_web');
SELECT count(*) FILTER (WHERE status <> 'ok') AS moved_on_the_training_rows FROM insight.drift('purchase', 'customers');

-- every deployment says why: train (its deploy policy), retrain, manual, rollback, import
SELECT name, cause, strategy, count(*) AS deployments FROM insight.deployments
 WHERE name IN ('life_m', 'life_copy', 'life_seg') GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
-- monitoring history: each retrain recorded the new version's test metrics and the deployed
-- version's on the same rows; training times are not metrics
SELECT source, version, relation, metrics ? 'roc_auc' AS has_auc, metrics ? 'train_seconds' AS has_timing,
       evaluated_by = current_user AS by_me
  FROM insight.evaluations WHERE name = 'life_m' ORDER BY id;
SELECT source, version, metrics ? 'silhouette' AS has_silhouette FROM insight.evaluations WHERE name = 'life_seg' ORDER BY id;
-- evaluate appends only with record => true, the same metrics it returns
SELECT count(*) AS evaluations_before FROM insight.evaluations \gset
SELECT insight.evaluate('life_m', 'life') ? 'roc_auc' AS evaluated;
SELECT count(*) - :evaluations_before AS appended_without_record FROM insight.evaluations;
SELECT insight.evaluate('life_m', 'life_shift', record => true) AS recorded_metrics \gset
SELECT metrics = :'recorded_metrics'::jsonb AS same_metrics, source, relation, name, version = (SELECT deployed_version FROM insight.model_registry WHERE name = 'life_m') AS deployed_version
  FROM insight.evaluations ORDER BY id DESC LIMIT 1;
-- evaluate and drift write, so they are PARALLEL UNSAFE: a query that would run in parallel
-- workers runs without them instead of failing
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT insight.evaluate('life_m', 'life', record => true) ? 'roc_auc' AS recorded FROM life WHERE id = 5;
SELECT count(*) AS drift_rows FROM (SELECT id FROM life WHERE id = 5) l, insight.drift('life_m', 'life', record => true) d;
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DELETE FROM insight.drift_history WHERE name = 'life_m';
-- drift appends one row per input and the scores with record => true
SELECT count(*) AS drift_rows FROM insight.drift('life_m', 'life_shift', record => true);
SELECT feature, status, relation FROM insight.drift_history WHERE name = 'life_m' ORDER BY feature;
SELECT count(*) AS drift_rows FROM insight.drift('life_m', 'life');
SELECT count(*) AS recorded_once FROM insight.drift_history WHERE name = 'life_m';
-- the registry: why the serving version was deployed, when it was last evaluated, its last drift
SELECT name, deployed_cause, evaluated_at IS NOT NULL AS evaluated, drift_status, round(drift_psi::numeric, 1) >= 0.25 AS drifted,
       drift_at IS NOT NULL AS drift_recorded
  FROM insight.model_registry WHERE name IN ('life_m', 'life_seg') ORDER BY name;

-- drift-triggered retraining: nothing is trained while the rows stay as they were; when an input
-- moves past the threshold, a new version is trained (and the drift that decided is recorded)
CREATE TABLE life_w AS SELECT * FROM life;
SELECT version FROM insight.train('life_w_m', 'life_w', target => 'y', exclude => ARRAY['id']);
SELECT version, deployed, (metrics->'retrain'->>'trained')::bool AS trained,
       regexp_replace(metrics->'retrain'->>'reason', '[0-9][0-9.]*', 'N', 'g') AS why
  FROM insight.retrain('life_w_m', when_drift_above => 0.25);
SELECT count(*) AS versions FROM insight.models WHERE name = 'life_w_m';
UPDATE life_w SET a = a + 1.5;
SELECT version, metrics ? 'roc_auc' AS trained FROM insight.retrain('life_w_m', tolerance => 1, when_drift_above => 0.25);
SELECT version, feature, status FROM insight.drift_history WHERE name = 'life_w_m' AND status <> 'ok' ORDER BY id;
SELECT count(DISTINCT recorded_at) AS drift_checks FROM insight.drift_history WHERE name = 'life_w_m';

-- refused: foreign and tampered documents, bad arguments; nothing is written
\pset tuples_only on
\pset format unaligned
SELECT try_sql($$SELECT insight.import_model('{"name": "x"}')$$);
SELECT try_sql($$SELECT insight.import_model('[1, 2]')$$);
SELECT try_sql($$SELECT insight.import_model(jsonb_set(d, '{name}', '"x@1"')) FROM life_doc$$);
SELECT try_sql($$SELECT insight.import_model(jsonb_set(d, '{weights}', '"not base64 !"')) FROM life_doc$$);
SELECT try_sql($$SELECT insight.import_model(jsonb_set(jsonb_set(d, '{name}', '"x"'), '{weights}', to_jsonb(encode(decode(d->>'weights', 'base64') || '\x00'::bytea, 'base64')))) FROM life_doc$$);
SELECT try_sql($$SELECT insight.import_model(jsonb_set(jsonb_set(d, '{name}', '"x"'), '{weights_sha256}', to_jsonb(encode(sha256('\x00'::bytea), 'hex')))) FROM life_doc$$);
SELECT try_sql($$SELECT insight.import_model(jsonb_set(jsonb_set(jsonb_set(d, '{name}', '"x"'), '{weights}', to_jsonb(encode('junk'::bytea, 'base64'))), '{weights_sha256}', to_jsonb(encode(sha256('junk'::bytea), 'hex')))) FROM life_doc$$);
SELECT try_sql($$SELECT insight.import_model(jsonb_set(jsonb_set(d, '{name}', '"x"'), '{task}', '"regression"')) FROM life_doc$$);
SELECT try_sql($$SELECT insight.import_model(jsonb_set(jsonb_set(d, '{name}', '"x"'), '{metrics}', '[]')) FROM life_doc$$);
SELECT try_sql($$SELECT insight.import_model(jsonb_set(d, '{name}', '"x"'), deploy => 'sometimes') FROM life_doc$$);
SELECT try_sql($$SELECT insight.import_model(NULL)$$);
SELECT try_sql($$SELECT insight.export_model('nope')$$);
SELECT try_sql($$SELECT insight.prune('life_m', -1)$$);
SELECT try_sql($$SELECT insight.prune('nope')$$);
SELECT try_sql($$SELECT insight.deploy('life_copy', strategy => 'rollback')$$);
SELECT try_sql($$SELECT * FROM insight.retrain('nope')$$);
SELECT try_sql($$SELECT * FROM insight.retrain('life_m', tolerance => -1)$$);
SELECT try_sql($$SELECT * FROM insight.retrain('life_m', tolerance => 'NaN')$$);
SELECT try_sql($$SELECT * FROM insight.retrain('life_gone_m')$$);
SELECT try_sql($$SELECT * FROM insight.retrain(NULL)$$);
SELECT try_sql($$SELECT * FROM insight.retrain('life_m', when_drift_above => -0.1)$$);
SELECT try_sql($$SELECT * FROM insight.retrain('life_m', when_drift_above => 'Infinity')$$);
SELECT try_sql($$SELECT * FROM insight.retrain('recs', when_drift_above => 0.25)$$);
SELECT try_sql($$SELECT * FROM insight.drift('recs', 'rec_events')$$);
SELECT try_sql($$SELECT * FROM insight.drift('agg_gbdt', 'customers')$$);
SELECT try_sql($$SELECT * FROM insight.drift('life_m', 'rec_events')$$);
SELECT try_sql($$SELECT * FROM insight.drift(NULL, 'life')$$);
\pset tuples_only off
\pset format aligned
SELECT count(*) AS models_named_x FROM insight.models WHERE name = 'x';
