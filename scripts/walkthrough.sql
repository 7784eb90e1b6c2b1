-- The analyst walkthrough that scripts/demo runs.
\echo '-- 1. Install the extension and load 20,000 demo customers (seeded, with a planted purchase model)'
CREATE EXTENSION pg_insight;
CREATE TABLE customers AS SELECT * FROM insight.demo_customers(20000, 42);
ALTER TABLE customers ADD PRIMARY KEY (customer_id);
CREATE TABLE orders AS SELECT * FROM insight.demo_orders(20000, 42);
SELECT * FROM customers LIMIT 5;

\echo '-- 2. Train a purchase-propensity model with one call'
SELECT model_id, name, version, algorithm, deployed,
       jsonb_pretty(metrics) AS metrics
  FROM insight.train('purchase_propensity', 'customers', target => 'purchased');

\echo '-- 3. The registry of models'
SELECT name, deployed_version, algorithm, round(roc_auc::numeric, 3) AS roc_auc,
       round(accuracy::numeric, 3) AS accuracy, round(f1::numeric, 3) AS f1
  FROM insight.model_registry;

\echo '-- 4. The 20 customers most likely to buy'
SELECT customer_id, channel, visits_30d, is_member,
       round(insight.predict_purchase('purchase_propensity', c)::numeric, 3) AS propensity
  FROM customers c
 ORDER BY insight.predict_purchase('purchase_propensity', c) DESC
 LIMIT 20;

\echo '-- 5. Lift table: how much better than random targeting each decile is'
SELECT bin, customers, positives, round(rate::numeric, 3) AS rate, round(lift::numeric, 2) AS lift,
       round(cumulative_gain::numeric, 3) AS cumulative_gain
  FROM insight.lift('purchase_propensity', 'customers');

\echo '-- 6. What drives purchases (coefficients per standard deviation) vs the planted truth'
SELECT key AS feature, round(value::numeric, 3) AS coefficient
  FROM jsonb_each_text(insight.model_info('purchase_propensity')->'parameters'->'coefficients')
 ORDER BY abs(value::float8) DESC LIMIT 10;
SELECT jsonb_pretty(insight.demo_truth()->'drivers') AS planted_drivers;

\echo '-- 7. Why the top customer scores high (contributions to the log-odds)'
SELECT feature, round(value::numeric, 3) AS value, round(contribution::numeric, 3) AS contribution
  FROM customers c, insight.explain('purchase_propensity', c)
 WHERE c.customer_id = (SELECT customer_id FROM customers t
                         ORDER BY insight.predict_purchase('purchase_propensity', t) DESC LIMIT 1)
 ORDER BY abs(contribution) DESC LIMIT 8;
