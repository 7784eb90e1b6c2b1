-- The learned purchase model recovers the drivers planted by insight.demo_customers
-- (insight.demo_truth()): same signs, magnitudes within a factor of 1.5 of the truth,
-- and noise features near zero. Coefficients are per standard deviation of the column.
SELECT name, version FROM insight.train('truth_check', 'customers', target => 'purchased', deploy => 'never');
WITH learned AS (
  SELECT key AS feature, value::float8 AS coef
    FROM jsonb_each_text(insight.model_info('truth_check@1')->'parameters'->'coefficients')
), truth AS (
  SELECT key AS feature, value::float8 AS planted FROM jsonb_each_text(insight.demo_truth()->'drivers')
), sd AS (
  -- is_member is planted per member; the model's coefficient is per standard deviation
  SELECT stddev_pop(is_member::int) AS member_sd FROM customers
)
SELECT t.feature, t.planted,
       sign(l.coef) = sign(t.planted) AS same_sign,
       (CASE WHEN t.feature = 'is_member' THEN l.coef / sd.member_sd ELSE l.coef END) / t.planted BETWEEN 0.66 AND 1.5 AS magnitude_ok
  FROM truth t JOIN learned l USING (feature), sd
 ORDER BY t.feature;
-- channel effects relative to web
WITH c AS (
  SELECT replace(key, 'channel=', '') AS channel, value::float8 AS coef
    FROM jsonb_each_text(insight.model_info('truth_check@1')->'parameters'->'coefficients')
   WHERE key LIKE 'channel=%' AND key <> 'channel=(other)'
)
SELECT c.channel, t.value::float8 AS planted_vs_web,
       abs((c.coef - w.coef) - t.value::float8) < 0.3 AS within_0_3
  FROM c JOIN c w ON w.channel = 'web'
  JOIN jsonb_each_text(insight.demo_truth()->'channel_effect_vs_web') t ON t.key = c.channel
 ORDER BY c.channel;
-- noise features carry far less weight than the weakest driver
SELECT bool_and(abs(value::float8) < 0.15) AS noise_near_zero
  FROM jsonb_each_text(insight.model_info('truth_check@1')->'parameters'->'coefficients')
 WHERE key IN ('age', 'tenure_days', 'avg_order_value') OR key LIKE 'region=%';
-- permutation importance (test split, computed at training) ranks planted drivers first and
-- gives noise columns next to nothing
SELECT bool_and(feature IN (SELECT jsonb_object_keys(insight.demo_truth()->'drivers')) OR feature = 'channel') AS top6_are_drivers
  FROM (SELECT feature FROM insight.feature_importance('truth_check@1') LIMIT 6) t;
SELECT bool_and(abs(importance) < 0.01) AS noise_unimportant
  FROM insight.feature_importance('truth_check@1')
 WHERE feature IN (SELECT jsonb_array_elements_text(insight.demo_truth()->'noise_features'));
SELECT count(*) AS columns_ranked FROM insight.feature_importance('truth_check@1');

-- planted behavioural segments (demo_behaviour): k-means and Ward each put every planted segment
-- into one segment of its own (at least 95% of its customers), five different segments
CREATE TABLE planted_behaviour AS SELECT * FROM insight.demo_behaviour(3000, 7);
SELECT name, metrics->>'k' AS k FROM insight.train('planted_km', 'planted_behaviour', algorithm => 'kmeans',
                                               exclude => ARRAY['customer_id', 'planted_segment'], options => '{"k": 5}');
SELECT name, metrics->>'k' AS k FROM insight.train('planted_ward', 'planted_behaviour', algorithm => 'agglomerative',
                                               exclude => ARRAY['customer_id', 'planted_segment'], options => '{"k": 5}');
WITH scored AS (SELECT m.model, b.planted_segment, insight.segment(m.model, b) AS seg
                  FROM (VALUES ('planted_km'), ('planted_ward')) m(model), planted_behaviour b),
     majority AS (SELECT model, planted_segment, mode() WITHIN GROUP (ORDER BY seg) AS majority
                    FROM scored GROUP BY 1, 2)
SELECT model, count(DISTINCT majority) AS distinct_segments, min(purity) >= 0.95 AS each_planted_segment_kept
  FROM (SELECT model, planted_segment, majority, avg((seg = majority)::int) AS purity
          FROM scored JOIN majority USING (model, planted_segment) GROUP BY 1, 2, 3) p
 GROUP BY model ORDER BY 1;
SELECT jsonb_array_length(insight.demo_truth()->'segments') AS planted_segments,
       (SELECT array_agg(s->>'segment' ORDER BY s->>'segment') FROM jsonb_array_elements(insight.demo_truth()->'segments') s) AS names;
