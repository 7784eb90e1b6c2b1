-- Interleaved repeated timings of the serial scoring forms (scripts/bench quick).
SET max_parallel_workers_per_gather = 0;
\ir floor_expr.sql
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
