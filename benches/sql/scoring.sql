-- Scoring 1M rows x 20 features, serial: the plain-SQL floor vs pg_insight's row and array forms
-- (and PL/Python + scikit-learn on the first :plpy_rows rows). Run by scripts/bench.
SET max_parallel_workers_per_gather = 0;
\timing on
\echo '== train (pg_insight logistic on all rows)'
SELECT name, version, (metrics->>'roc_auc')::numeric(5,4) AS auc, (metrics->>'train_seconds')::numeric(8,2) AS seconds
  FROM insight.train('bench', 'bench_customers', target => 'label', exclude => ARRAY['id'], deploy => 'always');
-- the same model as a plain SQL expression, in raw units (coef / scale, intercept shifted by means)
\ir floor_expr.sql
-- three rounds, interleaved, so machine noise hits every form alike; compare the minimums
\echo '== serial scoring: floor / row form / array form, three rounds'
SELECT sum(:floor_expr) AS floor FROM bench_customers;
SELECT sum(insight.predict_purchase('bench', b)) AS row_form FROM bench_customers b;
SELECT sum(insight.predict_purchase('bench', ARRAY[f1,f2,f3,f4,f5,f6,f7,f8,f9,f10,f11,f12,f13,f14,f15,f16,f17,f18,f19,f20])) AS array_form FROM bench_customers;
SELECT sum(:floor_expr) AS floor FROM bench_customers;
SELECT sum(insight.predict_purchase('bench', b)) AS row_form FROM bench_customers b;
SELECT sum(insight.predict_purchase('bench', ARRAY[f1,f2,f3,f4,f5,f6,f7,f8,f9,f10,f11,f12,f13,f14,f15,f16,f17,f18,f19,f20])) AS array_form FROM bench_customers;
SELECT sum(:floor_expr) AS floor FROM bench_customers;
SELECT sum(insight.predict_purchase('bench', b)) AS row_form FROM bench_customers b;
SELECT sum(insight.predict_purchase('bench', ARRAY[f1,f2,f3,f4,f5,f6,f7,f8,f9,f10,f11,f12,f13,f14,f15,f16,f17,f18,f19,f20])) AS array_form FROM bench_customers;
\echo '== parallel: row form with 2 workers'
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SELECT sum(insight.predict_purchase('bench', b)) AS row_form_2_workers FROM bench_customers b;
SELECT sum(insight.predict_purchase('bench', b)) AS row_form_2_workers FROM bench_customers b;
SET max_parallel_workers_per_gather = 0;
\echo '== PL/Python + scikit-learn (what users do today), first :plpy_rows rows'
CREATE EXTENSION IF NOT EXISTS plpython3u;
CREATE OR REPLACE FUNCTION bench_sk_predict(x float8[]) RETURNS float8 LANGUAGE plpython3u STABLE AS $py$
if 'model' not in GD:
    import json, numpy as np
    from sklearn.linear_model import LogisticRegression
    info = json.loads(plpy.execute("SELECT insight.model_info('bench')::text AS j")[0]['j'])
    cols = info['features']['columns']
    p = info['parameters']
    coef = np.array([p['coefficients'][c['name']] / c['encoding']['Scaled']['scale'] for c in cols])
    b = p['intercept'] - sum(p['coefficients'][c['name']] * c['encoding']['Scaled']['mean'] / c['encoding']['Scaled']['scale'] for c in cols)
    m = LogisticRegression()
    m.classes_ = np.array([False, True]); m.coef_ = coef.reshape(1, -1); m.intercept_ = np.array([b])
    GD['model'] = m; GD['np'] = np
return float(GD['model'].predict_proba(GD['np'].array(x).reshape(1, -1))[0, 1])
$py$;
SELECT sum(bench_sk_predict(ARRAY[f1,f2,f3,f4,f5,f6,f7,f8,f9,f10,f11,f12,f13,f14,f15,f16,f17,f18,f19,f20])) FROM bench_customers WHERE id <= :plpy_rows;
SELECT sum(insight.predict_purchase('bench', b)) FROM bench_customers b WHERE id <= :plpy_rows;
SELECT sum(:floor_expr) FROM bench_customers WHERE id <= :plpy_rows;
