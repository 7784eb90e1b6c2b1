-- pg_insight 0.1.0 -> 0.2.0: brings the SQL objects of 0.1.0 to those CREATE EXTENSION of 0.2.0
-- makes (tests/shell/upgrade.sh compares the two). Install the 0.2.0 library first; until this
-- has run, functions whose signature changed answer with errors, not wrong results.
-- Views or functions of yours that use insight.explain must be dropped first (its result has a
-- new column) and made again after.

-- pg_dump keeps the positions of the id sequences (a restored database trained into duplicate ids)
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('insight.models', 'id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('insight.deployments', 'id')::pg_catalog.regclass, '');

-- the registry falls back to the latest version of a name with nothing deployed, and shows the
-- silhouette of segmentation models
CREATE OR REPLACE VIEW insight.model_registry AS
WITH names AS (
    SELECT name, max(version) AS latest_version, count(*) AS versions FROM insight.models GROUP BY name
), current AS (
    SELECT DISTINCT ON (name) name, model_id, deployed_at, deployed_by
      FROM insight.deployments ORDER BY name, id DESC
), latest AS (
    SELECT DISTINCT ON (name) name, id FROM insight.models ORDER BY name, version DESC
)
-- algorithm, task, relation, target and metrics: of the deployed version, or of the latest one
-- when none is deployed (deployed_version is NULL then)
SELECT n.name,
       CASE WHEN c.model_id IS NOT NULL THEN m.version END AS deployed_version,
       n.latest_version,
       n.versions,
       m.algorithm,
       m.task,
       m.relation,
       m.target,
       (m.metrics ->> 'roc_auc')::float8  AS roc_auc,
       (m.metrics ->> 'accuracy')::float8 AS accuracy,
       (m.metrics ->> 'f1')::float8       AS f1,
       (m.metrics ->> 'rmse')::float8     AS rmse,
       (m.metrics ->> 'r2')::float8       AS r2,
       c.deployed_at,
       c.deployed_by,
       (m.metrics ->> 'silhouette')::float8 AS silhouette
  FROM names n
  LEFT JOIN current c ON c.name = n.name
  JOIN latest l ON l.name = n.name
  JOIN insight.models m ON m.id = coalesce(c.model_id, l.id);

-- explain returns the class it explains and takes class => ...; a NULL row gives no rows
DROP FUNCTION insight.explain(text, anyelement);
CREATE FUNCTION insight.explain(model text, row_or_array anyelement, class text DEFAULT NULL)
  RETURNS TABLE (feature text, value double precision, contribution double precision, class text)
  STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'explain_wrapper';
COMMENT ON FUNCTION insight.explain(text, anyelement, text) IS
  'Per-input additive contributions to a score (linear: coefficient x value; networks: integrated gradients), plus the base, and the class explained';

-- every class's probability
CREATE FUNCTION insight.predict_probas(model text, row_or_array anyelement) RETURNS jsonb
  STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'predict_probas_wrapper';
COMMENT ON FUNCTION insight.predict_probas(text, anyelement) IS 'Probability of every class of a classifier, as jsonb {label: probability}';

-- segmentation: k-means models score with insight.segment / segment_distance
CREATE FUNCTION insight.segment(model text, row_or_array anyelement) RETURNS integer
  STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'segment_wrapper';
CREATE FUNCTION insight.segment_distance(model text, row_or_array anyelement) RETURNS double precision
  STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'segment_distance_wrapper';
COMMENT ON FUNCTION insight.segment(text, anyelement) IS 'Segment number (1-based) of a row under a segmentation model';
COMMENT ON FUNCTION insight.segment_distance(text, anyelement) IS 'Distance from a row to the centre of its segment (standardised inputs): large values are outliers';
-- whole table rows passed to them are rewritten into columns by the planner, as for predict
CREATE FUNCTION insight._segment_columns(model text, output int, row_type oid, row_ctid tid, VARIADIC "any")
  RETURNS int4 STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'insight_segment_columns';
ALTER FUNCTION insight.segment(text, anyelement) SUPPORT insight._predict_support;
ALTER FUNCTION insight.segment_distance(text, anyelement) SUPPORT insight._predict_support;
COMMENT ON FUNCTION insight._score_columns(text, int, oid, tid, "any") IS
  'Internal: target of the planner rewrite of insight.predict/predict_proba/predict_purchase/segment_distance(model, table_row)';
COMMENT ON FUNCTION insight._segment_columns(text, int, oid, tid, "any") IS
  'Internal: target of the planner rewrite of insight.segment(model, table_row)';

-- segment profiles: what each segment of a segmentation model looks like
CREATE FUNCTION insight.segment_profiles(model text)
  RETURNS TABLE (segment integer, customers bigint, share double precision, feature text, mean double precision,
                 population_mean double precision, z double precision)
  STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'segment_profiles_wrapper';
CREATE FUNCTION insight.segment_summary(model text)
  RETURNS TABLE (segment integer, customers bigint, share double precision, description text)
  STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'segment_summary_wrapper';
CREATE FUNCTION insight.centroids(model text)
  RETURNS TABLE (segment integer, feature text, center double precision)
  STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'centroids_wrapper';
COMMENT ON FUNCTION insight.segment_profiles(text) IS
  'Per segment and input: the mean of the segment''s training rows in the input''s units (categories as shares), the mean over all rows, and z';
COMMENT ON FUNCTION insight.segment_summary(text) IS 'One row per segment: size, share and its three most distinguishing inputs as text';
COMMENT ON FUNCTION insight.centroids(text) IS 'Segment centres per encoded input (standardised numbers, one-hot categories), as the scorers use them';

-- score_table: output => 'score' | 'class' (labels by default for multiclass models); NULL
-- arguments are 22004 errors naming the argument (_score_table is no longer STRICT)
DROP PROCEDURE insight.score_table(text, regclass, text, text, text);
DROP FUNCTION insight._score_table(text, regclass, text, text, text);
CREATE FUNCTION insight._score_table(model text, source regclass, target text, key text, mode text DEFAULT 'append',
                                     output text DEFAULT NULL)
  RETURNS bigint VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', 'score_table_rows_wrapper';
CREATE PROCEDURE insight.score_table(model text, source regclass, target text, key text, mode text DEFAULT 'append',
                                     output text DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  -- _score_table refuses NULL arguments (22004, naming the argument)
  n := insight._score_table(model, source, target, key, mode, output);
  RAISE NOTICE 'score_table: % rows of % scored into %', n, source, target;
END
$$;
COMMENT ON PROCEDURE insight.score_table(text, regclass, text, text, text, text) IS
  'Score every row of a table into (key, score) or (key, class) rows of another, created when missing, in batches of 10,000 rows';
COMMENT ON FUNCTION insight._score_table(text, regclass, text, text, text, text) IS
  'Internal: the work of insight.score_table; returns the number of rows written';

-- the same table and seed give the same model: a synchronised sequential scan starts where another
-- scan of a large table (over shared_buffers / 4) is, so the rows, and with them the seeded split
-- and samples, would come in another order each time
ALTER FUNCTION insight.train(text, regclass, text, text, text[], text[], jsonb, float8, bigint, text)
  SET synchronize_seqscans = off;

-- hierarchical segmentation: another k from the merge tree stored with the model
CREATE FUNCTION insight.recut(model text, k integer, deploy text DEFAULT 'never')
  RETURNS TABLE (model_id bigint, name text, version integer, algorithm text, deployed boolean, metrics jsonb)
  LANGUAGE c AS 'MODULE_PATHNAME', 'recut_wrapper';
COMMENT ON FUNCTION insight.recut(text, int, text) IS
  'A new version of an agglomerative model cut into k segments, from its stored merge tree (no data is read)';

-- the transition state of the training and customer-value aggregates (api/agg_state.rs): a real
-- type rather than internal, so that Citus can run partial aggregation on its workers (it ships
-- a state as text) and PostgreSQL's parallel aggregation needs no serial functions. The support
-- functions check that an aggregate calls them and read any state they did not make as if a
-- stranger wrote it; Citus checks EXECUTE on them as the calling user, so they stay PUBLIC.
CREATE TYPE insight.agg_state;
CREATE FUNCTION insight.agg_state_in(cstring) RETURNS insight.agg_state
  IMMUTABLE STRICT PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'insight_agg_state_in';
CREATE FUNCTION insight.agg_state_out(insight.agg_state) RETURNS cstring
  IMMUTABLE STRICT PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'insight_agg_state_out';
CREATE TYPE insight.agg_state (INPUT = insight.agg_state_in, OUTPUT = insight.agg_state_out,
  INTERNALLENGTH = VARIABLE, STORAGE = extended, ALIGNMENT = int4);
COMMENT ON TYPE insight.agg_state IS
  'A partial state of pg_insight''s aggregates (kmeans_agg, fit_agg, clv_summary, rfm); text form <kind>:<base64>';

-- training aggregates: one model per group (api/aggregate.rs).
CREATE FUNCTION insight._kmeans_agg_step(insight.agg_state, float8[], int) RETURNS insight.agg_state
  PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'insight_kmeans_agg_step';
CREATE FUNCTION insight._kmeans_agg_step(insight.agg_state, float8[], int, jsonb) RETURNS insight.agg_state
  PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'insight_kmeans_agg_step';
CREATE FUNCTION insight._fit_agg_step(insight.agg_state, text, float8[], anyelement) RETURNS insight.agg_state
  PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'insight_fit_agg_step';
CREATE FUNCTION insight._fit_agg_step(insight.agg_state, text, float8[], anyelement, jsonb) RETURNS insight.agg_state
  PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'insight_fit_agg_step';
CREATE FUNCTION insight._agg_combine(insight.agg_state, insight.agg_state) RETURNS insight.agg_state
  PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'insight_agg_combine';
CREATE FUNCTION insight._agg_final(insight.agg_state) RETURNS bytea
  PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'insight_agg_final';
CREATE AGGREGATE insight.kmeans_agg(features float8[], k int) (
  SFUNC = insight._kmeans_agg_step, STYPE = insight.agg_state, SSPACE = 8192, FINALFUNC = insight._agg_final,
  COMBINEFUNC = insight._agg_combine, PARALLEL = SAFE);
CREATE AGGREGATE insight.kmeans_agg(features float8[], k int, options jsonb) (
  SFUNC = insight._kmeans_agg_step, STYPE = insight.agg_state, SSPACE = 8192, FINALFUNC = insight._agg_final,
  COMBINEFUNC = insight._agg_combine, PARALLEL = SAFE);
CREATE AGGREGATE insight.fit_agg(algorithm text, features float8[], target anyelement) (
  SFUNC = insight._fit_agg_step, STYPE = insight.agg_state, SSPACE = 8192, FINALFUNC = insight._agg_final,
  COMBINEFUNC = insight._agg_combine, PARALLEL = SAFE);
CREATE AGGREGATE insight.fit_agg(algorithm text, features float8[], target anyelement, options jsonb) (
  SFUNC = insight._fit_agg_step, STYPE = insight.agg_state, SSPACE = 8192, FINALFUNC = insight._agg_final,
  COMBINEFUNC = insight._agg_combine, PARALLEL = SAFE);
-- fit_agg once more for each target type it learns: Citus distributes no polymorphic aggregate
-- (worker_partial_agg checks the declared argument types), and PostgreSQL picks these over the
-- anyelement one, which stays for the other types (enums).
DO $fit_agg$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['boolean', 'smallint', 'integer', 'bigint', 'real', 'double precision', 'numeric', 'text'] LOOP
    EXECUTE format($sql$
      CREATE FUNCTION insight._fit_agg_step(insight.agg_state, text, float8[], %1$s) RETURNS insight.agg_state
        PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'insight_fit_agg_step';
      CREATE FUNCTION insight._fit_agg_step(insight.agg_state, text, float8[], %1$s, jsonb) RETURNS insight.agg_state
        PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'insight_fit_agg_step';
      CREATE AGGREGATE insight.fit_agg(algorithm text, features float8[], target %1$s) (
        SFUNC = insight._fit_agg_step, STYPE = insight.agg_state, SSPACE = 8192, FINALFUNC = insight._agg_final,
        COMBINEFUNC = insight._agg_combine, PARALLEL = SAFE);
      CREATE AGGREGATE insight.fit_agg(algorithm text, features float8[], target %1$s, options jsonb) (
        SFUNC = insight._fit_agg_step, STYPE = insight.agg_state, SSPACE = 8192, FINALFUNC = insight._agg_final,
        COMBINEFUNC = insight._agg_combine, PARALLEL = SAFE);
      COMMENT ON AGGREGATE insight.fit_agg(text, float8[], %1$s) IS
        'A logistic, linear or mlp model of a group''s rows (a bounded sample of them), for insight.save_model';
      COMMENT ON AGGREGATE insight.fit_agg(text, float8[], %1$s, jsonb) IS
        'A logistic, linear or mlp model of a group''s rows (a bounded sample of them), for insight.save_model';
    $sql$, t);
  END LOOP;
END $fit_agg$;
COMMENT ON AGGREGATE insight.kmeans_agg(float8[], int) IS
  'k-means segments of a group''s rows (a bounded sample of them), as a model for insight.save_model';
COMMENT ON AGGREGATE insight.kmeans_agg(float8[], int, jsonb) IS
  'k-means segments of a group''s rows (a bounded sample of them), as a model for insight.save_model';
COMMENT ON AGGREGATE insight.fit_agg(text, float8[], anyelement) IS
  'A logistic, linear or mlp model of a group''s rows (a bounded sample of them), for insight.save_model';
COMMENT ON AGGREGATE insight.fit_agg(text, float8[], anyelement, jsonb) IS
  'A logistic, linear or mlp model of a group''s rows (a bounded sample of them), for insight.save_model';
CREATE FUNCTION insight.save_model(name text, model bytea, features text[], target text DEFAULT NULL,
                                   deploy text DEFAULT 'if_better')
  RETURNS TABLE (model_id bigint, name text, version integer, algorithm text, deployed boolean, metrics jsonb)
  LANGUAGE c AS 'MODULE_PATHNAME', 'save_model_wrapper';
COMMENT ON FUNCTION insight.save_model(text, bytea, text[], text, text) IS
  'Store a model made by kmeans_agg or fit_agg as a new version, its inputs named for scoring by column name';

-- demo data: behaviour with planted segments
CREATE FUNCTION insight.demo_behaviour(customers integer DEFAULT 10000, seed bigint DEFAULT 42)
  RETURNS TABLE (customer_id bigint, sessions_30d integer, minutes_per_session double precision, orders_12m integer,
                 spend_12m numeric, discount_share double precision, planted_segment text)
  IMMUTABLE PARALLEL SAFE STRICT LANGUAGE c AS 'MODULE_PATHNAME', 'demo_behaviour_wrapper';
COMMENT ON FUNCTION insight.demo_behaviour(int, bigint) IS 'Seeded behaviour of the demo customers with planted segments (see demo_truth)';
COMMENT ON FUNCTION insight.demo_truth() IS 'The planted truth behind the demo data: the purchase model and the behavioural segments';

-- customer value: the lifetimes summary of raw orders, one row per customer (api/customer_value.rs)
CREATE TYPE insight.clv_stats AS (frequency integer, recency double precision, t double precision,
                                  monetary_value double precision);
COMMENT ON TYPE insight.clv_stats IS
  'A customer''s repeat purchase days, recency and age (T) in units, and mean repeat purchase amount, as lifetimes summarises orders';
CREATE FUNCTION insight._clv_summary_step(insight.agg_state, date, numeric, date) RETURNS insight.agg_state
  PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'insight_clv_summary_step';
CREATE FUNCTION insight._clv_summary_step(insight.agg_state, date, numeric, date, text) RETURNS insight.agg_state
  PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'insight_clv_summary_step';
CREATE FUNCTION insight._clv_summary_combine(insight.agg_state, insight.agg_state) RETURNS insight.agg_state
  PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'insight_clv_summary_combine';
CREATE FUNCTION insight._clv_summary_final(insight.agg_state) RETURNS insight.clv_stats
  PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'insight_clv_summary_final';
CREATE AGGREGATE insight.clv_summary(order_date date, amount numeric, calibration_end date) (
  SFUNC = insight._clv_summary_step, STYPE = insight.agg_state, SSPACE = 256, FINALFUNC = insight._clv_summary_final,
  COMBINEFUNC = insight._clv_summary_combine, PARALLEL = SAFE);
CREATE AGGREGATE insight.clv_summary(order_date date, amount numeric, calibration_end date, unit text) (
  SFUNC = insight._clv_summary_step, STYPE = insight.agg_state, SSPACE = 256, FINALFUNC = insight._clv_summary_final,
  COMBINEFUNC = insight._clv_summary_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE insight.clv_summary(date, numeric, date) IS
  'A customer''s orders summarised as lifetimes does (frequency, recency, T, monetary_value), in weeks';
COMMENT ON AGGREGATE insight.clv_summary(date, numeric, date, text) IS
  'A customer''s orders summarised as lifetimes does (frequency, recency, T, monetary_value), in day, week or month units';

-- lifetime value: BG/NBD scorers over a customer's (frequency, recency, t)
CREATE FUNCTION insight.p_alive(model text, row_or_array anyelement) RETURNS double precision
  STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'p_alive_wrapper';
CREATE FUNCTION insight.expected_purchases(model text, row_or_array anyelement, horizon double precision)
  RETURNS double precision STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'expected_purchases_wrapper';
COMMENT ON FUNCTION insight.p_alive(text, anyelement) IS
  'BG/NBD: the probability that a customer with this frequency, recency and t is still alive';
COMMENT ON FUNCTION insight.expected_purchases(text, anyelement, float8) IS
  'BG/NBD: the purchases a customer with this history is expected to make in the next horizon units';
CREATE FUNCTION insight.predict_clv(model text, row_or_array anyelement, horizon double precision,
                                    discount_rate double precision DEFAULT 0.0)
  RETURNS double precision STRICT STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'predict_clv_wrapper';
COMMENT ON FUNCTION insight.predict_clv(text, anyelement, float8, float8) IS
  'Gamma-Gamma paired with BG/NBD: a customer''s value over the next horizon months, discounted monthly, as lifetimes computes it';

-- RFM of raw orders, one row per customer (api/customer_value.rs), and the named segments
CREATE TYPE insight.rfm_stats AS (recency_days integer, frequency integer, monetary numeric, tenure_days integer);
COMMENT ON TYPE insight.rfm_stats IS
  'Days since the last order, orders, total amount (refunds netted) and days since the first order, up to as_of';
CREATE FUNCTION insight._rfm_step(insight.agg_state, date, numeric, date) RETURNS insight.agg_state
  PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'insight_rfm_step';
CREATE FUNCTION insight._rfm_combine(insight.agg_state, insight.agg_state) RETURNS insight.agg_state
  PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'insight_rfm_combine';
CREATE FUNCTION insight._rfm_final(insight.agg_state) RETURNS insight.rfm_stats
  PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'insight_rfm_final';
CREATE AGGREGATE insight.rfm(order_date date, amount numeric, as_of date) (
  SFUNC = insight._rfm_step, STYPE = insight.agg_state, SSPACE = 64, FINALFUNC = insight._rfm_final,
  COMBINEFUNC = insight._rfm_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE insight.rfm(date, numeric, date) IS
  'A customer''s recency, frequency, monetary value and tenure from raw orders up to as_of';
CREATE FUNCTION insight.rfm_segment(r_score integer, f_score integer, m_score integer) RETURNS text
  IMMUTABLE PARALLEL SAFE STRICT LANGUAGE c AS 'MODULE_PATHNAME', 'rfm_segment_wrapper';
COMMENT ON FUNCTION insight.rfm_segment(int, int, int) IS
  'The named RFM segment (Champions ... Lost) of recency, frequency and monetary scores 1 to 5';

-- recommenders (algorithms als, item_knn, popularity; api/recommend.rs)
CREATE FUNCTION insight.recommend(model text, customer anyelement, k integer DEFAULT 10, exclude_seen boolean DEFAULT true)
  RETURNS TABLE (item text, score double precision, reason text)
  STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'recommend_wrapper';
CREATE FUNCTION insight.similar_items(model text, item anyelement, k integer DEFAULT 10)
  RETURNS TABLE (item text, similarity double precision)
  STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'similar_items_wrapper';
CREATE FUNCTION insight.similar_customers(model text, customer anyelement, k integer DEFAULT 10)
  RETURNS TABLE (customer text, similarity double precision)
  STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'similar_customers_wrapper';
CREATE FUNCTION insight.evaluate_recommender(model text, test_relation regclass, k integer DEFAULT 10)
  RETURNS jsonb STABLE PARALLEL RESTRICTED LANGUAGE c AS 'MODULE_PATHNAME', 'evaluate_recommender_wrapper';
COMMENT ON FUNCTION insight.recommend(text, anyelement, int, boolean) IS
  'The top k items for a customer (keys as text), best first, with the customer''s own item that contributes most as the reason (''popular'' for a customer the model has not seen)';
COMMENT ON FUNCTION insight.similar_items(text, anyelement, int) IS
  'The k items most similar to an item: cosine on the item factors (als) or the stored neighbours (item_knn)';
COMMENT ON FUNCTION insight.similar_customers(text, anyelement, int) IS
  'The k customers most similar to a customer: cosine on the customer factors (als)';
COMMENT ON FUNCTION insight.evaluate_recommender(text, regclass, int) IS
  'precision@k, recall@k, NDCG@k, MAP@k and coverage of a recommender against held-out (customer, item) rows';
CREATE FUNCTION insight.demo_interactions(customers integer DEFAULT 10000, seed bigint DEFAULT 42)
  RETURNS TABLE (customer_id bigint, product_id text, quantity integer, interacted_on date, planted_taste text)
  IMMUTABLE PARALLEL SAFE STRICT LANGUAGE c AS 'MODULE_PATHNAME', 'demo_interactions_wrapper';
COMMENT ON FUNCTION insight.demo_interactions(int, bigint) IS 'Seeded product interactions of the demo customers, drawn from planted tastes (planted_taste: the main category)';

-- moving models between databases, and retention (api/transfer.rs, api/lifecycle.rs)
CREATE FUNCTION insight.export_model(model text) RETURNS jsonb
  STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'export_model_wrapper';
CREATE FUNCTION insight.import_model(doc jsonb, deploy text DEFAULT 'if_better') RETURNS bigint
  VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', 'import_model_wrapper';
CREATE FUNCTION insight.prune(name text, keep integer DEFAULT 3) RETURNS bigint
  VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', 'prune_wrapper';
COMMENT ON FUNCTION insight.export_model(text) IS
  'A model version as one jsonb document (catalog row, base64 weights and their SHA-256) for insight.import_model in another database';
COMMENT ON FUNCTION insight.import_model(jsonb, text) IS
  'Stores a document of insight.export_model as the next version of its name (checked: format, checksum, decodable weights of the stated task); returns the model id';
COMMENT ON FUNCTION insight.prune(text, int) IS
  'Deletes the versions of a model that are neither deployed nor among the keep newest, with their deployment rows; returns how many';

-- retraining a deployed recipe on today's rows, champion/challenger (api/train/retrain.rs)
CREATE FUNCTION insight.retrain(name text, tolerance double precision DEFAULT 0.0,
                                when_drift_above double precision DEFAULT NULL)
  RETURNS TABLE (model_id bigint, name text, version integer, algorithm text, deployed boolean, metrics jsonb)
  VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', 'retrain_wrapper';
ALTER FUNCTION insight.retrain(text, double precision, double precision) SET synchronize_seqscans = off;
COMMENT ON FUNCTION insight.retrain(text, double precision, double precision) IS
  'The deployed version''s recipe trained again on today''s rows: a new version, deployed only if its key metric is not below the deployed one''s (on the same new test rows for supervised models) by more than tolerance; with when_drift_above, only when some PSI of the new rows reaches it';

-- drift of new rows from the training distributions (api/drift.rs, ml/drift.rs)
CREATE FUNCTION insight.drift(model text, relation regclass, record boolean DEFAULT false)
  RETURNS TABLE (feature text, psi double precision, status text)
  VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', 'drift_wrapper';
COMMENT ON FUNCTION insight.drift(text, regclass, boolean) IS
  'Population stability index of each input column and of the scores (row (score)) on a relation against the training distributions: ok < 0.1, watch, alert >= 0.25; with record => true also appended to insight.drift_history';

-- deployments say why (train, retrain, manual, rollback, import); 0.1.0 deployed by training
-- (policies always, if_better) or by hand
ALTER TABLE insight.deployments ADD COLUMN cause text NOT NULL DEFAULT 'manual'
  CHECK (cause IN ('train', 'retrain', 'manual', 'rollback', 'import'));
UPDATE insight.deployments SET cause = 'train' WHERE strategy IN ('always', 'if_better');

-- monitoring history (see sql/bootstrap.sql)
CREATE TABLE insight.evaluations (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id     bigint REFERENCES insight.models (id) ON DELETE SET NULL,
    name         text NOT NULL,
    version      int NOT NULL,
    relation     text NOT NULL,
    metrics      jsonb NOT NULL,
    source       text NOT NULL CHECK (source IN ('evaluate', 'retrain', 'champion')),
    evaluated_at timestamptz NOT NULL DEFAULT now(),
    evaluated_by name NOT NULL DEFAULT current_user
);
CREATE INDEX evaluations_name_idx ON insight.evaluations (name, evaluated_at);
CREATE INDEX evaluations_model_idx ON insight.evaluations (model_id);
CREATE TABLE insight.drift_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id    bigint REFERENCES insight.models (id) ON DELETE SET NULL,
    name        text NOT NULL,
    version     int NOT NULL,
    relation    text NOT NULL,
    feature     text NOT NULL,
    psi         float8 NOT NULL,
    status      text NOT NULL CHECK (status IN ('ok', 'watch', 'alert')),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    recorded_by name NOT NULL DEFAULT current_user
);
CREATE INDEX drift_history_name_idx ON insight.drift_history (name, recorded_at);
CREATE INDEX drift_history_model_idx ON insight.drift_history (model_id);
SELECT pg_catalog.pg_extension_config_dump('insight.evaluations', '');
SELECT pg_catalog.pg_extension_config_dump('insight.drift_history', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('insight.evaluations', 'id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('insight.drift_history', 'id')::pg_catalog.regclass, '');
COMMENT ON TABLE insight.evaluations IS 'Monitoring history: metrics of model versions on relations (insight.evaluate(..., record => true); every insight.retrain, sources retrain and champion)';
COMMENT ON TABLE insight.drift_history IS 'Monitoring history: PSI per input and of the scores (insight.drift(..., record => true); insight.retrain(..., when_drift_above => ...))';

-- evaluate can record its metrics (and so is VOLATILE)
DROP FUNCTION insight.evaluate(text, regclass);
CREATE FUNCTION insight.evaluate(model text, relation regclass, record boolean DEFAULT false) RETURNS jsonb
  STRICT VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', 'evaluate_wrapper';
COMMENT ON FUNCTION insight.evaluate(text, regclass, boolean) IS
  'Metrics of a model on a labelled relation (same keys as training); with record => true also appended to insight.evaluations';

-- the registry shows why the serving version was deployed and the last recorded evaluation and drift
CREATE OR REPLACE VIEW insight.model_registry AS
WITH names AS (
    SELECT name, max(version) AS latest_version, count(*) AS versions FROM insight.models GROUP BY name
), current AS (
    SELECT DISTINCT ON (name) name, model_id, deployed_at, deployed_by, cause
      FROM insight.deployments ORDER BY name, id DESC
), latest AS (
    SELECT DISTINCT ON (name) name, id FROM insight.models ORDER BY name, version DESC
), evaluated AS (
    SELECT name, max(evaluated_at) AS evaluated_at FROM insight.evaluations GROUP BY name
), drifted AS (
    -- the newest drift record of each name: its largest PSI
    SELECT DISTINCT ON (name) name, recorded_at, max(psi) AS psi
      FROM insight.drift_history GROUP BY name, recorded_at ORDER BY name, recorded_at DESC
)
-- algorithm, task, relation, target and metrics: of the deployed version, or of the latest one
-- when none is deployed (deployed_version is NULL then)
SELECT n.name,
       CASE WHEN c.model_id IS NOT NULL THEN m.version END AS deployed_version,
       n.latest_version,
       n.versions,
       m.algorithm,
       m.task,
       m.relation,
       m.target,
       (m.metrics ->> 'roc_auc')::float8  AS roc_auc,
       (m.metrics ->> 'accuracy')::float8 AS accuracy,
       (m.metrics ->> 'f1')::float8       AS f1,
       (m.metrics ->> 'rmse')::float8     AS rmse,
       (m.metrics ->> 'r2')::float8       AS r2,
       c.deployed_at,
       c.deployed_by,
       (m.metrics ->> 'silhouette')::float8 AS silhouette,
       c.cause AS deployed_cause,
       e.evaluated_at,
       d.psi AS drift_psi,
       CASE WHEN d.psi >= 0.25 THEN 'alert' WHEN d.psi >= 0.1 THEN 'watch' WHEN d.psi IS NOT NULL THEN 'ok' END
         AS drift_status,
       d.recorded_at AS drift_at
  FROM names n
  LEFT JOIN current c ON c.name = n.name
  JOIN latest l ON l.name = n.name
  JOIN insight.models m ON m.id = coalesce(c.model_id, l.id)
  LEFT JOIN evaluated e ON e.name = n.name
  LEFT JOIN drifted d ON d.name = n.name;

COMMENT ON VIEW insight.model_registry IS 'One row per model name: deployed version and why, algorithm, task, key test metrics, last recorded evaluation and drift';

-- the numbers behind insight.report's charts (ml::report_data), from the test split
ALTER TABLE insight.models ADD COLUMN report_data jsonb;
-- the weights are no longer everyone's to read: scoring reads them as the extension's owner
REVOKE SELECT ON insight.models FROM PUBLIC;
-- (xmin and cmin: a decoded model is cached by row version, store::cache)
GRANT SELECT (id, name, version, task, algorithm, relation, target, features, options, metrics, n_rows,
              train_seconds, created_at, created_by, report_data, xmin, cmin) ON insight.models TO PUBLIC;
GRANT SELECT ON insight.evaluations, insight.drift_history TO PUBLIC;

-- review text: demo reviews and the n-grams behind text models (api/demo.rs, api/text.rs)
CREATE FUNCTION insight.demo_reviews(customers integer DEFAULT 10000, seed bigint DEFAULT 42)
  RETURNS TABLE (customer_id bigint, language text, review text, rating integer, satisfied boolean)
  IMMUTABLE PARALLEL SAFE STRICT LANGUAGE c AS 'MODULE_PATHNAME', 'demo_reviews_wrapper';
CREATE FUNCTION insight.top_terms(model text, n integer DEFAULT 20)
  RETURNS TABLE (feature text, class text, term text, weight double precision)
  STABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'top_terms_wrapper';
COMMENT ON FUNCTION insight.demo_reviews(int, bigint) IS
  'Seeded English and Chinese product reviews of the demo customers, rated from planted causes (aspects such as delivery or taste, and support tickets); satisfied is a rating of 4 or 5';
COMMENT ON FUNCTION insight.top_terms(text, int) IS
  'The n-grams that push each free-text column''s score most towards each class, with their weights in the column''s text model';
CREATE FUNCTION insight.review_topics(model text, relation regclass, k integer DEFAULT 8)
  RETURNS TABLE (topic integer, reviews bigint, share double precision, satisfaction double precision,
                 terms text[], example text)
  STABLE PARALLEL RESTRICTED LANGUAGE c AS 'MODULE_PATHNAME', 'review_topics_wrapper';
COMMENT ON FUNCTION insight.review_topics(text, regclass, int) IS
  'The reviews of a relation in k topics (k-means over the tf-idf rows of the model''s free-text column): size, share, mean predicted satisfaction, the n-grams that set each apart, and the review nearest its centre';

-- sentence embeddings (api/embed.rs; with the candle feature, else an error saying how to get it)
CREATE FUNCTION insight.embed(text text) RETURNS real[]
  STRICT STABLE PARALLEL RESTRICTED LANGUAGE c AS 'MODULE_PATHNAME', 'embed_wrapper';
CREATE FUNCTION insight.embed_many(texts text[])
  RETURNS TABLE (ordinality integer, embedding real[])
  STABLE PARALLEL RESTRICTED LANGUAGE c AS 'MODULE_PATHNAME', 'embed_many_wrapper';
COMMENT ON FUNCTION insight.embed(text) IS
  'The unit-length sentence embedding of a text with the model in insight.embedding_model_path (builds with the candle feature)';
COMMENT ON FUNCTION insight.embed_many(text[]) IS
  'Sentence embeddings of many texts, batched through the model: one row per text (ordinality, embedding; NULL for a NULL text)';

-- model reports (api/report.rs): one self-contained HTML page per model version
CREATE FUNCTION insight.report(model text, relation regclass DEFAULT NULL)
  RETURNS text STABLE PARALLEL RESTRICTED LANGUAGE c AS 'MODULE_PATHNAME', 'report_wrapper';
COMMENT ON FUNCTION insight.report(text, regclass) IS
  'A model version''s report as one self-contained HTML page (inline SVG, no scripts): the model card, deployments, and the charts of its task, on the test split stored at training or on the rows of relation';

-- Citus (README "Scale out with Citus"): the catalog as reference tables, so that every node
-- holds every model and a scorer pushed down to a worker finds it (store/citus.rs). Citus turns
-- every plain table in a foreign-key graph into a "Citus local table" as soon as one of them
-- becomes a reference table, and that conversion drops identity columns, whose sequences belong
-- to this extension; so the three foreign keys to insight.models are dropped first, on every
-- node, and added back once all four tables are reference tables (Citus then adds them to the
-- shards as well).
CREATE FUNCTION insight.distribute_catalog() RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $$
DECLARE
  tables constant text[] := ARRAY['insight.models', 'insight.deployments', 'insight.evaluations', 'insight.drift_history'];
  fks constant text[] := ARRAY['deployments', 'evaluations', 'drift_history'];
  t text;
  failed text;
  nodes bigint;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') THEN
    RAISE EXCEPTION 'insight.distribute_catalog needs Citus, and database % does not have it', current_database()
      USING ERRCODE = 'feature_not_supported',
            HINT = 'On one server there is nothing to distribute. On a Citus cluster, run CREATE EXTENSION citus (with shared_preload_libraries = ''citus'') and call this on the coordinator.';
  END IF;
  IF NOT citus_is_coordinator() THEN
    RAISE EXCEPTION 'insight.distribute_catalog runs on the Citus coordinator, and this node is a worker'
      USING ERRCODE = 'feature_not_supported',
            HINT = 'Connect to the coordinator and call it there.';
  END IF;
  -- two sessions at once: the second waits here, then finds the work done
  PERFORM pg_advisory_xact_lock(hashtext('pg_insight'), hashtext('distribute_catalog'));
  SELECT count(*) INTO nodes FROM pg_dist_node WHERE isactive AND noderole = 'primary';
  IF (SELECT count(*) FROM pg_dist_partition
       WHERE logicalrelid = ANY (tables::regclass[]) AND partmethod = 'n' AND repmodel = 't') = 4 THEN
    RETURN format('the model catalog is already a set of reference tables, on %s nodes', nodes);
  END IF;
  IF EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = ANY (tables::regclass[])) THEN
    RAISE EXCEPTION 'the model catalog is partly distributed in another way than insight.distribute_catalog does'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'SELECT logicalrelid, partmethod FROM pg_dist_partition shows which of insight.models, deployments, evaluations and drift_history are Citus tables; all four must be plain for this call. Save the models (insight.export_model), recreate the extension, import them (insight.import_model) and call this again.';
  END IF;
  FOREACH t IN ARRAY fks LOOP
    EXECUTE format('ALTER TABLE insight.%I DROP CONSTRAINT IF EXISTS %I', t, t || '_model_id_fkey');
  END LOOP;
  SELECT string_agg(format('%s:%s: %s', nodename, nodeport, result), '; ') INTO failed
    FROM run_command_on_workers(
      'ALTER TABLE insight.deployments DROP CONSTRAINT IF EXISTS deployments_model_id_fkey;'
      ' ALTER TABLE insight.evaluations DROP CONSTRAINT IF EXISTS evaluations_model_id_fkey;'
      ' ALTER TABLE insight.drift_history DROP CONSTRAINT IF EXISTS drift_history_model_id_fkey')
   WHERE NOT success;
  IF failed IS NOT NULL THEN
    RAISE EXCEPTION 'insight.distribute_catalog could not prepare the catalog on the workers: %', failed
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Every worker needs pg_insight (CREATE EXTENSION pg_insight on the coordinator propagates it; citus_add_node adds it to a new node).';
  END IF;
  FOREACH t IN ARRAY tables LOOP
    PERFORM create_reference_table(t::regclass);
  END LOOP;
  ALTER TABLE insight.deployments ADD CONSTRAINT deployments_model_id_fkey
    FOREIGN KEY (model_id) REFERENCES insight.models (id) ON DELETE CASCADE;
  ALTER TABLE insight.evaluations ADD CONSTRAINT evaluations_model_id_fkey
    FOREIGN KEY (model_id) REFERENCES insight.models (id) ON DELETE SET NULL;
  ALTER TABLE insight.drift_history ADD CONSTRAINT drift_history_model_id_fkey
    FOREIGN KEY (model_id) REFERENCES insight.models (id) ON DELETE SET NULL;
  -- the coordinator's own copies of the rows, now hidden behind the reference tables' shards
  FOREACH t IN ARRAY ARRAY['insight.drift_history', 'insight.evaluations', 'insight.deployments', 'insight.models'] LOOP
    PERFORM truncate_local_data_after_distributing_table(t::regclass);
  END LOOP;
  RETURN format('insight.models, deployments, evaluations and drift_history are reference tables on %s nodes', nodes);
END
$$;
REVOKE EXECUTE ON FUNCTION insight.distribute_catalog() FROM PUBLIC;
COMMENT ON FUNCTION insight.distribute_catalog() IS
  'On a Citus coordinator: make the model catalog reference tables, so that every node sees every model (once per cluster)';
