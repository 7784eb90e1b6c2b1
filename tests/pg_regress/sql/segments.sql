-- Segmentation with k-means: training without a target, the segment scorers, the metrics, and the
-- errors. The table is the reference data set of tests/reference/kmeans_reference.py (600 rows,
-- three planted blobs); with scale false the inputs are the raw columns, as scikit-learn saw them.
\pset null '(null)'
CREATE FUNCTION pg_temp.plan(q text) RETURNS SETOF text LANGUAGE plpgsql AS $f$
BEGIN
  RETURN QUERY EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || q;
END $f$;
CREATE TABLE seg_blobs AS
SELECT i, i % 3 AS blob,
       (ARRAY[0, 4, 0])[i % 3 + 1] + 1.3 * sin(((i + 1) * 2) * 0.37) * cos((i + 3) * 0.11 * 1) AS x1,
       (ARRAY[0, 4, 4])[i % 3 + 1] + 1.3 * sin(((i + 1) * 3) * 0.37) * cos((i + 3) * 0.11 * 2) AS x2,
       (ARRAY[0, 0, 4])[i % 3 + 1] + 1.3 * sin(((i + 1) * 4) * 0.37) * cos((i + 3) * 0.11 * 3) AS x3
  FROM generate_series(0, 599) i;

-- k given: scikit-learn 1.2.1 (KMeans(n_clusters=3, n_init=10, random_state=0)) reaches inertia
-- 761.0979641141 and silhouette 0.7283101628 on these rows
SELECT algorithm, deployed,
       abs((metrics->>'inertia')::float8 - 761.0979641141) < 1e-6 AS inertia_as_scikit_learn,
       round((metrics->>'silhouette')::numeric, 6) AS silhouette,
       metrics->'sizes' AS sizes, metrics->>'k' AS k, metrics->>'converged' AS converged
  FROM insight.train('seg', 'seg_blobs', algorithm => 'kmeans', features => ARRAY['x1', 'x2', 'x3'],
                     options => '{"k": 3, "scale": false}');
SELECT task, relation, target FROM insight.models WHERE name = 'seg';
-- every planted blob is one segment, and the three are different
SELECT (SELECT count(DISTINCT insight.segment('seg', b)) FROM seg_blobs b) AS segments,
       bool_and(per_blob = 1) AS one_segment_per_blob
  FROM (SELECT blob, count(DISTINCT insight.segment('seg', b)) AS per_blob FROM seg_blobs b GROUP BY blob) t;
-- predict gives the segment too; the distance to the centre is never negative
SELECT bool_and(insight.predict('seg', b) = insight.segment('seg', b)) AS predict_is_segment,
       bool_and(insight.segment_distance('seg', b) >= 0) AS distances,
       insight.segment('seg', ARRAY[0.0, 0.0, 0.0]) = insight.segment('seg', b0) AS array_form
  FROM seg_blobs b, (SELECT * FROM seg_blobs WHERE i = 0) b0 GROUP BY b0.*;
SELECT jsonb_array_length(insight.model_info('seg')->'parameters'->'centers') AS centers,
       insight.model_info('seg')->'parameters'->'segments' AS segments;
SELECT name, deployed_version, task, round(silhouette::numeric, 4) AS silhouette FROM insight.model_registry WHERE name = 'seg';

-- what the segments are: the profile holds each segment's mean of every input over its training
-- rows, in the inputs' units, as SQL computes it from the segments the model gives the rows
SELECT count(*) AS profile_rows,
       max(abs(p.mean - s.mean)) < 1e-9 AS means_as_sql,
       max(abs(p.population_mean - s.pop)) < 1e-9 AS population_as_sql,
       max(abs(p.z - (s.mean - s.pop) / s.sd)) < 1e-9 AS z_as_sql,
       bool_and(p.customers = s.n) AS sizes_as_sql, max(abs(p.share - s.n / 600.0)) < 1e-12 AS shares
  FROM insight.segment_profiles('seg') p
  JOIN (SELECT insight.segment('seg', b) AS segment, f.feature, avg(f.v) AS mean, count(*) AS n,
               (SELECT avg(v) FROM seg_blobs, LATERAL (VALUES ('x1', x1), ('x2', x2), ('x3', x3)) g(feature, v) WHERE g.feature = f.feature) AS pop,
               (SELECT stddev_pop(v) FROM seg_blobs, LATERAL (VALUES ('x1', x1), ('x2', x2), ('x3', x3)) g(feature, v) WHERE g.feature = f.feature) AS sd
          FROM seg_blobs b, LATERAL (VALUES ('x1', b.x1), ('x2', b.x2), ('x3', b.x3)) f(feature, v)
         GROUP BY 1, 2) s USING (segment, feature);
SELECT segment, customers, round(share::numeric, 4) AS share, description FROM insight.segment_summary('seg') ORDER BY segment;
SELECT segment, feature, round(center::numeric, 6) AS center FROM insight.centroids('seg') WHERE segment = 1 ORDER BY feature;
SELECT bool_and(abs(c.center - (insight.model_info('seg')->'parameters'->'centers'->(c.segment - 1)->'center'->>c.feature)::float8) < 1e-12) AS centroids_as_model_info,
       count(*) AS centroid_rows
  FROM insight.centroids('seg') c;
-- categories as shares of the segment's rows; numbers back in their units from standardised inputs
SELECT name FROM insight.train('seg_cust', 'customers', algorithm => 'kmeans',
                               features => ARRAY['region', 'channel', 'visits_30d', 'avg_order_value'], options => '{"k": 4}');
SELECT count(*) AS category_rows,
       max(abs(p.mean - s.share)) < 1e-9 AS shares_as_sql,
       max(abs(p.population_mean - s.pop)) < 1e-9 AS population_shares_as_sql
  FROM insight.segment_profiles('seg_cust') p
  JOIN (SELECT insight.segment('seg_cust', c) AS segment, 'region = ' || r.region AS feature,
               avg((c.region = r.region)::int) AS share, min(r.pop) AS pop
          FROM customers c, (SELECT region, count(*) / 5000.0 AS pop FROM customers GROUP BY region) r
         GROUP BY 1, 2) s USING (segment, feature);
-- a number's NULLs count as the value they were imputed with (the training mean here)
SELECT max(abs(p.mean - s.mean)) < 1e-9 AS scaled_numbers_in_their_units, count(*) AS segments
  FROM insight.segment_profiles('seg_cust') p
  JOIN (SELECT insight.segment('seg_cust', c) AS segment, 'avg_order_value' AS feature,
               avg(coalesce(avg_order_value::float8,
                            (insight.model_info('seg_cust')->'features'->'columns'->3->'encoding'->'Scaled'->>'fill')::float8)) AS mean
          FROM customers c GROUP BY 1) s USING (segment, feature);
SELECT try_sql($$SELECT * FROM insight.segment_profiles('purchase')$$);
SELECT try_sql($$SELECT * FROM insight.segment_summary('no_such_model')$$);
SELECT count(*) AS null_model_rows FROM insight.centroids(NULL);

-- k chosen: the silhouette of a seeded sample picks it from k_range (2 to 10), said in a NOTICE;
-- the curve is in the metrics for an elbow plot
SELECT metrics->>'k' AS k_chosen, jsonb_array_length(metrics->'k_curve') AS curve_points,
       (SELECT array_agg(p->>'k' ORDER BY (p->>'k')::int) FROM jsonb_array_elements(metrics->'k_curve') p) AS tried
  FROM insight.train('seg_auto', 'seg_blobs', algorithm => 'kmeans', features => ARRAY['x1', 'x2', 'x3']);

-- table rows reach segment and segment_distance column by column (planner rewrite), as for
-- predict; the results equal those of whole rows (a subquery is not rewritten)
SELECT regexp_replace(p, '''\d+''::oid', '<row type>', 'g') AS plan
  FROM pg_temp.plan($$SELECT insight.segment('seg', b), insight.segment_distance('seg', b) FROM seg_blobs b$$) p;
SELECT bool_and(a.s = b.s) AS same_segments, max(abs(a.d - b.d)) < 1e-12 AS same_distances, count(*) AS rows
  FROM (SELECT i, insight.segment('seg', b) AS s, insight.segment_distance('seg', b) AS d FROM seg_blobs b) a
  JOIN (SELECT i, insight.segment('seg', b) AS s, insight.segment_distance('seg', b) AS d FROM (SELECT * FROM seg_blobs OFFSET 0) b) b USING (i);
SELECT v.i, insight.segment('seg', b) IS NULL AS segment_null, insight.segment_distance('seg', b) IS NULL AS distance_null
  FROM (VALUES (1), (-1)) v(i) LEFT JOIN seg_blobs b ON b.i = v.i ORDER BY v.i;
-- the rewrite's target refuses other outputs and lying argument types
SELECT try_sql($$SELECT insight._segment_columns('seg', 0, 'seg_blobs'::regtype::oid, b.ctid, b.i, b.blob, b.x1, b.x2, b.x3) FROM seg_blobs b LIMIT 1$$);
SELECT try_sql($$SELECT insight._segment_columns('seg', 4, 'seg_blobs'::regtype::oid, b.ctid, b.i, b.blob, b.x1, b.x2, 'text') FROM seg_blobs b LIMIT 1$$);
SELECT try_sql($$SELECT insight.segment_distance('purchase', c) FROM customers c LIMIT 1$$);

-- mini-batch k-means (auto picks it from 500,000 rows on): with batches of 64 rows it still finds
-- the three blobs, within 0.5% of the full method's inertia
SELECT metrics->>'method' AS method, metrics->>'batch_size' AS batch_size, (metrics->>'steps')::int > 0 AS stepped,
       (metrics->>'inertia')::float8 < 761.0979641141 * 1.005 AS inertia_near_full
  FROM insight.train('seg_mb', 'seg_blobs', algorithm => 'kmeans', features => ARRAY['x1', 'x2', 'x3'],
                     options => '{"k": 3, "scale": false, "method": "minibatch", "batch_size": 64}');
SELECT options->>'method' AS asked, options->>'batch_size' AS batch_size, options ? 'tol' AS has_tol
  FROM insight.models WHERE name = 'seg_mb';
SELECT (SELECT count(DISTINCT insight.segment('seg_mb', b)) FROM seg_blobs b) AS segments,
       bool_and(per_blob = 1) AS one_segment_per_blob
  FROM (SELECT blob, count(DISTINCT insight.segment('seg_mb', b)) AS per_blob FROM seg_blobs b GROUP BY blob) t;
SELECT metrics->>'method' AS method, metrics ? 'iterations' AS iterations
  FROM insight.train('seg_full', 'seg_blobs', algorithm => 'kmeans', features => ARRAY['x1', 'x2', 'x3'],
                     options => '{"k": 3, "method": "full"}');

-- bulk scoring writes segment numbers
CALL insight.score_table('seg', 'seg_blobs', 'seg_scores', 'i');
SELECT count(*) AS rows, count(DISTINCT segment) AS segments,
       (SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'seg_scores'::regclass AND attname = 'segment') AS type
  FROM seg_scores;

-- what a segmentation model cannot do, and bad requests
SELECT try_sql($$SELECT insight.predict_proba('seg', b) FROM seg_blobs b LIMIT 1$$);
SELECT try_sql($$SELECT insight.predict_class('seg', b) FROM seg_blobs b LIMIT 1$$);
SELECT try_sql($$SELECT * FROM seg_blobs b, insight.explain('seg', b) LIMIT 1$$);
SELECT try_sql($$SELECT insight.evaluate('seg', 'seg_blobs')$$);
SELECT try_sql($$SELECT insight.segment('purchase', c) FROM customers c LIMIT 1$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'seg_blobs', target => 'blob', algorithm => 'kmeans')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'seg_blobs')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'seg_blobs', algorithm => 'kmeans', options => '{"k": 1}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'seg_blobs', algorithm => 'kmeans', options => '{"k": 3, "k_range": [2, 5]}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'seg_blobs', algorithm => 'kmeans', options => '{"k_range": [5, 2]}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'seg_blobs', algorithm => 'kmeans', options => '{"threshold": 0.5}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'seg_blobs', algorithm => 'kmeans', options => '{"method": "elkan"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'seg_blobs', algorithm => 'kmeans', options => '{"method": "full", "batch_size": 100}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'seg_blobs', algorithm => 'kmeans', options => '{"method": "minibatch", "tol": 0.01}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'seg_blobs', algorithm => 'kmeans', options => '{"batch_size": 0}')$$);
CREATE TABLE seg_tiny AS SELECT * FROM seg_blobs LIMIT 4;
SELECT try_sql($$SELECT * FROM insight.train('m', 'seg_tiny', algorithm => 'kmeans', features => ARRAY['x1'], options => '{"k": 5}')$$);
SELECT try_sql($$CALL insight.score_table('seg', 'seg_blobs', 'seg_scores2', 'i', output => 'score')$$);
SELECT count(*) AS models_named_m FROM insight.models WHERE name = 'm';

-- hierarchical segmentation (algorithm agglomerative): Ward by default; without k the silhouette
-- picks it from k_range, said in a NOTICE. The tree is scipy's (pure tests); here: the planted
-- blobs are found, and Ward's three segments are scikit-learn's k-means partition (same inertia)
SELECT metrics->>'k' AS k, metrics->>'linkage' AS linkage, metrics->'sizes' AS sizes,
       abs((metrics->>'inertia')::float8 - 761.0979641141) < 1e-6 AS inertia_as_kmeans,
       metrics->>'clustered_rows' AS clustered_rows, metrics->>'sampled' AS sampled,
       round((metrics->>'cut_height')::numeric, 6) AS cut_height,
       jsonb_array_length(metrics->'k_curve') AS curve_points
  FROM insight.train('hseg', 'seg_blobs', algorithm => 'agglomerative', features => ARRAY['x1', 'x2', 'x3'],
                     options => '{"scale": false}');
SELECT (SELECT count(DISTINCT insight.segment('hseg', b)) FROM seg_blobs b) AS segments,
       bool_and(per_blob = 1) AS one_segment_per_blob
  FROM (SELECT blob, count(DISTINCT insight.segment('hseg', b)) AS per_blob FROM seg_blobs b GROUP BY blob) t;
-- every linkage finds the blobs
SELECT l.linkage, t.metrics->'sizes' AS sizes
  FROM (VALUES ('average'), ('complete'), ('single')) l(linkage),
       LATERAL insight.train('hseg_' || l.linkage, 'seg_blobs', algorithm => 'agglomerative',
                             features => ARRAY['x1', 'x2', 'x3'],
                             options => jsonb_build_object('k', 3, 'linkage', l.linkage, 'scale', false)) t
 ORDER BY 1;
SELECT l.linkage, bool_and(n = 1) AS one_segment_per_blob
  FROM (VALUES ('average'), ('complete'), ('single')) l(linkage),
       LATERAL (SELECT count(DISTINCT insight.segment('hseg_' || l.linkage, b)) AS n FROM seg_blobs b GROUP BY blob) s
 GROUP BY 1 ORDER BY 1;
-- the model keeps the top of the tree: recut makes a version with another k without reading the
-- table (renamed away to prove it), not deployed unless asked. A cut into 5: scikit-learn 1.2.1's
-- AgglomerativeClustering(n_clusters=5) sizes, 200, 135, 127, 73, 65 (the profile describes the
-- clustered rows as the tree cuts them)
SELECT insight.model_info('hseg')->'parameters'->'tree'->>'recut_up_to' AS recut_up_to;
CREATE TABLE seg_blobs_copy AS SELECT * FROM seg_blobs;
ALTER TABLE seg_blobs RENAME TO seg_blobs_away;
SELECT name, version, algorithm, deployed, metrics->'sizes' AS sizes, metrics->'recut_from' AS recut_from,
       round((metrics->>'cut_height')::numeric, 6) AS cut_height
  FROM insight.recut('hseg', 5);
ALTER TABLE seg_blobs_away RENAME TO seg_blobs;
SELECT options->>'k' AS k, options ? 'k_range' AS has_k_range, deployed_version
  FROM insight.models JOIN insight.model_registry USING (name) WHERE name = 'hseg' AND version = 2;
SELECT array_agg(customers ORDER BY segment) AS profile_sizes FROM insight.segment_summary('hseg@2');
-- the same cut as training with k = 5: the same centres, so the same segments for every row
SELECT version FROM insight.train('hseg5', 'seg_blobs', algorithm => 'agglomerative', features => ARRAY['x1', 'x2', 'x3'],
                                  options => '{"k": 5, "scale": false}');
SELECT count(*) AS centres, max(abs(a.center - b.center)) < 1e-12 AS same_centres
  FROM insight.centroids('hseg@2') a JOIN insight.centroids('hseg5') b USING (segment, feature);
SELECT bool_and(insight.segment('hseg@2', b) = insight.segment('hseg5', b)) AS same_segments FROM seg_blobs b;
-- a recut of a recut, and deploying one
SELECT version, deployed, metrics->'sizes' AS sizes FROM insight.recut('hseg@2', 2, deploy => 'always');
SELECT deployed_version FROM insight.model_registry WHERE name = 'hseg';
-- what recut refuses
SELECT try_sql($$SELECT * FROM insight.recut('hseg', 1)$$);
SELECT try_sql($$SELECT * FROM insight.recut('hseg', 101)$$);
SELECT try_sql($$SELECT * FROM insight.recut('hseg', -5)$$);
SELECT try_sql($$SELECT * FROM insight.recut('seg', 4)$$);
SELECT try_sql($$SELECT * FROM insight.recut('purchase', 4)$$);
SELECT try_sql($$SELECT * FROM insight.recut('no_such_model', 4)$$);
SELECT try_sql($$SELECT * FROM insight.recut(NULL, 4)$$);
SELECT try_sql($$SELECT * FROM insight.recut('hseg', NULL)$$);
SELECT try_sql($$SELECT * FROM insight.recut('hseg', 4, deploy => 'maybe')$$);
SELECT max(version) AS hseg_versions FROM insight.models WHERE name = 'hseg';
-- above sample_limit rows a seeded sample is clustered and the other rows go to the nearest
-- centre, said in a NOTICE and in the metrics
SELECT metrics->>'sampled' AS sampled, metrics->>'clustered_rows' AS clustered_rows, metrics->'sizes' AS sizes
  FROM insight.train('hseg_sampled', 'seg_blobs', algorithm => 'agglomerative', features => ARRAY['x1', 'x2', 'x3'],
                     options => '{"k": 3, "sample_limit": 150, "scale": false}');
SELECT bool_and(per_blob = 1) AS one_segment_per_blob
  FROM (SELECT blob, count(DISTINCT insight.segment('hseg_sampled', b)) AS per_blob FROM seg_blobs b GROUP BY blob) t;
-- bad requests
SELECT try_sql($$SELECT * FROM insight.train('m', 'seg_blobs', algorithm => 'agglomerative', options => '{"linkage": "centroid"}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'seg_blobs', algorithm => 'agglomerative', options => '{"sample_limit": 50001}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'seg_blobs', algorithm => 'agglomerative', options => '{"linkage": "average", "sample_limit": 20001}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'seg_blobs', algorithm => 'agglomerative', options => '{"k": 3, "n_init": 5}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'seg_tiny', algorithm => 'agglomerative', features => ARRAY['x1'], options => '{"k": 5}')$$);
SELECT try_sql($$SELECT * FROM insight.train('m', 'seg_blobs', target => 'blob', algorithm => 'agglomerative')$$);
SELECT count(*) AS models_named_m FROM insight.models WHERE name = 'm';
