-- MLP(64, 32) on 1M x 20: training 5 epochs, serial row-form scoring vs the plain-SQL logistic
-- floor, bulk scoring with score_table, parallel scoring, and the training backend's peak memory.
-- Run by scripts/bench after scoring.sql (which leaves the 'bench' logistic model).
SET max_parallel_workers_per_gather = 0;
\timing on
\echo '== train mlp(64,32), 5 epochs, batch 32, on all rows'
SELECT name, version, (metrics->>'roc_auc')::numeric(5,4) AS auc, (metrics->>'train_seconds')::numeric(8,2) AS seconds
  FROM insight.train('bench_mlp', 'bench_customers', target => 'label', algorithm => 'mlp', exclude => ARRAY['id'],
                     options => '{"epochs": 5, "early_stopping": false}', deploy => 'always');
SELECT (substring(pg_read_file('/proc/self/status') from 'VmHWM:\s+(\d+)')::bigint / 1024) AS training_backend_peak_mb;
\ir floor_expr.sql
\echo '== serial scoring: logistic floor / mlp row form, three rounds'
SELECT sum(:floor_expr) AS floor FROM bench_customers;
SELECT sum(insight.predict_purchase('bench_mlp', b)) AS mlp_row_form FROM bench_customers b;
SELECT sum(:floor_expr) AS floor FROM bench_customers;
SELECT sum(insight.predict_purchase('bench_mlp', b)) AS mlp_row_form FROM bench_customers b;
SELECT sum(:floor_expr) AS floor FROM bench_customers;
SELECT sum(insight.predict_purchase('bench_mlp', b)) AS mlp_row_form FROM bench_customers b;
\echo '== parallel: mlp row form with 2 workers, interleaved with serial runs, three rounds'
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET max_parallel_workers_per_gather = 2;
SELECT sum(insight.predict_purchase('bench_mlp', b)) AS mlp_2_workers FROM bench_customers b;
SET max_parallel_workers_per_gather = 0;
SELECT sum(insight.predict_purchase('bench_mlp', b)) AS mlp_serial FROM bench_customers b;
SET max_parallel_workers_per_gather = 2;
SELECT sum(insight.predict_purchase('bench_mlp', b)) AS mlp_2_workers FROM bench_customers b;
SET max_parallel_workers_per_gather = 0;
SELECT sum(insight.predict_purchase('bench_mlp', b)) AS mlp_serial FROM bench_customers b;
SET max_parallel_workers_per_gather = 2;
SELECT sum(insight.predict_purchase('bench_mlp', b)) AS mlp_2_workers FROM bench_customers b;
SET max_parallel_workers_per_gather = 0;
SELECT sum(insight.predict_purchase('bench_mlp', b)) AS mlp_serial FROM bench_customers b;
\echo '== score_table: all rows into a new table'
DROP TABLE IF EXISTS bench_scores;
CALL insight.score_table('bench_mlp', 'bench_customers', 'bench_scores', 'id');
SELECT (substring(pg_read_file('/proc/self/status') from 'VmHWM:\s+(\d+)')::bigint / 1024) AS backend_peak_mb_after_score_table;
