-- The feed-forward network (algorithm => 'mlp'): classification, regression, determinism, and
-- accuracy against logistic regression on linear and non-linear planted rules.
SELECT name, version, algorithm, deployed,
       (metrics->>'roc_auc')::float8 > 0.78 AS auc_above_078,
       (metrics->>'epochs_run')::int >= (metrics->>'best_epoch')::int AS best_epoch_kept
  FROM insight.train('mlp_purchase', 'customers', target => 'purchased', algorithm => 'mlp');
SELECT array_agg(k ORDER BY k) AS stored_options
  FROM insight.models, jsonb_object_keys(options) k WHERE name = 'mlp_purchase' AND version = 1;
-- the same seed trains the same network
SELECT version FROM insight.train('mlp_purchase', 'customers', target => 'purchased', algorithm => 'mlp', deploy => 'never');
SELECT bool_and(insight.predict('mlp_purchase@1', c) = insight.predict('mlp_purchase@2', c)) AS deterministic
  FROM customers c;
SELECT (SELECT weights FROM insight.models WHERE name = 'mlp_purchase' AND version = 1)
     = (SELECT weights FROM insight.models WHERE name = 'mlp_purchase' AND version = 2) AS same_weights;
-- on the (linear) planted purchase rule the network does not lose to logistic regression
-- by more than 0.01 test AUC (same split: same seed)
SELECT (SELECT (metrics->>'roc_auc')::float8 FROM insight.models WHERE name = 'mlp_purchase' AND version = 1)
     - (SELECT (metrics->>'roc_auc')::float8 FROM insight.models WHERE name = 'truth_check' AND version = 1)
       > -0.01 AS not_worse_than_logistic;
-- scores are probabilities; the scorers agree; predict_class uses the threshold
SELECT count(*) FILTER (WHERE p NOT BETWEEN 0 AND 1) AS out_of_range,
       bool_and(p = insight.predict_proba('mlp_purchase', c)) AS proba_agrees,
       bool_and((insight.predict_class('mlp_purchase', c) = 'true') = (p >= 0.5)) AS threshold_ok
  FROM customers c, LATERAL (SELECT insight.predict_purchase('mlp_purchase', c) AS p) s;
SELECT jsonb_array_length(insight.model_info('mlp_purchase')->'parameters'->'layers') AS layers,
       insight.model_info('mlp_purchase')->'parameters'->>'activation' AS activation,
       (insight.model_info('mlp_purchase')->'parameters'->>'n_parameters')::int AS n_parameters;

-- explanations: integrated gradients from the mean customer add up to the prediction
SELECT count(*) AS terms, abs(sum(contribution) - p) < 0.005 AS sums_to_prediction,
       bool_or(feature = '(baseline)') AS has_baseline
  FROM customers c,
       LATERAL (SELECT insight.predict('mlp_purchase', c) AS p) s,
       LATERAL insight.explain('mlp_purchase', c) e
 WHERE c.customer_id IN (1, 2, 3)
 GROUP BY c.customer_id, p ORDER BY c.customer_id;
-- the largest average attributions go to planted drivers, not to noise columns
SELECT bool_and(feature IN (SELECT jsonb_object_keys(insight.demo_truth()->'drivers'))) AS top3_are_drivers FROM (
  SELECT feature, avg(abs(contribution)) AS a
    FROM customers c, insight.explain('mlp_purchase', c) e
   WHERE c.customer_id <= 200 AND feature <> '(baseline)'
   GROUP BY feature ORDER BY a DESC LIMIT 3) t;

SELECT bool_and(feature IN (SELECT jsonb_object_keys(insight.demo_truth()->'drivers')) OR feature = 'channel') AS mlp_top6_are_drivers
  FROM (SELECT feature FROM insight.feature_importance('mlp_purchase') LIMIT 6) t;

-- a non-linear planted rule (buy when two signals agree in sign): the network finds it,
-- logistic regression cannot
CREATE TABLE interactions AS
SELECT i AS id, a, b, noise, (a * b > 0) <> (r < 0.1) AS bought
  FROM (SELECT i, sin(i * 12.9898) AS a, cos(i * 78.233) AS b, sin(i * 3.3) AS noise,
               abs(sin(i * 4.1414 + 1.0)) AS r
          FROM generate_series(1, 3000) i) s;
SELECT name, (metrics->>'roc_auc')::float8 < 0.6 AS logistic_near_chance
  FROM insight.train('rule_logistic', 'interactions', target => 'bought', exclude => ARRAY['id']);
SELECT name, (metrics->>'roc_auc')::float8 > 0.85 AS mlp_finds_rule
  FROM insight.train('rule_mlp', 'interactions', target => 'bought', algorithm => 'mlp', exclude => ARRAY['id'],
                     options => '{"hidden": [32, 16], "dropout": 0.0, "epochs": 100}');
-- numeric-only network: rows by name and arrays by position agree
SELECT max(abs(insight.predict('rule_mlp', t) - insight.predict('rule_mlp', ARRAY[t.a, t.b, t.noise]))) < 1e-12 AS row_matches_array
  FROM interactions t;

-- small, imbalanced and noisy (about 4% positives, 3 real drivers among 83 columns, 5,000
-- rows): the network must not overfit below logistic regression
DO $$
BEGIN
  EXECUTE 'CREATE TABLE imbalanced AS SELECT i AS id, '
       || (SELECT string_agg(format('sin(i * %s + %s) * 1.7 AS n%s', 13.1 + j * 0.77, j, j), ', ') FROM generate_series(1, 80) j)
       || ', x1, x2, x3, u < 1 / (1 + exp(-(-3.9 + 1.2 * x1 - 0.9 * x2 + 0.7 * x3))) AS bought'
       || ' FROM generate_series(1, 5000) i,'
       || ' LATERAL (SELECT abs(sin(i * 91.7) * 43758.5453) - floor(abs(sin(i * 91.7) * 43758.5453)) AS u,'
       || '   sqrt(-2 * ln(greatest(1e-12, abs(sin(i * 1.1))))) * cos(i * 7.7) AS x1,'
       || '   sqrt(-2 * ln(greatest(1e-12, abs(sin(i * 2.3))))) * cos(i * 5.3) AS x2,'
       || '   sqrt(-2 * ln(greatest(1e-12, abs(sin(i * 3.7))))) * cos(i * 9.1) AS x3) r';
END $$;
SELECT round(avg(bought::int), 3) AS positive_rate FROM imbalanced;
SELECT (SELECT (metrics->>'roc_auc')::float8 FROM insight.train('imb_mlp', 'imbalanced', target => 'bought', algorithm => 'mlp', exclude => ARRAY['id']))
     >= (SELECT (metrics->>'roc_auc')::float8 FROM insight.train('imb_logistic', 'imbalanced', target => 'bought', exclude => ARRAY['id'])) - 0.005
       AS not_below_logistic;

-- multiclass and regression heads
SELECT name, algorithm, (metrics->>'accuracy')::float8 > 0.3 AS better_than_chance
  FROM insight.train('mlp_channel', 'customers', target => 'channel', algorithm => 'mlp', exclude => ARRAY['purchased']);
SELECT insight.predict_class('mlp_channel', c) IN ('web', 'store', 'app', 'email') AS known_label
  FROM customers c WHERE customer_id = 1;
CREATE TABLE curve AS SELECT i, (i / 100.0)::float8 AS x, 5 + 3 * (i / 100.0) ^ 2 AS y FROM generate_series(-200, 200) i;
SELECT name, (metrics->>'r2')::float8 > 0.95 AS fits_the_curve
  FROM insight.train('mlp_curve', 'curve', target => 'y', algorithm => 'mlp', exclude => ARRAY['i'],
                     options => '{"hidden": [16], "dropout": 0.0, "epochs": 300, "learning_rate": 0.01, "early_stopping": false}');

-- options are checked
\pset tuples_only on
\pset format unaligned
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', algorithm => 'mlp', options => '{"hidden": [0]}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', algorithm => 'mlp', options => '{"hidden": 64}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', algorithm => 'mlp', options => '{"dropout": 1}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', algorithm => 'mlp', options => '{"activation": "sigmoid"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', algorithm => 'mlp', options => '{"optimizer": "rmsprop"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'customers', target => 'purchased', algorithm => 'mlp', options => '{"max_iter": 10}')$$);
SELECT count(*) AS models_named_m FROM insight.models WHERE name = 'm';

-- nightly bulk scoring into a table, created when missing, replaced or appended
CALL insight.score_table('mlp_purchase', 'customers', 'mlp_scores', 'customer_id');
SELECT count(*) AS rows_scored,
       bool_and(s.score = insight.predict('mlp_purchase', c)) AS same_as_predict
  FROM mlp_scores s JOIN customers c USING (customer_id);
SELECT format_type(atttypid, atttypmod) AS key_type FROM pg_attribute
 WHERE attrelid = 'mlp_scores'::regclass AND attname = 'customer_id';
CALL insight.score_table('mlp_purchase', 'customers', 'mlp_scores', 'customer_id', mode => 'replace');
SELECT count(*) AS after_replace FROM mlp_scores;
-- a multiclass model writes its labels by default; output => 'score' appends the probability of
-- the predicted class to a score table
CALL insight.score_table('mlp_channel', 'customers', 'public.mlp_scores', 'customer_id', output => 'score');
SELECT count(*) AS after_append FROM mlp_scores;
CALL insight.score_table('mlp_channel', 'customers', 'mlp_channel_labels', 'customer_id');
SELECT count(*) AS labelled, bool_and(l.class = insight.predict_class('mlp_channel', c)) AS same_as_predict_class,
       format_type(a.atttypid, a.atttypmod) AS class_type
  FROM mlp_channel_labels l JOIN customers c USING (customer_id),
       pg_attribute a WHERE a.attrelid = 'mlp_channel_labels'::regclass AND a.attname = 'class'
 GROUP BY 3;
SELECT try_sql($$CALL insight.score_table('mlp_channel', 'customers', 'mlp_scores', 'customer_id', output => 'class')$$);
SELECT try_sql($$CALL insight.score_table('mlp_channel', 'customers', 'mlp_scores', 'customer_id', output => 'probability')$$);
SELECT try_sql($$CALL insight.score_table('mlp_purchase', 'customers', 'mlp_scores', 'no_such_key')$$);
SELECT try_sql($$CALL insight.score_table('mlp_purchase', 'customers', 'customers', 'customer_id')$$);
SELECT try_sql($$CALL insight.score_table('mlp_purchase', 'customers', 'mlp_scores', 'customer_id', mode => 'merge')$$);
SELECT try_sql($$CALL insight.score_table('mlp_purchase', 'customers', 'a.b.c.d', 'customer_id')$$);

-- insight.device = cuda without a CUDA build is an error when it is SET, not a silent CPU
-- fallback and not a surprise at the next training
SELECT try_sql($$SET insight.device = cuda$$);
SHOW insight.device;
SELECT count(*) AS models_named_m FROM insight.models WHERE name = 'm';

-- a long training answers statement_timeout (query cancel) from inside the epoch loop, with its
-- helper threads running: the statement ends with 57014 after the reading, no model is written,
-- and the session goes on (without the checks, 10000 epochs would run for minutes)
SET insight.threads = 2;
\set VERBOSITY terse
SET statement_timeout = '1500ms';
SELECT * FROM insight.train('cancelled', 'customers', target => 'purchased', algorithm => 'mlp',
                            exclude => ARRAY['customer_id'], options => '{"epochs": 10000, "early_stopping": false}');
RESET statement_timeout;
\set VERBOSITY default
RESET insight.threads;
SELECT count(*) AS models_named_cancelled FROM insight.models WHERE name = 'cancelled';
SELECT round(insight.predict_purchase('mlp_purchase', c)::numeric, 6) = round(s.score::numeric, 6) AS still_scores
  FROM customers c JOIN mlp_scores s USING (customer_id) ORDER BY customer_id LIMIT 1;
