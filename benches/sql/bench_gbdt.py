#!/usr/bin/python3
"""Gradient-boosted trees benchmarks, run by scripts/bench against its throwaway cluster (database
insight_bench with pg_insight and benches/sql/setup.sql loaded: bench_customers, 1M rows x 20
float8 and a label).

1. Training 100 rounds of 31-leaf trees, 255 bins, no early stopping: insight.train (read, fit on
   80%, evaluate on the 20% held out, store) against psycopg2 fetch + scikit-learn's
   HistGradientBoostingClassifier with the same hyper-parameters (fit on 80%, predict_proba on
   20%), interleaved rounds, and the test AUC of both.
2. Scoring every row with the 100-tree model (row form, serial and 2 workers) against the floor
   of bench.py (the logistic model as a plain SQL expression) and the logistic row form.
3. TreeSHAP explanations of 10,000 rows.
Usage: bench_gbdt.py [rounds] (default 5)."""
import sys
import warnings

import numpy as np

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
FEATURES = ", ".join(f"f{i}" for i in range(1, 21))
warnings.filterwarnings("ignore")
from benchlib import cur, interleave as _interleave, q, report, sql_arm as _sql_arm

OPTIONS = '{"rounds": 100, "max_leaves": 31, "max_bins": 255, "learning_rate": 0.1, "min_samples_leaf": 20, "early_stopping": false}'


def interleave(arms, rounds=ROUNDS):
    return _interleave(arms, rounds)


def sql_arm(sql, settings="SET max_parallel_workers_per_gather = 0"):
    return _sql_arm(sql, settings)


n_rows = q("SELECT count(*) FROM bench_customers")[0][0]
print(f"## pg_insight gradient-boosted trees: {n_rows:,} rows x 20 float8, PostgreSQL {q('SHOW server_version')[0][0]}")
auc = {}


def insight_train():
    r = q(f"SELECT metrics->>'roc_auc' FROM insight.train('bench_gbdt', 'bench_customers', target => 'label', "
          f"algorithm => 'gbdt', exclude => ARRAY['id'], options => '{OPTIONS}', deploy => 'always')")
    auc["pg_insight"] = float(r[0][0])


def sklearn_hgb():
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    cur.execute(f"SELECT {FEATURES}, label FROM bench_customers")
    data = np.array(cur.fetchall(), dtype=float)
    rng = np.random.default_rng(42)
    test = rng.uniform(size=len(data)) < 0.2
    m = HistGradientBoostingClassifier(max_iter=100, max_leaf_nodes=31, max_bins=255, learning_rate=0.1,
                                       min_samples_leaf=20, early_stopping=False)
    m.fit(data[~test, :20], data[~test, 20])
    auc["scikit-learn"] = roc_auc_score(data[test, 20], m.predict_proba(data[test, :20])[:, 1])


report(f"Training gbdt, 100 rounds x 31 leaves, on {n_rows:,} rows (80% fit, 20% evaluated)", interleave([
    ("insight.train(algorithm => 'gbdt')", insight_train),
    ("psycopg2 fetch + scikit-learn 1.2 HistGradientBoostingClassifier", sklearn_hgb),
], max(1, min(ROUNDS, 3))), base="insight.train(algorithm => 'gbdt')")
print(f"\ntest AUC: pg_insight {auc['pg_insight']:.4f}, scikit-learn {auc['scikit-learn']:.4f} (different random 20%)")

# scoring: the floor is bench.py's plain SQL logistic expression of a logistic model
q("SELECT * FROM insight.train('bench', 'bench_customers', target => 'label', exclude => ARRAY['id'], deploy => 'always')")
floor = q(open("benches/sql/floor_expr.sql").read().replace("\\gset", ""))[0][0]
parallel = "SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0"
report(f"Scoring {n_rows:,} rows: 100 trees x 31 leaves vs the logistic floor", interleave([
    ("floor: plain SQL logistic expression", sql_arm(f"SELECT sum({floor}) FROM bench_customers")),
    ("logistic row form `predict_purchase('bench', b)`", sql_arm("SELECT sum(insight.predict_purchase('bench', b)) FROM bench_customers b")),
    ("gbdt row form `predict_purchase('bench_gbdt', b)`", sql_arm("SELECT sum(insight.predict_purchase('bench_gbdt', b)) FROM bench_customers b")),
    ("gbdt row form, 2 parallel workers", sql_arm("SELECT sum(insight.predict_purchase('bench_gbdt', b)) FROM bench_customers b", parallel)),
]), base="floor: plain SQL logistic expression")

report("TreeSHAP: insight.explain of 10,000 rows (100 trees, 20 inputs) vs scoring them", interleave([
    ("gbdt row form on 10,000 rows", sql_arm("SELECT sum(insight.predict_purchase('bench_gbdt', b)) FROM bench_customers b WHERE id <= 10000")),
    ("insight.explain on 10,000 rows", sql_arm("SELECT sum(e.contribution) FROM bench_customers b, insight.explain('bench_gbdt', b) e WHERE b.id <= 10000")),
]), base="gbdt row form on 10,000 rows")
