-- Roles and privileges (README "Roles and privileges"). The owner of the extension does
-- everything. A trainer, granted INSERT on the catalog tables, trains, retrains, deploys and
-- records history, on tables it may read. An analyst, granted nothing, scores, explains,
-- evaluates and reads the registry, recipes, metrics and history, but cannot read the weights,
-- export, train, deploy or record. Each role works in a fresh session, so that nothing it uses
-- was cached by another role first.
SELECT current_user AS owner \gset
-- as installed: PUBLIC may read every column of insight.models but the weights
SELECT has_table_privilege('public', 'insight.models', 'SELECT') AS public_reads_whole_rows,
       has_column_privilege('public', 'insight.models', 'weights', 'SELECT') AS public_reads_weights,
       has_column_privilege('public', 'insight.models', 'metrics', 'SELECT') AS public_reads_metrics;
CREATE ROLE regress_trainer LOGIN;
CREATE ROLE regress_analyst LOGIN;
GRANT INSERT ON insight.models, insight.deployments, insight.evaluations, insight.drift_history TO regress_trainer;
CREATE TABLE priv_rows AS
SELECT i AS id, sin(i * 1.3) AS a, cos(i * 2.1) AS b, (sin(i * 1.3) + 0.5 * cos(i * 2.1) + 0.3 * sin(i * 7.7)) > 0 AS y
  FROM generate_series(1, 400) i;
CREATE TABLE priv_secret AS SELECT * FROM priv_rows;
GRANT SELECT ON priv_rows TO regress_trainer, regress_analyst;
GRANT EXECUTE ON FUNCTION try_sql(text) TO regress_trainer, regress_analyst;

-- the trainer
\c - regress_trainer
SELECT version, deployed FROM insight.train('priv_m', 'priv_rows', target => 'y', exclude => ARRAY['id']);
SELECT version FROM insight.retrain('priv_m', tolerance => 1);
SELECT insight.deploy('priv_m', 1) > 0 AS deployed_version_1;
SELECT insight.evaluate('priv_m', 'priv_rows', record => true) ? 'roc_auc' AS evaluated_and_recorded;
SELECT count(*) AS drift_rows FROM insight.drift('priv_m', 'priv_rows', record => true);
\pset tuples_only on
\pset format unaligned
-- training on a table the trainer may not read fails, and stores nothing
SELECT try_sql($$SELECT * FROM insight.train('priv_x', 'priv_secret', target => 'y')$$);
SELECT try_sql($$SELECT weights FROM insight.models LIMIT 1$$);
SELECT try_sql($$SELECT insight.export_model('priv_m')$$);
SELECT try_sql($$SELECT insight.prune('priv_m', 1)$$);
\pset tuples_only off
\pset format aligned
SELECT count(*) AS models_named_priv_x FROM insight.models WHERE name = 'priv_x';

-- the analyst, in a session that has never loaded the model
\c - :owner
CREATE TABLE priv_expected AS
SELECT id, insight.predict_proba('priv_m', p) AS p, insight.predict_class('priv_m', p) AS c FROM priv_rows p;
GRANT SELECT ON priv_expected TO regress_analyst;
\c - regress_analyst
SELECT count(*) AS rows, bool_and(insight.predict_proba('priv_m', r) = e.p) AS same_probabilities,
       bool_and(insight.predict_class('priv_m', r) = e.c) AS same_classes
  FROM priv_rows r JOIN priv_expected e USING (id);
SELECT insight.predict('priv_m', ARRAY[0.5, -0.2]) BETWEEN 0 AND 1 AS scores_arrays;
SELECT count(*) AS explained_inputs FROM insight.explain('priv_m', ARRAY[0.5, -0.2]);
SELECT i ? 'weights' AS info_has_weights, i ? 'parameters' AS info_has_parameters, i->>'name' AS name, (i->>'version')::int AS version, i->>'deployed' AS deployed
  FROM insight.model_info('priv_m') i;
SELECT insight.evaluate('priv_m', 'priv_rows') ? 'roc_auc' AS evaluates;
SELECT count(*) > 0 AS has_roc FROM insight.roc_curve('priv_m', 'priv_rows');
SELECT count(*) AS drift_rows FROM insight.drift('priv_m', 'priv_rows');
SELECT count(*) AS importances FROM insight.feature_importance('priv_m');
SELECT name, deployed_version, latest_version, deployed_cause, evaluated_at IS NOT NULL AS evaluated,
       drift_status FROM insight.model_registry WHERE name = 'priv_m';
SELECT version, algorithm, metrics ? 'roc_auc' AS has_metrics, features ? 'columns' AS has_recipe
  FROM insight.models WHERE name = 'priv_m' ORDER BY version;
SELECT m.version, d.strategy, d.cause, d.deployed_by
  FROM insight.deployments d JOIN insight.models m ON m.id = d.model_id
 WHERE d.name = 'priv_m' ORDER BY d.id;
SELECT source, version, evaluated_by FROM insight.evaluations WHERE name = 'priv_m' ORDER BY id;
SELECT count(DISTINCT recorded_at) AS drift_records, min(recorded_by) AS recorded_by
  FROM insight.drift_history WHERE name = 'priv_m';
\pset tuples_only on
\pset format unaligned
SELECT try_sql($$SELECT * FROM insight.models$$);
SELECT try_sql($$SELECT weights FROM insight.models$$);
SELECT try_sql($$SELECT insight.export_model('priv_m')$$);
SELECT try_sql($$SELECT * FROM insight.train('priv_y', 'priv_rows', target => 'y')$$);
SELECT try_sql($$SELECT * FROM insight.retrain('priv_m')$$);
SELECT try_sql($$SELECT insight.deploy('priv_m', 2)$$);
SELECT try_sql($$SELECT insight.evaluate('priv_m', 'priv_rows', record => true)$$);
SELECT try_sql($$SELECT * FROM insight.drift('priv_m', 'priv_rows', record => true)$$);
SELECT try_sql($$SELECT insight.prune('priv_m', 1)$$);
SELECT try_sql($$INSERT INTO insight.evaluations (name, version, relation, metrics, source) VALUES ('priv_m', 1, 'x', '{}', 'evaluate')$$);
\pset tuples_only off
\pset format aligned

-- the owner exports, sees the parameters, and prunes; INSERT granted on the columns of the
-- history is enough to record
\c - :owner
SELECT (insight.export_model('priv_m@1'))->>'weights' IS NOT NULL AS exported,
       insight.model_info('priv_m') ? 'parameters' AS info_has_parameters;
GRANT INSERT (model_id, name, version, relation, metrics, source) ON insight.evaluations TO regress_analyst;
\c - regress_analyst
SELECT insight.evaluate('priv_m', 'priv_rows', record => true) ? 'roc_auc' AS recorded_with_column_grants;
\c - :owner
SELECT insight.prune('priv_m', 0) AS pruned;
-- the history of a pruned version stays, without its model row
SELECT source, version, model_id IS NULL AS pruned FROM insight.evaluations WHERE name = 'priv_m' ORDER BY id;
DROP TABLE priv_expected;
REVOKE ALL ON insight.models, insight.deployments, insight.evaluations, insight.drift_history FROM regress_trainer;
DROP OWNED BY regress_trainer, regress_analyst;
DROP ROLE regress_trainer;
DROP ROLE regress_analyst;
