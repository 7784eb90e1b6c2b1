-- Interleaved repeated timings of the serial scoring forms (scripts/bench quick).
SET max_parallel_workers_per_gather = 0;
SELECT format('1 / (1 + exp(-(%s + %s)))',
              (p->>'intercept')::float8 - sum((p->'coefficients'->>name)::float8 * mean / scale),
              string_agg(format('%s * %I', (p->'coefficients'->>name)::float8 / scale, name), ' + '))
       AS floor_expr
  FROM (SELECT insight.model_info('bench')->'parameters' AS p, insight.model_info('bench')->'features'->'columns' AS cols) m,
       LATERAL (SELECT c->>'name' AS name, (c->'encoding'->'Scaled'->>'mean')::float8 AS mean,
                       (c->'encoding'->'Scaled'->>'scale')::float8 AS scale
                  FROM jsonb_array_elements(cols) c) f
 GROUP BY p \gset
\timing on
\o /dev/null
\echo floor
SELECT sum(:floor_expr) FROM bench_customers;
\echo row
SELECT sum(insight.predict_purchase('bench', b)) FROM bench_customers b;
\echo array
SELECT sum(insight.predict_purchase('bench', ARRAY[f1,f2,f3,f4,f5,f6,f7,f8,f9,f10,f11,f12,f13,f14,f15,f16,f17,f18,f19,f20])) FROM bench_customers;
\echo floor
SELECT sum(:floor_expr) FROM bench_customers;
\echo row
SELECT sum(insight.predict_purchase('bench', b)) FROM bench_customers b;
\echo array
SELECT sum(insight.predict_purchase('bench', ARRAY[f1,f2,f3,f4,f5,f6,f7,f8,f9,f10,f11,f12,f13,f14,f15,f16,f17,f18,f19,f20])) FROM bench_customers;
\echo floor
SELECT sum(:floor_expr) FROM bench_customers;
\echo row
SELECT sum(insight.predict_purchase('bench', b)) FROM bench_customers b;
\echo array
SELECT sum(insight.predict_purchase('bench', ARRAY[f1,f2,f3,f4,f5,f6,f7,f8,f9,f10,f11,f12,f13,f14,f15,f16,f17,f18,f19,f20])) FROM bench_customers;
