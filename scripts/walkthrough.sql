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

\echo '-- 8. Segment customers by behaviour (planted segments: demo_behaviour); k is chosen by silhouette'
CREATE TABLE behaviour AS SELECT * FROM insight.demo_behaviour(20000, 42);
ALTER TABLE behaviour ADD PRIMARY KEY (customer_id);
SELECT name, version, metrics->>'k' AS k, round((metrics->>'silhouette')::numeric, 3) AS silhouette,
       metrics->'sizes' AS sizes
  FROM insight.train('behaviour_segments', 'behaviour', algorithm => 'kmeans', exclude => ARRAY['planted_segment']);

\echo '-- 9. What each segment is: its most distinguishing behaviour, and how it matches the planted segments'
SELECT segment, customers, round(share::numeric, 3) AS share, description
  FROM insight.segment_summary('behaviour_segments') ORDER BY segment;
SELECT insight.segment('behaviour_segments', b) AS segment, planted_segment, count(*)
  FROM behaviour b GROUP BY 1, 2 HAVING count(*) > 100 ORDER BY 1, 3 DESC;

\echo '-- 10. Hierarchical segments (Ward) and the same tree cut into 3 broader groups, without re-reading'
SELECT name, version, metrics->>'k' AS k, metrics->'sizes' AS sizes
  FROM insight.train('behaviour_tree', 'behaviour', algorithm => 'agglomerative', exclude => ARRAY['planted_segment'],
                     options => '{"k": 5}');
SELECT name, version, metrics->'sizes' AS sizes, round((metrics->>'cut_height')::numeric, 2) AS cut_height
  FROM insight.recut('behaviour_tree', 3);
SELECT segment, customers, description FROM insight.segment_summary('behaviour_tree@2') ORDER BY segment;

\echo '-- 11. One segmentation per region in one query (training aggregate), stored and scored by column name'
CREATE TABLE region_models AS
SELECT c.region,
       insight.kmeans_agg(ARRAY[b.sessions_30d, b.minutes_per_session, b.orders_12m, b.spend_12m, b.discount_share]::float8[], 5) AS model
  FROM customers c JOIN behaviour b USING (customer_id) GROUP BY c.region;
SELECT r.region, s.name, s.version, s.metrics->'sizes' AS sizes
  FROM region_models r,
       insight.save_model('segments_' || r.region, r.model,
                          ARRAY['sessions_30d', 'minutes_per_session', 'orders_12m', 'spend_12m', 'discount_share']) s
 ORDER BY r.region;
SELECT c.region, insight.segment('segments_' || c.region, b) AS segment, count(*)
  FROM customers c JOIN behaviour b USING (customer_id) WHERE c.region = 'north' GROUP BY 1, 2 ORDER BY 2;

\echo '-- 12. Customer value from the orders: the lifetimes summary, BG/NBD and Gamma-Gamma (true parameters in demo_truth)'
CREATE TABLE histories AS
SELECT customer_id, (insight.clv_summary(order_date, amount, '2026-06-30')).* FROM orders GROUP BY customer_id;
SELECT name, metrics->'params' AS fitted, insight.demo_truth()->'orders'->'bgnbd' AS true_params
  FROM insight.train('purchases', 'histories', algorithm => 'bgnbd');
SELECT name, metrics->'params' AS fitted, insight.demo_truth()->'orders'->'gamma_gamma' AS true_params
  FROM insight.train('value', 'histories', algorithm => 'gamma_gamma', options => '{"transactions": "purchases"}');

\echo '-- 13. The customers with the highest predicted value over the next 12 months (1% a month discount)'
SELECT customer_id, frequency, round(recency::numeric, 1) AS recency_weeks, round(t::numeric, 1) AS age_weeks,
       round(monetary_value::numeric, 2) AS avg_repeat_order,
       round(insight.p_alive('purchases', h)::numeric, 3) AS p_alive,
       round(insight.expected_purchases('purchases', h, 52)::numeric, 2) AS purchases_next_year,
       round(insight.predict_clv('value', h, 12, 0.01)::numeric, 2) AS clv_12_months
  FROM histories h
 ORDER BY insight.predict_clv('value', h, 12, 0.01) DESC LIMIT 10;

\echo '-- 14. RFM segments of the customers (quintile scores, named by the RFM map)'
WITH r AS (SELECT customer_id, (insight.rfm(order_date, amount, '2026-06-30')).* FROM orders GROUP BY customer_id),
     scored AS (SELECT *, ntile(5) OVER (ORDER BY recency_days DESC) AS r_score,
                          ntile(5) OVER (ORDER BY frequency) AS f_score, ntile(5) OVER (ORDER BY monetary) AS m_score
                  FROM r WHERE frequency IS NOT NULL)
SELECT insight.rfm_segment(r_score, f_score, m_score) AS segment, count(*) AS customers,
       round(avg(recency_days)) AS avg_recency_days, round(avg(frequency), 1) AS avg_orders, round(avg(monetary), 2) AS avg_spend
  FROM scored GROUP BY 1 ORDER BY 2 DESC;

\echo '-- 15. Recommendations: products bought from planted tastes (one or two of eight categories a customer)'
CREATE TABLE interactions AS SELECT customer_id, product_id, quantity, interacted_on FROM insight.demo_interactions(20000, 42);
SELECT name, round((metrics->>'precision_at_k')::numeric, 3) AS precision_at_10,
       round((metrics->'baseline_popularity'->>'precision_at_k')::numeric, 3) AS popularity_precision_at_10,
       round((metrics->>'ndcg_at_k')::numeric, 3) AS ndcg_at_10
  FROM insight.train('recommendations', 'interactions', algorithm => 'als',
                     options => '{"item": "product_id", "strength": "quantity"}');
\echo '-- what three customers bought, and what they are recommended, because of which of their products'
SELECT i.customer_id, string_agg(DISTINCT i.product_id, ', ') AS bought, t.planted_taste
  FROM interactions i JOIN (SELECT DISTINCT customer_id, planted_taste FROM insight.demo_interactions(20000, 42)) t USING (customer_id)
 WHERE i.customer_id IN (1, 2, 3) GROUP BY i.customer_id, t.planted_taste ORDER BY 1;
SELECT c.customer_id, r.item AS recommended, round(r.score::numeric, 3) AS score, r.reason AS because_you_bought
  FROM (VALUES (1), (2), (3)) c(customer_id) CROSS JOIN LATERAL insight.recommend('recommendations', c.customer_id, 3) r;
\echo '-- products like coffee-01, and a time-based check: trained on the first nine months, tested on the last three'
SELECT item, round(similarity::numeric, 3) AS similarity FROM insight.similar_items('recommendations', 'coffee-01'::text, 5);
CREATE VIEW interactions_before AS SELECT * FROM interactions WHERE interacted_on < '2026-04-01';
CREATE VIEW interactions_after AS SELECT * FROM interactions WHERE interacted_on >= '2026-04-01';
SELECT name FROM insight.train('recommendations_q2', 'interactions_before', algorithm => 'als',
                               options => '{"item": "product_id", "strength": "quantity"}', deploy => 'always');
SELECT name FROM insight.train('popular_q2', 'interactions_before', algorithm => 'popularity',
                               options => '{"item": "product_id"}');
SELECT m AS model, round((e->>'precision_at_k')::numeric, 3) AS precision_at_10, round((e->>'recall_at_k')::numeric, 3) AS recall_at_10,
       round((e->>'ndcg_at_k')::numeric, 3) AS ndcg_at_10, round((e->>'coverage')::numeric, 3) AS coverage, e->>'customers' AS customers
  FROM (VALUES ('recommendations_q2'), ('popular_q2')) v(m), LATERAL insight.evaluate_recommender(m, 'interactions_after', 10) e;

\echo '-- 16. The feedback loop: next month''s customers are older and visit less. How far have they drifted?'
CREATE TABLE new_customers AS
SELECT customer_id + 1000000 AS customer_id, age + 12 AS age, region, channel, tenure_days,
       greatest(visits_30d - 3, 0) AS visits_30d, email_opens_30d, support_tickets, avg_order_value,
       days_since_last_purchase, is_member, signup_date, purchased
  FROM insight.demo_customers(10000, 43);
SELECT feature, round(psi::numeric, 3) AS psi, status
  FROM insight.drift('purchase_propensity', 'new_customers', record => true) ORDER BY psi DESC LIMIT 5;
\echo '-- they join the table (a third of it now); the nightly job (pg_cron, README "Operations") retrains once drift reaches watch (0.1), champion vs challenger'
INSERT INTO customers SELECT * FROM new_customers;
SELECT version, deployed, metrics->'retrain'->>'reason' AS why
  FROM insight.retrain('purchase_propensity', tolerance => 0.005, when_drift_above => 0.1);
\echo '-- what a dashboard charts with plain SQL: both versions on the same new test rows, and the registry'
SELECT source, version, round((metrics->>'roc_auc')::numeric, 4) AS roc_auc, metrics->>'n_test' AS test_rows
  FROM insight.evaluations WHERE name = 'purchase_propensity' ORDER BY id;
SELECT name, deployed_version, deployed_cause, drift_status FROM insight.model_registry WHERE name = 'purchase_propensity';

\echo '-- 17. Why customers are unhappy: their reviews (English and Chinese) and support tickets in one model'
CREATE TABLE reviews AS SELECT * FROM insight.demo_reviews(20000, 42);
SELECT language, review, rating FROM reviews LIMIT 6;
CREATE VIEW review_satisfaction AS
SELECT r.review, c.support_tickets, r.satisfied FROM reviews r JOIN customers c USING (customer_id);
SELECT name, algorithm, round((metrics->>'roc_auc')::numeric, 3) AS roc_auc, round((metrics->>'accuracy')::numeric, 3) AS accuracy
  FROM insight.train('satisfaction', 'review_satisfaction', target => 'satisfied', algorithm => 'text_logistic');
SELECT class, string_agg(term, ' | ' ORDER BY weight DESC) AS top_terms
  FROM insight.top_terms('satisfaction', 8) GROUP BY class ORDER BY class;
SELECT t.review, round(insight.predict_proba('satisfaction', ROW(t.review, 0))::numeric, 3) AS p_satisfied
  FROM (VALUES ('Tastes great, arrived fast.'), ('包装破损，客服不理人。'), ('Fresh beans but way too expensive')) t(review);
