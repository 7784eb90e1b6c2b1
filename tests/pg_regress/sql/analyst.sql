-- What an analyst trips over when following the README: silent choices are now said or refused,
-- and the missing pieces are there.
\pset null '(null)'

-- Key-like columns of a table without a primary key (a view, CREATE TABLE AS) are left out with a
-- NOTICE: unique integer or text values in every row, or an id / *_id name with mostly distinct
-- values. A code with few values (region_id) stays; listing a key in features keeps it.
CREATE TABLE an_ctas AS
SELECT customer_id, 'C-' || customer_id AS customer_ref, (customer_id % 4)::int AS region_id,
       age, visits_30d, purchased
  FROM customers;
SELECT algorithm, metrics->'feature_importance' ? 'region_id' AS region_id_used,
       metrics->'feature_importance' ? 'customer_id' AS customer_id_used
  FROM insight.train('an_keys', 'an_ctas', target => 'purchased');
SELECT metrics->'feature_importance' ? 'customer_id' AS listed_key_used
  FROM insight.train('an_keys', 'an_ctas', target => 'purchased', features => ARRAY['customer_id', 'age']);
-- features and exclude naming the same column is an error, not a silent choice
SELECT try_sql($$SELECT * FROM insight.train('an_keys', 'an_ctas', target => 'purchased',
  features => ARRAY['age', 'visits_30d'], exclude => ARRAY['age'])$$);

-- A numeric target with two values (0/1 stored as float8) is classified, and the NOTICE says
-- what was inferred and how to choose otherwise; a numeric quantity is regressed, said too.
CREATE TABLE an_float_labels AS SELECT customer_id, age, visits_30d, purchased::int::float8 AS bought FROM customers;
SELECT algorithm, metrics ? 'roc_auc' AS has_roc_auc
  FROM insight.train('an_float', 'an_float_labels', target => 'bought', exclude => ARRAY['customer_id']);
SELECT algorithm, metrics ? 'r2' AS has_r2
  FROM insight.train('an_value', 'customers', target => 'avg_order_value', features => ARRAY['age', 'visits_30d']);
-- the inferred task is named in the error for a type nothing can predict
CREATE TABLE an_uuid AS SELECT md5(customer_id::text)::uuid AS u, age FROM customers LIMIT 200;
SELECT try_sql($$SELECT * FROM insight.train('an_uuid', 'an_uuid', target => 'u')$$);

-- Logistic regression stops where float64 allows: few Newton iterations, converged, no WARNING
-- (the gradient used to stall just above tol and run 100 iterations).
SELECT (metrics->>'iterations')::int <= 10 AS few_iterations, metrics->>'converged' AS converged
  FROM insight.train('an_tol', 'customers', target => 'purchased', features => ARRAY['age', 'tenure_days', 'visits_30d']);
SELECT (metrics->>'iterations')::int <= 10 AS few_iterations, metrics->>'converged' AS converged
  FROM insight.train('an_tol', 'customers', target => 'purchased', features => ARRAY['channel', 'visits_30d']);

-- explain of an unpenalised linear model with categories: each category's contribution is its
-- difference from an average row (no collinear offsets), the rows sum to the prediction, no -0.
SELECT version FROM insight.train('an_aov', 'customers', target => 'avg_order_value',
  features => ARRAY['region', 'channel'], options => '{"l2": 0}');
SELECT max(abs(e.contribution)) FILTER (WHERE e.feature <> '(intercept)') < 5 AS small_category_effects,
       abs(max(e.contribution) FILTER (WHERE e.feature = '(intercept)') - (SELECT avg(avg_order_value) FROM customers)) < 2
         AS intercept_is_the_average,
       abs(sum(e.contribution) - insight.predict('an_aov', c)) < 1e-9 AS sums_to_prediction,
       bool_and(e.contribution::text <> '-0' AND coalesce(e.value::text, '') <> '-0') AS no_negative_zero,
       count(*) FILTER (WHERE e.class IS NOT NULL) AS rows_with_class
  FROM customers c, insight.explain('an_aov', c) e WHERE c.customer_id = 7 GROUP BY c.*;
-- the category coefficients of a text column average to zero over the training rows (here
-- weighted by the shares in all rows, training and test: near zero)
SELECT abs((SELECT sum((coef.value::float8) * share)
                FROM jsonb_each_text(insight.model_info('an_aov')->'parameters'->'coefficients') coef,
                     LATERAL (SELECT count(*) FILTER (WHERE 'region=' || c.region = coef.key)::float8 / count(*) AS share
                                FROM customers c) s
               WHERE coef.key LIKE 'region=%')) < 0.05 AS region_coefficients_centred;

-- multiclass: every class's probability, and explain says (or is told) which class it explains
SELECT version FROM insight.train('an_channel', 'customers', target => 'channel', features => ARRAY['age', 'visits_30d', 'region']);
SELECT jsonb_object_keys(insight.predict_probas('an_channel', c)) AS class FROM customers c WHERE customer_id = 7 ORDER BY 1;
SELECT round((SELECT sum(v::float8) FROM jsonb_each_text(insight.predict_probas('an_channel', c)) p(k, v))::numeric, 9) AS probas_sum,
       insight.predict_probas('an_channel', c) ->> insight.predict_class('an_channel', c)
         = (SELECT max(v::float8) FROM jsonb_each_text(insight.predict_probas('an_channel', c)) p(k, v))::text AS predicted_is_most_probable
  FROM customers c WHERE customer_id = 7;
SELECT DISTINCT e.class = insight.predict_class('an_channel', c) AS explains_predicted_class
  FROM customers c, insight.explain('an_channel', c) e WHERE c.customer_id = 7;
SELECT DISTINCT e.class FROM customers c, insight.explain('an_channel', c, class => 'web') e WHERE c.customer_id = 7;
SELECT try_sql($$SELECT * FROM customers c, insight.explain('an_channel', c, class => 'fax') e WHERE c.customer_id = 7$$);
-- binary: the positive class; regression: none
SELECT DISTINCT e.class FROM customers c, insight.explain('an_tol', c) e WHERE c.customer_id = 7;
SELECT insight.predict_probas('an_tol', c) FROM customers c WHERE customer_id = 7 AND false;
SELECT jsonb_object_keys(insight.predict_probas('an_tol', c)) AS binary_classes FROM customers c WHERE customer_id = 7 ORDER BY 1;
SELECT try_sql($$SELECT insight.predict_probas('an_aov', c) FROM customers c LIMIT 1$$);
-- a NULL row has no explanation: no rows
SELECT count(*) AS rows_for_null FROM insight.explain('an_tol', NULL::customers);

-- the registry shows what a name is even when nothing of it is deployed
SELECT version, deployed FROM insight.train('an_undeployed', 'customers', target => 'purchased',
  features => ARRAY['age'], deploy => 'never');
SELECT name, deployed_version, latest_version, algorithm, task, relation, target, roc_auc IS NOT NULL AS has_roc_auc
  FROM insight.model_registry WHERE name = 'an_undeployed';

-- networks report iterations and converged like the other classifiers
SELECT metrics ? 'iterations' AS has_iterations, metrics ? 'converged' AS has_converged
  FROM insight.train('an_mlp', 'customers', target => 'purchased', algorithm => 'mlp',
                     features => ARRAY['age', 'visits_30d'], options => '{"epochs": 3, "hidden": [8]}');

-- an untyped literal in ROW(...) is read as the text it is
SELECT insight.predict('an_channel', ROW(40, 5, 'north')) = insight.predict('an_channel', ROW(40, 5, 'north'::text)) AS unknown_literal_as_text;
SELECT try_sql($$SELECT insight.predict('an_channel', ROW('forty', 5, 'north'))$$);
